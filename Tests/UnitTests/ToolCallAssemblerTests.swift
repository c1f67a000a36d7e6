import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport

/// ToolCallAssembler: streamed fragments back into whole calls whose arguments are always a JSON object.
final class ToolCallAssemblerTests: XCTestCase {
    private typealias F = ToolCallFragment

    func testFragmentsByIndexInterleaved() {
        var assembler = ToolCallAssembler()
        _ = assembler.add([F(index: 0, id: "call_a", name: "get_time", arguments: "")])
        _ = assembler.add([F(index: 1, id: "call_b", name: "lights", arguments: #"{"on""#)])
        _ = assembler.add([F(index: 0, arguments: #"{"tz":"#), F(index: 1, arguments: ": true}")])
        _ = assembler.add([F(index: 0, arguments: #""UTC"}"#)])
        let (calls, warnings) = assembler.finish()
        XCTAssertEqual(calls, [
            ToolCall(id: "call_a", name: "get_time", arguments: ["tz": .string("UTC")], argumentsRaw: #"{"tz":"UTC"}"#),
            ToolCall(id: "call_b", name: "lights", arguments: ["on": .bool(true)], argumentsRaw: #"{"on": true}"#),
        ])
        XCTAssertEqual(warnings, [])
    }

    func testIDAndNameAreTakenOnceAndLaterRepeatsIgnored() {
        var assembler = ToolCallAssembler()
        _ = assembler.add([F(index: 0, id: "first", name: "f", arguments: "{")])
        _ = assembler.add([F(index: 0, id: "", name: nil, arguments: "}")])
        let calls = assembler.finish().calls
        XCTAssertEqual(calls.map(\.id), ["first"])
        XCTAssertEqual(calls.map(\.name), ["f"])
    }

    func testMissingIndexNewIDStartsANewCallElseContinuesTheLast() {
        var assembler = ToolCallAssembler()
        let first = assembler.add([F(id: "a", name: "one", arguments: "{\"x\":")])
        let second = assembler.add([F(arguments: "1}")])
        let third = assembler.add([F(id: "b", name: "two", arguments: "{}")])
        XCTAssertEqual(first.map(\.index), [0], "indexes are filled in for the client")
        XCTAssertEqual(second.map(\.index), [0])
        XCTAssertEqual(third.map(\.index), [1])
        let calls = assembler.finish().calls
        XCTAssertEqual(calls.map(\.name), ["one", "two"])
        XCTAssertEqual(calls.map(\.arguments), [["x": .int(1)], [:]])
    }

    func testWholeCallsWithoutIndexInOneChunkArePositional() {
        var assembler = ToolCallAssembler()
        let normalized = assembler.add([F(id: "a", name: "one", arguments: "{}"), F(id: "b", name: "two", arguments: "{}")])
        XCTAssertEqual(normalized.map(\.index), [0, 1])
        XCTAssertEqual(assembler.finish().calls.map(\.id), ["a", "b"])
    }

    func testCallsWithoutIDGetAGeneratedOne() {
        var assembler = ToolCallAssembler()
        _ = assembler.add([F(index: 0, name: "f", arguments: "{}")])
        let id = assembler.finish().calls.first?.id ?? ""
        XCTAssertTrue(id.hasPrefix("call_0_"), id)
    }

    func testArgumentsAreAlwaysAnObject() {
        let cases: [(String, [String: JSONValue], Bool)] = [
            ("", [:], false), ("  ", [:], false), ("null", [:], false),
            (#"{"a":[1,{"b":null}]}"#, ["a": .array([.int(1), .object(["b": .null])])], false),
            (#""{\"double\":\"encoded\"}""#, ["double": .string("encoded")], false),
            ("not json", [:], true), ("[1,2]", [:], true), ("42", [:], true), (#""just a string""#, [:], true),
            (#"{"truncated": "#, [:], true),
        ]
        for (raw, expected, warns) in cases {
            let (arguments, problem) = ToolCallAssembler.parseArguments(raw)
            XCTAssertEqual(arguments, expected, raw)
            XCTAssertEqual(problem != nil, warns, "warning for \(raw): \(problem ?? "none")")
        }
    }

    func testMalformedArgumentsKeepTheRawTextAndWarn() {
        var assembler = ToolCallAssembler()
        _ = assembler.add([F(index: 0, id: "x", name: "broken", arguments: "{oops")])
        let (calls, warnings) = assembler.finish()
        XCTAssertEqual(calls.first?.arguments, [:])
        XCTAssertEqual(calls.first?.argumentsRaw, "{oops")
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings.first?.contains("broken") ?? false, warnings.first ?? "")
    }

    func testWholeCallsTakeTheNextIndexAndServerIndexesMoveAside() {
        var assembler = ToolCallAssembler()
        XCTAssertEqual(assembler.addWhole(id: "t0", name: "one", arguments: "{}").index, 0)
        XCTAssertEqual(assembler.add([F(index: 0, id: "s0", name: "two", arguments: "{")]).map(\.index), [1])
        XCTAssertEqual(assembler.add([F(index: 0, arguments: "}")]).map(\.index), [1], "the server's index keeps its new place")
        XCTAssertEqual(assembler.add([F(index: 1, id: "s1", name: "three", arguments: "{}")]).map(\.index), [2])
        XCTAssertEqual(assembler.addWhole(id: "t1", name: "four", arguments: "{}").index, 3)
        XCTAssertEqual(assembler.finish().calls.map(\.id), ["t0", "s0", "s1", "t1"])
    }
}
