#!/usr/bin/env bash
# Release test: proves the static release binary runs with no Swift library reachable.
#
#   Tests/release/test-release.sh [--skip-build] [--no-bookworm] [--binary PATH]
#
#   --skip-build    test the existing .build/release/caal-llm-worker instead of running build-release.sh
#   --binary PATH   test this binary (implies --skip-build)
#   --no-bookworm   skip the Debian 12 root made with debootstrap (saves ~30-60 s the first time)
#
# Environment: RELEASE_ROOTFS (default <repo>/.build-rootfs/bookworm; made once, then reused),
#              DEBIAN_MIRROR (default: the first Debian URI in apt's sources, else http://deb.debian.org/debian).
#
# Needs root (chroot, mount namespaces), python3, and on Debian installs debootstrap when absent.
# Not part of `swift test`: it needs a release build. Prints "N passed, M failed" last; exits non-zero
# on any failure.
#
# Where the binary is run, each time with an empty environment (env -i: no PATH, no LD_LIBRARY_PATH):
#   1. host-hidden:  on this machine, in a private mount namespace where the toolchain's library
#                    directories (<toolchain>/usr/lib/swift, swift_static) are covered by empty tmpfs.
#   2. bare-root:    a chroot that holds nothing but the binary and the exact files `ldd` lists
#                    (glibc, libstdc++, libgcc_s, libcurl and its dependencies), plus /proc.
#   3. bookworm:     a minimal Debian 12 root (debootstrap --variant=minbase, plus libcurl4 and python3),
#                    the closest thing to CAAL's python:3.11-slim-bookworm image that runs here; the
#                    binary goes to /usr/local/bin as in the README's Dockerfile, and CAAL's Python client
#                    (protocol/python) finds it there through CAAL_LLM_WORKER.
# In each: --version, ping, a chatStream from the mock provider, and a chatStream through the
# openai_compatible provider from a Server-Sent-Events stub on 127.0.0.1 (skipped while that provider is
# not implemented in the build).
set -uo pipefail

skip_build=0
bookworm=1
binary=""
while [ $# -gt 0 ]; do
    case "$1" in
        --skip-build) skip_build=1 ;;
        --binary) binary="${2:?--binary needs a path}"; skip_build=1; shift ;;
        --binary=*) binary="${1#--binary=}"; skip_build=1 ;;
        --no-bookworm) bookworm=0 ;;
        -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "test-release.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo/Tests/release"
cd "$repo"

passed=0
failed=0
skipped=0
pass() { passed=$((passed + 1)); echo "PASS  $1${2:+: $2}"; }
fail() { failed=$((failed + 1)); echo "FAIL  $1${2:+: $2}"; }
skip() { skipped=$((skipped + 1)); echo "SKIP  $1${2:+: $2}"; }
finish() {
    echo
    if [ "$skipped" -gt 0 ]; then
        echo "$passed passed, $failed failed, $skipped skipped"
    else
        echo "$passed passed, $failed failed"
    fi
    [ "$failed" -eq 0 ]
    exit $?
}

if [ "$(id -u)" != 0 ]; then
    echo "test-release.sh: needs root (chroot and mount namespaces)" >&2
    fail "running as root"
    finish
fi
if ! command -v python3 >/dev/null 2>&1; then
    fail "python3 available" "the checks and the HTTP stub are Python scripts"
    finish
fi

