import XCTest
@testable import LLMWorker

/// TextToolCallFilter: recovers tool calls written as text from streamed content, holding back only what could
/// still be one, and releasing everything else in order.
final class TextToolCallFilterTests: XCTestCase {
    private typealias Call = TextToolCallParser.Call

    private struct Run {
        var released: [String] = []
        var calls: [Call] = []
        var warnings: [String] = []
        var content: String { released.joined() }
        /// The most text held back after any fragment.
        var mostHeld = 0
    }

    private func run(_ pieces: [String], tools: OfferedTools? = TextToolCallParserTests.tools) -> Run {
        var filter = TextToolCallFilter(tools: tools)
        var run = Run()
        func take(_ output: TextToolCallFilter.Output) {
            run.released.append(output.content)
            run.calls += output.calls
            run.warnings += output.warnings
        }
        for piece in pieces {
            take(filter.feed(piece))
            run.mostHeld = max(run.mostHeld, filter.heldText.utf8.count)
        }
        take(filter.finish())
        XCTAssertEqual(filter.heldText, "", "nothing is held after finish")
        return run
    }

    /// The text cut in two at every character boundary, and cut into single characters.
    private func splits(_ text: String) -> [[String]] {
        let characters = text.map(String.init)
        var result = [characters]
        for cut in 0...characters.count {
            result.append([characters[..<cut].joined(), characters[cut...].joined()])
        }
        return result
    }

