#!/usr/bin/env bash
# Runs every test of the repository: builds the worker, runs the Swift tests (XCTest, including the
# end-to-end tests that drive the built binary), then the Python client's tests. Exits non-zero if
# anything fails and ends with one summary line: "N passed, M failed".
# Usage (from anywhere): bash Tests/run-all.sh
set -uo pipefail

cd "$(dirname "$0")/.."
log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT

passed=0
failed=0
status=0

# count_step NAME EXIT_CODE PASSED FAILED: adds a step's counts; a step that failed without a failing
# test to show for it (a build error, a crash) counts as one failure.
count_step() {
    local name=$1 code=$2 step_passed=$3 step_failed=$4
    if [ "$code" -ne 0 ] && [ "$step_failed" -eq 0 ]; then
        echo "run-all: $name exited with status $code" >&2
        step_failed=1
    fi
    passed=$((passed + step_passed))
    failed=$((failed + step_failed))
    if [ "$code" -ne 0 ] || [ "$step_failed" -ne 0 ]; then status=1; fi
}

echo "== swift build"
swift build
build_code=$?
count_step "swift build" "$build_code" 0 0

if [ "$build_code" -eq 0 ]; then
    echo "== swift test"
    swift test 2>&1 | tee "$log_dir/swift-test.log"
    test_code=${PIPESTATUS[0]}
    # XCTest prints "Test Case '…' passed (…)" per test; Swift Testing prints "✔ Test … passed after …" per
    # test and a "Test run with N tests …" summary line, which is not a test.
    count_lines() { grep -E "$1" "$log_dir/swift-test.log" | grep -cvE "^(✔|✘) Test run with "; }
    swift_passed=$(count_lines "^Test Case '.*' passed \(|^✔ Test .* passed after")
    swift_failed=$(count_lines "^Test Case '.*' failed \(|^✘ Test .* failed after")
    count_step "swift test" "$test_code" "$swift_passed" "$swift_failed"
fi

if [ -d protocol/python/tests ]; then
    echo "== python client tests"
    python3 -m unittest discover -s protocol/python/tests -t protocol/python -v 2>&1 | tee "$log_dir/python.log"
    python_code=${PIPESTATUS[0]}
    # unittest ends with "Ran N tests" and "OK" or "FAILED (failures=F, errors=E, skipped=S, …)".
    summary_count() { grep -oE "(\(|, )$1=[0-9]+" "$log_dir/python.log" | tail -1 | grep -oE "[0-9]+" || echo 0; }
    ran=$(grep -oE "^Ran [0-9]+ test" "$log_dir/python.log" | tail -1 | grep -oE "[0-9]+" || echo 0)
    python_failed=$(( $(summary_count failures) + $(summary_count errors) + $(summary_count "unexpected successes") ))
    python_passed=$(( ran - python_failed - $(summary_count skipped) - $(summary_count "expected failures") ))
    count_step "python tests" "$python_code" "$python_passed" "$python_failed"
fi

echo "$passed passed, $failed failed"
exit $status
