#!/usr/bin/env bash
# Builds a libFuzzer target and runs it. Usage:
#   bash Tests/Fuzz/run.sh line|sse|http [SECONDS] [extra libFuzzer options...]
# The working corpus grows in fuzz-corpus-<target>/ (git-ignored), seeded from Tests/Fuzz/seeds/<target>/;
# crash inputs land in fuzz-corpus-<target>-crashes/. Replay one with the debug build:
#   swift build && .build/debug/FuzzLineParser fuzz-corpus-line-crashes/crash-...
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
  line) product=FuzzLineParser; seeds=protocol; dict=Tests/Fuzz/protocol.dict ;;
  sse)  product=FuzzSSEParser;  seeds=sse;      dict=Tests/Fuzz/sse.dict ;;
  http) product=FuzzHTTPResponse; seeds=http;   dict=Tests/Fuzz/http.dict ;;
  *) echo "usage: $0 line|sse|http [SECONDS] [libFuzzer options...]" >&2; exit 2 ;;
esac
target=$1
seconds=${2:-300}
shift $(( $# >= 2 ? 2 : 1 ))
swift build -c debug --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING --product "$product" 2>&1 \
  | grep -v "Cannot export local symbol" || true
corpus="fuzz-corpus-$target"
crashes="fuzz-corpus-$target-crashes"
mkdir -p "$corpus" "$crashes"
# Swift's own crash backtracer trips AddressSanitizer after a failed precondition: leave crashes to libFuzzer.
export SWIFT_BACKTRACE=enable=no
exec ".build-fuzz/debug/$product" -max_total_time="$seconds" -dict="$dict" -max_len=16384 -timeout=10 -rss_limit_mb=4096 \
  -artifact_prefix="$crashes/" -print_final_stats=1 "$@" "$corpus" "Tests/Fuzz/seeds/$seeds"
