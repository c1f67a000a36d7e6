import XCTest
@testable import LLMWorkerTestSupport

// Tool calls as models write them into `content` when the server has no tool-call parser
// (../shared/reference/tool-calls-in-text.md), and what the worker must make of them.

/// One answer holding tool calls written as text.
struct TextToolCallFixture {
    var name: String
    /// The content the model writes.
    var text: String
    /// What is left of it as content (nil: nothing).
    var content: String?
    /// The calls recovered from it: name, arguments and arguments_raw.
    var calls: [(name: String, arguments: JSON, raw: String)]
    /// Words the warning names the form with.
    var formHint: String

    static let paris = (name: "get_weather", arguments: ["city": "Paris"] as JSON, raw: #"{"city":"Paris"}"#)
    static let parisTime = (name: "get_time", arguments: ["tz": "Europe/Paris"] as JSON, raw: #"{"tz":"Europe/Paris"}"#)

    static let all: [TextToolCallFixture] = [
        TextToolCallFixture(name: "hermes", text: "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\"}}\n</tool_call>",
                            content: nil, calls: [("get_weather", ["city": "Zürich"], #"{"city":"Zürich"}"#)], formHint: "<tool_call> JSON"),
        TextToolCallFixture(name: "hermes, two blocks and text",
                            text: "Let me look. <tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call>\n"
                                + "<tool_call>{\"arguments\": {\"tz\": \"Europe/Paris\"}, \"name\": \"get_time\"}</tool_call>",
                            content: "Let me look. \n", calls: [paris, parisTime], formHint: "<tool_call> JSON"),
        TextToolCallFixture(name: "qwen3-coder xml",
                            text: "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n</tool_call>",
                            content: nil, calls: [paris], formHint: "<function=…> XML"),
        TextToolCallFixture(name: "qwen xml without wrapper",
                            text: "<function=get_time>\n<parameter=tz>\nEurope/Paris\n</parameter>\n</function>",
                            content: nil, calls: [parisTime], formHint: "<function=…> XML"),
        TextToolCallFixture(name: "mistral list", text: #"[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]"#,
                            content: nil, calls: [paris], formHint: "[TOOL_CALLS]"),
        TextToolCallFixture(name: "mistral v11", text: #"[TOOL_CALLS]get_weather{"city": "Paris"}[TOOL_CALLS]get_time{"tz": "Europe/Paris"}"#,
                            content: nil, calls: [paris, parisTime], formHint: "[TOOL_CALLS]"),
        TextToolCallFixture(name: "llama python_tag", text: #"<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}"#,
                            content: nil, calls: [paris], formHint: "<|python_tag|>"),
        TextToolCallFixture(name: "llama bare json", text: #"{"name": "get_weather", "parameters": {"city": "Paris"}}"#,
                            content: nil, calls: [paris], formHint: "bare JSON"),
    ]
}

/// The tools the fixtures call.
let textToolCallTools: JSON = [weatherTool, timeTool]

/// A text answer in `shape` whose content comes in `pieces`, one event each.
func contentStream(_ shape: ServerShape, _ pieces: [String]) -> MockResponse {
    shape.textStream(content: pieces).response()
}

/// `text` cut into its characters (so a multi-byte character stays whole: an SSE event holds a JSON string).
func characterPieces(_ text: String) -> [String] {
    text.map(String.init)
}

/// Checks that `response` holds exactly the calls and content of `fixture`, recovered: ids of the documented shape,
/// all different, `finish_reason` "tool_calls", one warning naming the form. Returns the ids.
@discardableResult
func assertRecovered(_ response: JSON, id: JSON, _ fixture: TextToolCallFixture, usage: JSON, model: String,
                     file: StaticString = #filePath, line: UInt = #line) -> [String] {
    let result = assertResult(response, id: id, file: file, line: line)
    let ids = (result["tool_calls"]?.array ?? []).map { $0["id"]?.string ?? "" }
    for callID in ids {
        XCTAssertNotNil(callID.wholeMatch(of: /call_[A-Za-z0-9]{24}/), "id shape: \(callID)", file: file, line: line)
    }
    XCTAssertEqual(Set(ids).count, fixture.calls.count, "\(fixture.name): one id per call, all different", file: file, line: line)
    let calls = zip(ids, fixture.calls).map { expectedToolCall(id: $0, name: $1.name, arguments: $1.arguments, raw: $1.raw) }
    XCTAssertEqual(result.removing("timing", "warnings"),
                   expectedResult(content: fixture.content, toolCalls: calls, finishReason: "tool_calls", usage: usage, model: model)
                       .removing("warnings"),
                   fixture.name, file: file, line: line)
    let warnings = result["warnings"]?.array ?? []
    XCTAssertEqual(warnings.count, 1, "\(fixture.name): \(warnings)", file: file, line: line)
    XCTAssertTrue(warnings.first?.string?.contains(fixture.formHint) ?? false, "\(fixture.name): \(warnings)", file: file, line: line)
    return ids
}

/// Checks the deltas of a stream that recovered `fixture`: the content deltas add up to what is left of the text,
/// each call is one fragment with its id, name and whole arguments.
func assertRecoveredDeltas(_ deltas: [JSON], id: JSON, _ fixture: TextToolCallFixture, ids: [String],
                           file: StaticString = #filePath, line: UInt = #line) {
    let transcript = checkDeltas(deltas, id: id, file: file, line: line)
    XCTAssertEqual(transcript.content, fixture.content ?? "", "\(fixture.name): content deltas", file: file, line: line)
    XCTAssertEqual(transcript.toolFragments.count, fixture.calls.count, "\(fixture.name): one fragment per call", file: file, line: line)
    for (index, call) in fixture.calls.enumerated() {
        XCTAssertEqual(transcript.toolHeads[index]?.id, ids.count > index ? ids[index] : nil, fixture.name, file: file, line: line)
        XCTAssertEqual(transcript.toolHeads[index]?.name, call.name, fixture.name, file: file, line: line)
        XCTAssertEqual(transcript.toolArguments[index], call.raw, fixture.name, file: file, line: line)
    }
}
