# Prints the XCTest tests that the Swift files given declare, one "Class.testMethod" a line (used by
# Tests/run-all.sh to find tests that exist in the sources but not in the build: compiled out by #if, or in a
# folder that no test target builds). A test here is a method named test… without parameters, not private,
# indented by four spaces in an unindented class that inherits from XCTestCase directly, or in an unindented
# extension of such a class that is not private.
# Usage: awk -f Tests/declared-xctests.awk FILE.swift...

FNR == 1 { type = "" }

/^[^ \t]/ { type = "" }

/^((final|open|public|internal) )*class [A-Za-z_][A-Za-z0-9_]* *: *XCTestCase/ {
    type = $0
    sub(/^((final|open|public|internal) )*class /, "", type)
    sub(/[^A-Za-z0-9_].*$/, "", type)
    test_class[type] = 1
}

/^((public|internal) )?extension [A-Za-z_][A-Za-z0-9_]*/ {
    type = $0
    sub(/^((public|internal) )?extension /, "", type)
    sub(/[^A-Za-z0-9_].*$/, "", type)
}

type != "" && /^    ((@[A-Za-z]+|override|public|internal|open|nonisolated) )*func test[A-Za-z0-9_]*\(\)/ {
    method = $0
    sub(/^.*func /, "", method)
    sub(/\(.*$/, "", method)
    declared[type "." method] = type
}

END {
    for (test in declared) {
        if (declared[test] in test_class) print test
    }
}
