#!/usr/bin/env bash
# Release build of caal-llm-worker: one executable with the Swift runtime, Dispatch and Foundation
# (including FoundationNetworking and its ICU data) linked in statically. At run time it needs only
# glibc, libstdc++, libgcc_s and, once the HTTP providers use URLSession, libcurl: what a slim Debian
# image with libcurl4 has (CAAL's python:3.11-slim-bookworm image).
#
#   Tests/release/build-release.sh [--no-install] [--strip] [--output DIR] [-- EXTRA SWIFT BUILD ARGS]
#
#   --no-install   do not install missing build packages (by default, as root on Debian/Ubuntu, they
#                  are installed with apt-get, and only when absent)
#   --strip        strip the symbol table from the copy written with --output (about 15 MB smaller;
#                  crash backtraces then show addresses instead of names)
#   --output DIR   also copy the binary to DIR/caal-llm-worker (e.g. for a Docker builder stage)
#
# Prints the Swift version, the build time, the binary's path, size and `ldd` output. The build
# itself is `swift build -c release --static-swift-stdlib` (the same as `-Xswiftc -static-stdlib`).
set -euo pipefail

install=1
strip_copy=0
output=""
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-install) install=0 ;;
        --strip) strip_copy=1 ;;
        --output) output="${2:?--output needs a directory}"; shift ;;
        --output=*) output="${1#--output=}" ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-release.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$strip_copy" = 1 ] && [ -z "$output" ]; then
    echo "build-release.sh: --strip applies to the copy made with --output DIR" >&2
    exit 2
fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"

if ! command -v swift >/dev/null 2>&1; then
    echo "build-release.sh: swift is not on PATH (a Swift 6 toolchain is needed to build)" >&2
    exit 1
fi

# What the static link needs beyond the toolchain itself:
#   libcurl4-openssl-dev  libFoundationNetworking.a calls libcurl; the link needs libcurl.so (-lcurl).
#                         Not needed while nothing imports FoundationNetworking, but the HTTP providers do.
#   binutils              readelf/strip, used below (the toolchain needs ld's friends anyway)
needed_packages=(libcurl4-openssl-dev binutils)
if command -v dpkg-query >/dev/null 2>&1; then
    missing=()
    for package in "${needed_packages[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$package")
        fi
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$install" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "==> installing build packages: ${missing[*]}"
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        else
            echo "build-release.sh: missing packages: ${missing[*]}" >&2
            echo "  install them with: apt-get install ${missing[*]}  (as root), or run without --no-install as root" >&2
            exit 1
        fi
    fi
else
    echo "==> not a Debian system: make sure libcurl's development files are installed (-lcurl must link)" >&2
fi

echo "==> $(swift --version 2>/dev/null | head -n1)"
build=(swift build -c release --static-swift-stdlib ${extra[@]+"${extra[@]}"})
echo "==> ${build[*]}"
start=$(date +%s.%N)
"${build[@]}"
end=$(date +%s.%N)
seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')

bin_dir="$("${build[@]}" --show-bin-path)"
binary="$bin_dir/caal-llm-worker"
if [ ! -x "$binary" ]; then
    echo "build-release.sh: the build did not produce $binary" >&2
    exit 1
fi

size_of() { stat -c %s "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

echo
echo "build time: ${seconds} s"
echo "binary:     $binary"
echo "size:       $(size_of "$binary") bytes ($(mib "$(size_of "$binary")"))"
echo "version:    $("$binary" --version)"
echo "ldd:"
ldd "$binary" | sed 's/^/    /'
if command -v readelf >/dev/null 2>&1; then
    echo "needed (direct):"
    readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/    \1/p'
fi
if ldd "$binary" | grep -E -q 'libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime|not found'; then
    echo "build-release.sh: the binary still needs a Swift library (or one is missing): see ldd above" >&2
    exit 1
fi

if [ -n "$output" ]; then
    mkdir -p "$output"
    cp "$binary" "$output/caal-llm-worker"
    if [ "$strip_copy" = 1 ]; then
        strip "$output/caal-llm-worker"
    fi
    echo "copied to:  $output/caal-llm-worker ($(size_of "$output/caal-llm-worker") bytes, $(mib "$(size_of "$output/caal-llm-worker")")$([ "$strip_copy" = 1 ] && echo ", stripped"))"
fi
