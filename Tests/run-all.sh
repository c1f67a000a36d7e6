#!/usr/bin/env bash
# Runs every test of the repository: builds the worker and the tests, runs each XCTest target on its own
# (LLMWorkerUnitTests, then LLMWorkerEndToEndTests, which drives the built binary, twice: with the socket
# transport, then with URLSession), then the Python client's
# tests. Exits non-zero if anything failed and ends with one summary line: "N passed, M failed, S skipped".
#
# The counts are checked for completeness, not only for failures: every test in the sources must be in the
# build (`swift test list`), every test in the build must have passed, failed or been skipped (one that never
# ran, because the test process crashed or for any other reason, counts as failed, by name), each suite's
# results must add up to what XCTest says it executed, and a run without XCTest's final summary crashed
# (Tests/declared-xctests.awk, Tests/tally-xctest.awk). Only XCTest is counted: a Swift Testing test would show
# as one that never ran.
# Usage (from anywhere): bash Tests/run-all.sh
set -uo pipefail

cd "$(dirname "$0")/.."
log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT

passed=0
failed=0
skipped=0
status=0
step_lines=()

# count_step NAME EXIT_CODE PASSED FAILED SKIPPED [SECONDS]: adds a step's counts; a step that failed without a
# failing test to show for it (a build error, a crash, counts that do not add up) counts as one failure. With
# SECONDS, the step gets a line in the report before the summary.
count_step() {
    local name=$1 code=$2 step_passed=$3 step_failed=$4 step_skipped=$5 seconds=${6:-}
    if [ "$code" -ne 0 ] && [ "$step_failed" -eq 0 ]; then
        echo "run-all: $name exited with status $code" >&2
        step_failed=1
    fi
    passed=$((passed + step_passed))
    failed=$((failed + step_failed))
    skipped=$((skipped + step_skipped))
    if [ "$code" -ne 0 ] || [ "$step_failed" -ne 0 ]; then status=1; fi
    if [ -n "$seconds" ]; then
        step_lines+=("$name: $((step_passed + step_failed + step_skipped)) tests, $step_failed failing, $step_skipped skipped, $seconds s")
    fi
}

echo "== swift build --build-tests"
swift build --build-tests
build_code=$?
count_step "swift build --build-tests" "$build_code" 0 0 0

if [ "$build_code" -eq 0 ]; then
    # Every test in the build, as Module.Class/testMethod.
    swift test list --skip-build > "$log_dir/list.txt" 2> "$log_dir/list.err"
    list_code=$?
    [ "$list_code" -eq 0 ] || cat "$log_dir/list.err" >&2
    grep -E '^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*/' "$log_dir/list.txt" > "$log_dir/listed.txt"
    if [ "$list_code" -eq 0 ]; then
        sed -E 's/^[^.]*\.//; s|/|.|' "$log_dir/listed.txt" | sort > "$log_dir/listed-names.txt"
        find Tests -name '*.swift' -exec awk -f Tests/declared-xctests.awk {} + | sort > "$log_dir/declared.txt"
        not_built=$(comm -23 "$log_dir/declared.txt" "$log_dir/listed-names.txt")
        for name in $not_built; do echo "run-all: in the sources but not in the build: $name" >&2; done
        count_step "swift test list" 0 0 "$(grep -c . <<< "$not_built")" 0
    else
        count_step "swift test list" "$list_code" 0 0 0
    fi

    # The unit tests first: they take seconds. The end-to-end tests run once per HTTP transport of the worker
    # (CAAL_LLM_WORKER_TRANSPORT, the default of configure's `transport`, reaches every worker the tests start).
    for module in $(cut -d. -f1 "$log_dir/listed.txt" | sort -u | awk '{ print ($0 ~ /Unit/ ? 0 : 1), $0 }' | sort | cut -d' ' -f2); do
        grep "^$module\." "$log_dir/listed.txt" | sed -E 's/^[^.]*\.//; s|/|.|' > "$log_dir/$module.listed"
        transports="-"
        [[ $module == *EndToEnd* ]] && transports="socket urlsession"
        for transport in $transports; do
            step="$module"
            [ "$transport" = "-" ] || step="$module (transport $transport)"
            echo "== swift test: $step"
            if [ "$transport" = "-" ]; then
                swift test --skip-build --filter "^$module\\." 2>&1 | tee "$log_dir/run.log"
            else
                CAAL_LLM_WORKER_TRANSPORT=$transport swift test --skip-build --filter "^$module\\." 2>&1 | tee "$log_dir/run.log"
            fi
            test_code=${PIPESTATUS[0]}
            awk -f Tests/tally-xctest.awk "$log_dir/$module.listed" "$log_dir/run.log" > "$log_dir/run.tally"
            tally_code=$?
            read -r step_passed step_failed step_skipped seconds < "$log_dir/run.tally"
            if [ "$tally_code" -ne 0 ] && [ "$test_code" -eq 0 ]; then test_code=$tally_code; fi
            count_step "$step" "$test_code" "$step_passed" "$step_failed" "$step_skipped" "$seconds"
        done
    done
fi

if [ -d protocol/python/tests ]; then
    echo "== python client tests"
    python3 -m unittest discover -s protocol/python/tests -t protocol/python -v 2>&1 | tee "$log_dir/python.log"
    python_code=${PIPESTATUS[0]}
    # unittest ends with "Ran N tests in Xs" and "OK" or "FAILED", each with "(failures=F, errors=E, skipped=S, …)"
    # when there are any.
    summary_count() { grep -oE "(\(|, )$1=[0-9]+" "$log_dir/python.log" | tail -1 | grep -oE "[0-9]+" || echo 0; }
    ran_line=$(grep -E "^Ran [0-9]+ tests? in " "$log_dir/python.log" | tail -1)
    if [ -z "$ran_line" ]; then
        echo "run-all: the Python tests printed no summary: the test process crashed or was killed" >&2
        [ "$python_code" -eq 0 ] && python_code=1
    fi
    ran=$(grep -oE "[0-9]+" <<< "${ran_line:-Ran 0 tests}" | head -1)
    python_seconds=$(grep -oE "[0-9.]+s$" <<< "${ran_line:-0s}" | tr -d s)
    python_skipped=$(summary_count skipped)
    python_failed=$(( $(summary_count failures) + $(summary_count errors) + $(summary_count "unexpected successes") ))
    python_passed=$(( ran - python_failed - python_skipped - $(summary_count "expected failures") ))
    count_step "python client tests" "$python_code" "$python_passed" "$python_failed" "$python_skipped" "$python_seconds"
fi

echo "== summary"
for line in ${step_lines[@]+"${step_lines[@]}"}; do echo "$line"; done
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