    private let oslo = Call(name: "get_weather", arguments: #"{"city":"Oslo"}"#)

    func testEachFormIsRecoveredWhereverItIsCut() {
        let cases: [(text: String, content: String, calls: [Call])] = [
            ("Let me check. <tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>",
             "Let me check. ", [oslo]),
            ("<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n</function>\n</tool_call>", "", [oslo]),
            ("<function=get_weather><parameter=city>Oslo</parameter></function> Done.", " Done.", [oslo]),
            (#"[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Oslo"}}]"#, "", [oslo]),
            (#"[TOOL_CALLS]get_weather[ARGS]{"city": "Oslo"}[TOOL_CALLS]get_time{}"#, "",
             [oslo, Call(name: "get_time", arguments: "{}")]),
            (#"<|python_tag|>{"name": "get_weather", "parameters": {"city": "Oslo"}}; {"name": "get_time", "parameters": {}}"#, "",
             [oslo, Call(name: "get_time", arguments: "{}")]),
            ("\n {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}\n", "", [oslo]),
            ("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}\nIt is sunny.", "\nIt is sunny.", [oslo]),
            (#"[{"name": "get_weather", "arguments": {"city": "Oslo"}}]"#, "", [oslo]),
        ]
        for item in cases {
            for pieces in splits(item.text) {
                let result = run(pieces)
                XCTAssertEqual(result.content, item.content, "\(pieces)")
                XCTAssertEqual(result.calls, item.calls, "\(pieces)")
                XCTAssertEqual(Set(result.warnings).count, 1, "one warning naming the form: \(result.warnings)")
            }
        }
    }

    func testWhatIsNotACallIsReleasedInOrderWhereverItIsCut() {
        let texts = [
            "a < b and <b>bold</b> [1] {x}",
            "Write <tool_call> then JSON: <tool_call>{\"name\": \"nope\"}</tool_call>.",
            "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}",
            "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}} </tool_cal",
            "<tool_call>{\"name\": \"get_weather\", \"arguments\": [\"Oslo\"]}</tool_call>",
            "[TOOL_CALLS]get_weather{\"city\": Oslo}",
            "<|python_tag|>brave_search.call(query=\"Oslo\")",
            "{\"name\": \"Bob\", \"age\": 3}",
            "{\"error\": true}",
            "[1] is the first source, [2] the second.",
            "[{\"id\": 1}]",
            "Hello <tool_",
            "<function=get_weather>no end",
        ]
        for text in texts {
            for pieces in splits(text) {
                let result = run(pieces)
                XCTAssertEqual(result.content, text, "\(pieces)")
                XCTAssertEqual(result.calls, [], "\(pieces)")
            }
        }
    }

    func testProseIsNeverHeldBack() {
        var filter = TextToolCallFilter(tools: TextToolCallParserTests.tools)
        for piece in ["Sure", ", the ", "set {1, 2} ", "costs", " 3 € ", "\n\n", "Bye."] {
            XCTAssertEqual(filter.feed(piece).content, piece)
        }
        XCTAssertEqual(filter.finish(), TextToolCallFilter.Output())
    }

    func testOnlyWhatCouldStartAnOpenerIsHeld() {
        var filter = TextToolCallFilter(tools: TextToolCallParserTests.tools)
        XCTAssertEqual(filter.feed("It is <").content, "It is ")
        XCTAssertEqual(filter.heldText, "<")
        XCTAssertEqual(filter.feed("|py").content, "")
        XCTAssertEqual(filter.feed("x").content, "<|pyx", "released the moment it cannot be an opener")
        XCTAssertEqual(filter.feed(" [TOOL").content, " ")
        XCTAssertEqual(filter.feed("S]").content, "[TOOLS]")
        XCTAssertEqual(filter.heldText, "")
    }

    func testALeadingBraceIsHeldOnlyAtTheStartAndOnlyWhileItCanBeACall() {
        var filter = TextToolCallFilter(tools: TextToolCallParserTests.tools)
        XCTAssertEqual(filter.feed(" \n{").content, "", "white space and a brace at the start are held")
        XCTAssertEqual(filter.feed(" \"na").content, "")
        XCTAssertEqual(filter.feed("mely").content, " \n{ \"namely", "no call object starts with the key \"namely\"")
        XCTAssertEqual(filter.feed(" {\"name\": 1}").content, " {\"name\": 1}", "after the start a brace is text")
    }

    func testManyAngleBracketsAndMarkersAreTextWithoutHoldingMoreThanAMarker() {
        let text = String(repeating: "<", count: 10_000) + String(repeating: "[TOOL_CALLS", count: 500) + "<tool_call>" + "<|python_tag"
        let result = run(text.map(String.init))
        XCTAssertEqual(result.content, text)
        XCTAssertEqual(result.calls, [])
        XCTAssertLessThanOrEqual(result.mostHeld, "<|python_tag|>".utf8.count)
    }

    func testHoldingIsBounded() {
        let open = #"<tool_call>{"name": "get_weather", "arguments": {"city": ""#
        let text = open + String(repeating: "x", count: 3 * TextToolCallFilter.holdLimit) + #""}}</tool_call>"#
        let pieces = stride(from: 0, to: text.utf8.count, by: 100).map { start -> String in
            let bytes = Array(text.utf8)
            return String(decoding: bytes[start..<min(bytes.count, start + 100)], as: UTF8.self)
        }
        let result = run(pieces)
        XCTAssertEqual(result.content, text, "cut off at the limit, the form is text")
        XCTAssertEqual(result.calls, [])
        XCTAssertLessThanOrEqual(result.mostHeld, TextToolCallFilter.holdLimit)
        XCTAssertGreaterThan(result.mostHeld, TextToolCallFilter.holdLimit - 200, "the limit is what bounds it here")
    }

    func testLeadingWhiteSpaceIsHeldWithinTheBoundToo() {
        let text = String(repeating: " ", count: TextToolCallFilter.holdLimit) + "<tool_ca"
        let result = run([text, "ll>{\"name\": \"get_time\"}</tool_call>"])
        XCTAssertLessThanOrEqual(result.mostHeld, TextToolCallFilter.holdLimit)
        XCTAssertEqual(result.content, String(repeating: " ", count: TextToolCallFilter.holdLimit))
        XCTAssertEqual(result.calls, [Call(name: "get_time", arguments: "{}")])
    }

    func testAnOpenerInsideARejectedFormIsLookedAtAgain() {
        let result = run(["<tool_call><tool_call>{\"name\": \"get_time\"}</tool_call>"])
        XCTAssertEqual(result.content, "<tool_call>")
        XCTAssertEqual(result.calls, [Call(name: "get_time", arguments: "{}")])
    }

    func testWhiteSpaceAroundCallsIsDroppedOnlyWhenTheyAreTheWholeAnswer() {
        let two = "\n<tool_call>{\"name\": \"get_time\"}</tool_call>\n<tool_call>{\"name\": \"get_time\"}</tool_call>\n"
        XCTAssertEqual(run([two]).content, "")
        XCTAssertEqual(run([two]).calls.count, 2)
        XCTAssertEqual(run([two + "OK"]).content, "\n\n\nOK", "nothing lost once there is text")
        XCTAssertEqual(run(["\n\n"]).content, "\n\n", "an answer of white space without calls stays as it was")
    }

    func testDisabledPassesEverythingThrough() {
        let text = "<tool_call>{\"name\": \"get_time\"}</tool_call>"
        var filter = TextToolCallFilter(tools: nil)
        XCTAssertEqual(filter.feed(text), TextToolCallFilter.Output(content: text))
        XCTAssertEqual(filter.finish(), TextToolCallFilter.Output())
    }

    func testTheHeldTextIsAvailableBeforeTheEnd() {
        var filter = TextToolCallFilter(tools: TextToolCallParserTests.tools)
        XCTAssertEqual(filter.feed("Checking. <tool_call>{\"name\": \"get_").content, "Checking. ")
        XCTAssertEqual(filter.heldText, "<tool_call>{\"name\": \"get_")
    }
}