# The version is written in one place in the source; everything the binary reports must match it.
version="$(sed -n 's/.*static let current = "\([^"]*\)".*/\1/p' Sources/LLMWorker/Worker/WorkerVersion.swift | head -n1)"
if [ -z "$version" ]; then
    fail "reading WorkerVersion.current from the source"
    finish
fi

# ---------------------------------------------------------------- build
started=$(date +%s)
if [ "$skip_build" = 0 ]; then
    echo "==> Tests/release/build-release.sh"
    if "$here/build-release.sh" > /tmp/caal-release-build.$$.log 2>&1; then
        sed -n '/^build time:/,$p' /tmp/caal-release-build.$$.log
        pass "release build" "$(sed -n 's/^build time: *//p' /tmp/caal-release-build.$$.log)"
    else
        tail -n 40 /tmp/caal-release-build.$$.log
        fail "release build" "see the output above"
        rm -f /tmp/caal-release-build.$$.log
        finish
    fi
    rm -f /tmp/caal-release-build.$$.log
fi
if [ -z "$binary" ]; then
    binary="$(swift build -c release --static-swift-stdlib --show-bin-path 2>/dev/null)/caal-llm-worker"
fi
if [ ! -x "$binary" ]; then
    fail "release binary exists" "$binary is not there: run Tests/release/build-release.sh"
    finish
fi
binary="$(readlink -f "$binary")"
echo "==> testing $binary ($(stat -c %s "$binary") bytes), expecting version $version"

work="$(mktemp -d /tmp/caal-release-test.XXXXXX)"
stub_pid=""
cleanup() {
    [ -n "$stub_pid" ] && kill "$stub_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# ---------------------------------------------------------------- what the binary links
toolchain=""
if command -v swift >/dev/null 2>&1; then
    toolchain="$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")"   # e.g. /opt/swift/usr
fi
ldd_out="$(ldd "$binary" 2>&1)"
echo "ldd:"; echo "$ldd_out" | sed 's/^/    /'
swift_libs="$(echo "$ldd_out" | grep -E 'libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime|libXCTest|libTesting' || true)"
if [ -z "$swift_libs" ]; then pass "ldd lists no Swift library"; else fail "ldd lists no Swift library" "$swift_libs"; fi
if echo "$ldd_out" | grep -q "not found"; then fail "ldd resolves every library" "$(echo "$ldd_out" | grep 'not found')"; else pass "ldd resolves every library"; fi
if [ -n "$toolchain" ] && echo "$ldd_out" | grep -q -F "$toolchain"; then
    fail "nothing resolves into the toolchain ($toolchain)"
else
    pass "nothing resolves into the toolchain" "${toolchain:-no toolchain on PATH}"
fi
# SwiftPM links every executable with RUNPATH $ORIGIN (libraries beside the binary); nothing else is allowed,
# in particular no path into the toolchain.
runpath="$(readelf -d "$binary" 2>/dev/null | sed -n 's/.*(\(RPATH\|RUNPATH\)).*\[\(.*\)\]/\2/p' | tr ':' '\n' | grep -v -x -F '$ORIGIN' || true)"
if [ -z "$runpath" ]; then
    pass "no RPATH/RUNPATH other than \$ORIGIN"
else
    fail "no RPATH/RUNPATH other than \$ORIGIN" "$(echo $runpath)"
fi
# The fuzz entry points are internal to the library and the worker never calls them: the release build leaves them
# out (Tests/Fuzz/README.md). A binary without a symbol table cannot show it either way.
symbols="$(nm "$binary" 2>/dev/null || true)"
if [ -z "$symbols" ]; then
    skip "holds no fuzz entry point" "nm lists no symbols (a stripped binary?)"
elif fuzz_symbols="$(echo "$symbols" | grep -c FuzzEntryPoints)"; then
    fail "holds no fuzz entry point" "nm lists $fuzz_symbols FuzzEntryPoints symbols"
else
    pass "holds no fuzz entry point" "none among $(echo "$symbols" | wc -l) symbols"
fi
# What a slim Debian image with libcurl4 provides. libxml2 (FoundationXML) is not in CAAL's image.
allowed='^(libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libutil\.so\.1|libstdc\+\+\.so\.6|libgcc_s\.so\.1|ld-linux-[-a-z0-9_]+\.so\.[0-9]+|libcurl\.so\.4)$'
needed="$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
unexpected="$(echo "$needed" | grep -v -E "$allowed" || true)"
if [ -z "$unexpected" ]; then
    pass "direct dependencies are all in a slim Debian image with libcurl4" "$(echo $needed)"
else
    fail "direct dependencies are all in a slim Debian image with libcurl4" "unexpected: $(echo $unexpected)"
fi

# ---------------------------------------------------------------- the HTTP stub on 127.0.0.1
stub_port=""
python3 "$here/sse_stub.py" --lifetime 900 > "$work/stub.port" 2> "$work/stub.log" &
stub_pid=$!
for _ in $(seq 1 50); do
    stub_port="$(head -n1 "$work/stub.port" 2>/dev/null)"
    [ -n "$stub_port" ] && break
    sleep 0.1
done
if [ -z "$stub_port" ]; then
    fail "SSE stub starts on 127.0.0.1" "$(cat "$work/stub.log")"
    finish
fi
base_url="http://127.0.0.1:$stub_port/v1"

# Runs the four scenarios against one way of starting the worker (a command that takes worker arguments).
scenarios() {
    local where="$1"; shift
    local scenario out status
    for scenario in version ping mock-stream http-stream; do
        out="$(python3 "$here/release_check.py" "$scenario" --version "$version" --base-url "$base_url" -- "$@" 2>&1)"
        status=$?
        case $status in
            0) pass "$where: $scenario" "$out" ;;
            77) skip "$where: $scenario" "${out#skipped: }" ;;
            *) fail "$where: $scenario" "${out#failed: }" ;;
        esac
    done
}

