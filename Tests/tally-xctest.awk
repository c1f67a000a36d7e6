# Tallies one `swift test` run of XCTest tests and checks that it is complete (used by Tests/run-all.sh).
# Usage: awk -f Tests/tally-xctest.awk LISTED LOG
#   LISTED: the tests this run should run, one "Class.testMethod" a line (from `swift test list`);
#   LOG: what `swift test` printed.
# Prints "PASSED FAILED SKIPPED SECONDS" (SECONDS: XCTest's own time for the run, "?" without a summary).
# Each discrepancy is printed on stderr and makes the exit status 1: a listed test without a result (it also
# counts as failed), a result for a test that is not listed, two results for one test, a suite whose
# "Executed N tests" is not the number of results counted for it, and no summary for the whole run (the test
# process crashed or was killed).

function problem(text) {
    print "run-all: " text > "/dev/stderr"
    problems++
}

# The text of the first match of `pattern` in the line, or "".
function found(pattern) {
    return match($0, pattern) ? substr($0, RSTART, RLENGTH) : ""
}

# The name between the first pair of single quotes of `text`.
function quoted(text) {
    sub(/^[^']*'/, "", text)
    sub(/'.*$/, "", text)
    return text
}

FNR == NR {
    if ($0 != "") listed[$0] = 1
    next
}

# Output of the tests themselves may share a line with XCTest's: every pattern is looked for anywhere in it.
{
    result = found("Test Case '[^']+' (passed|failed|skipped) \\(")
    if (result != "") {
        name = quoted(result)
        outcome = result
        sub(/ \($/, "", outcome)
        sub(/.* /, "", outcome)
        if (name in outcome_of) problem("two results for " name)
        outcome_of[name] = outcome
        count[outcome]++
        class = name
        sub(/\..*$/, "", class)
        counted_in[class]++
        running = ""
        next
    }
    started = found("Test Case '[^']+' started at")
    if (started != "") {
        running = quoted(started)
        next
    }
    finished = found("Test Suite '[^']+' (passed|failed) at")
    if (finished != "") {
        suite = quoted(finished)
        next
    }
    executed = found("Executed [0-9]+ tests?, with")
    if (executed != "" && suite != "") {
        split(executed, words, " ")
        if (suite == "All tests" || suite == "Selected tests") {
            whole_run = words[2]
            seconds = found("\\) in [0-9.]+ \\(")
            gsub(/[^0-9.]/, "", seconds)
        } else if (suite ~ /\.xctest$/) {
            bundle[suite] = words[2]
        } else {
            executed_in[suite] = words[2]
        }
        suite = ""
    }
}

END {
    total = count["passed"] + count["failed"] + count["skipped"]
    for (suite in executed_in) {
        if (executed_in[suite] != counted_in[suite] + 0)
            problem(suite ": XCTest says it executed " executed_in[suite] " tests, " counted_in[suite] + 0 " results were counted")
    }
    for (suite in bundle) {
        if (bundle[suite] != total)
            problem(suite ": XCTest says it executed " bundle[suite] " tests, " total " results were counted")
    }
    if (whole_run == "") {
        problem("XCTest printed no summary for the whole run: the test process crashed or was killed" \
                (running != "" ? ", during " running : ""))
        seconds = "?"
    } else if (whole_run != total) {
        problem("XCTest says it executed " whole_run " tests, " total " results were counted")
    }
    never_ran = 0
    for (name in listed) {
        if (!(name in outcome_of)) {
            print "run-all: never ran: " name | "sort >&2"
            never_ran++
        }
    }
    close("sort >&2")
    if (never_ran > 0) {
        problem(never_ran " of the " length(listed) " tests listed never ran (each counts as failed)")
        count["failed"] += never_ran
    }
    for (name in outcome_of) {
        if (!(name in listed)) problem("ran, but swift test list does not name it: " name)
    }
    print count["passed"] + 0, count["failed"] + 0, count["skipped"] + 0, seconds
    exit (problems > 0)
}