# ---------------------------------------------------------------- 1. this host, toolchain hidden
cp "$binary" "$work/caal-llm-worker"
hide=()
if [ -n "$toolchain" ]; then
    for dir in "$toolchain/lib/swift" "$toolchain/lib/swift_static"; do
        [ -d "$dir" ] && hide+=("$dir")
    done
fi
cat > "$work/run-host-hidden" <<EOF
#!/bin/sh
# Private mount namespace: empty tmpfs over the toolchain's libraries; empty environment.
exec env -i /usr/bin/unshare -m /bin/sh -c 'for d in ${hide[*]}; do mount -t tmpfs none "\$d" || exit 97; done; exec "\$0" "\$@"' "$work/caal-llm-worker" "\$@"
EOF
chmod +x "$work/run-host-hidden"
if [ ${#hide[@]} -gt 0 ]; then
    seen="$(env -i /usr/bin/unshare -m /bin/sh -c "for d in ${hide[*]}; do mount -t tmpfs none \$d || exit 97; done; ls -A ${hide[*]} | grep -c -E 'libswift|libFoundation' || true" 2>&1)"
    if [ "$seen" = 0 ]; then pass "host-hidden: the toolchain's libraries are not visible" "${hide[*]}"; else fail "host-hidden: the toolchain's libraries are not visible" "$seen"; fi
else
    skip "host-hidden: hiding the toolchain" "no Swift toolchain found on PATH, nothing to hide"
fi
scenarios host-hidden "$work/run-host-hidden"

# ---------------------------------------------------------------- 2. a root with only the binary and ldd's files
bare="$work/bare-root"
mkdir -p "$bare/proc" "$bare/tmp"
cp "$binary" "$bare/caal-llm-worker"
copied=()
while read -r lib; do
    [ -e "$lib" ] || continue
    mkdir -p "$bare$(dirname "$lib")"
    cp -L "$lib" "$bare$lib"
    copied+=("$lib")
done < <(echo "$ldd_out" | awk '/=> \// { print $3 } /^[[:space:]]*\// { print $1 }')
cat > "$work/run-bare-root" <<EOF
#!/bin/sh
# Private mount namespace with /proc mounted in the root (Foundation's Bundle.main reads /proc/self/exe;
# every container has /proc), then chroot; empty environment.
exec env -i /usr/bin/unshare -m /bin/sh -c 'mount -t proc proc "\$0/proc" || exit 97; exec /usr/sbin/chroot "\$0" /caal-llm-worker "\$@"' "$bare" "\$@"
EOF
chmod +x "$work/run-bare-root"
files_in_bare="$(cd "$bare" && find . -type f | sort | tr '\n' ' ')"
if (cd "$bare" && find . -type f | grep -q -E 'libswift|libFoundation|lib_Foundation|libdispatch'); then
    fail "bare-root: holds no Swift library" "$files_in_bare"
else
    pass "bare-root: holds no Swift library" "${#copied[@]} libraries + the binary: $files_in_bare"
fi
scenarios bare-root "$work/run-bare-root"

# ---------------------------------------------------------------- 3. a minimal Debian 12 (bookworm) root
if [ "$bookworm" = 1 ]; then
    rootfs="${RELEASE_ROOTFS:-$repo/.build-rootfs/bookworm}"
    if [ ! -f "$rootfs/.caal-rootfs-complete" ]; then
        mirror="${DEBIAN_MIRROR:-}"
        if [ -z "$mirror" ]; then
            mirror="$(grep -h -o -E '^(URIs: *|deb +)https?://[^ ]*/debian/?( |$)' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
                      | head -n1 | sed -E 's/^(URIs: *|deb +)//; s/ *$//')"
            mirror="${mirror:-http://deb.debian.org/debian}"
        fi
        if ! command -v debootstrap >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
            echo "==> installing debootstrap"
            (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq debootstrap) > "$work/apt.log" 2>&1 \
                || tail -n 20 "$work/apt.log"
        fi
        if command -v debootstrap >/dev/null 2>&1; then
            echo "==> debootstrap --variant=minbase --include=libcurl4,python3 bookworm $rootfs $mirror"
            rm -rf "$rootfs"
            mkdir -p "$(dirname "$rootfs")"
            t0=$(date +%s)
            if debootstrap --variant=minbase --include=libcurl4,python3 bookworm "$rootfs" "$mirror" > "$work/debootstrap.log" 2>&1; then
                touch "$rootfs/.caal-rootfs-complete"
                pass "bookworm: debootstrap a minimal Debian 12 root" "$(( $(date +%s) - t0 )) s, $(du -sh "$rootfs" | cut -f1)"
            else
                tail -n 20 "$work/debootstrap.log"
                fail "bookworm: debootstrap a minimal Debian 12 root" "see the log above"
            fi
        else
            fail "bookworm: debootstrap available" "install Debian's debootstrap package, or pass --no-bookworm"
        fi
    else
        pass "bookworm: reusing the Debian 12 root" "$rootfs"
    fi

    if [ -f "$rootfs/.caal-rootfs-complete" ]; then
        install -m 0755 "$binary" "$rootfs/usr/local/bin/caal-llm-worker"
        rm -rf "$rootfs/opt/caal-client"
        mkdir -p "$rootfs/opt/caal-client"
        cp -r "$repo/protocol/python/caal_llm_worker" "$rootfs/opt/caal-client/"
        find "$rootfs/opt/caal-client" -name __pycache__ -prune -exec rm -rf {} +
        swift_in_root="$(find "$rootfs" -xdev \( -name 'libswift*' -o -name 'libFoundation*' -o -name 'lib_Foundation*' -o -name 'libdispatch*' -o -name 'swift*' -type d \) -print 2>/dev/null | head -n5)"
        if [ -z "$swift_in_root" ]; then
            pass "bookworm: no Swift library or directory anywhere in the root" "$(. "$rootfs/etc/os-release"; echo "$PRETTY_NAME"), $(chroot "$rootfs" dpkg-query -W -f='${Package} ${Version}' libcurl4 2>/dev/null)"
        else
            fail "bookworm: no Swift library or directory anywhere in the root" "$swift_in_root"
        fi
        cat > "$work/run-bookworm" <<EOF
#!/bin/sh
exec env -i /usr/bin/unshare -m /bin/sh -c 'mount -t proc proc "\$0/proc" || exit 97; exec /usr/sbin/chroot "\$0" /usr/local/bin/caal-llm-worker "\$@"' "$rootfs" "\$@"
EOF
        chmod +x "$work/run-bookworm"
        scenarios bookworm "$work/run-bookworm"

        # CAAL's side: the Python client finds the binary through CAAL_LLM_WORKER and streams through it.
        client_out="$(env -i /usr/bin/unshare -m /bin/sh -c 'mount -t proc proc "$0/proc" || exit 97; exec /usr/sbin/chroot "$0" /usr/bin/env -i CAAL_LLM_WORKER=/usr/local/bin/caal-llm-worker PYTHONPATH=/opt/caal-client HOME=/root /usr/bin/python3 -c "
import asyncio
from caal_llm_worker import WorkerClient, find_worker_binary
async def main():
    path = find_worker_binary()
    async with WorkerClient() as client:
        ping = await client.ping()
        await client.configure(provider=\"mock\")
        result = await client.chat(messages=[{\"role\": \"user\", \"content\": \"hello there\"}])
    print(path, ping[\"version\"], repr(result[\"content\"]))
asyncio.run(main())
"' "$rootfs" 2>&1)"
        expected_client="/usr/local/bin/caal-llm-worker $version 'You said: hello there'"
        if [ "$client_out" = "$expected_client" ]; then
            pass "bookworm: CAAL's Python client finds the worker via CAAL_LLM_WORKER and chats" "$client_out"
        else
            fail "bookworm: CAAL's Python client finds the worker via CAAL_LLM_WORKER and chats" "$(echo "$client_out" | tail -n 5)"
        fi
    fi
else
    skip "bookworm" "--no-bookworm"
fi

echo
echo "total time: $(( $(date +%s) - started )) s"
finish
