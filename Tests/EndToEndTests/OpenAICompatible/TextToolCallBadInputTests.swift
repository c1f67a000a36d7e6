import XCTest
@testable import LLMWorkerTestSupport

/// Text that looks like a tool call but is not one stays content, in order, nothing lost or repeated, in `chat` and
/// in `chatStream` however the events cut it; recovery off, or no tools offered, leaves all text as text; text held
/// back when a stream ends early is in `partial_content`.
final class TextToolCallBadInputTests: XCTestCase {
    private let shape = ServerShape.vLLM
    private let messages: JSON = [["role": "user", "content": "Weather in Paris?"]]
    private var question: JSON { chatRequest(messages, tools: textToolCallTools, toolChoice: "auto") }

    /// Answers that must come back as they were written; `warns`: whether a warning says why a call-like text was kept.
    private static let notCalls: [(text: String, warns: Bool)] = [
        (#"<tool_call>{"name": "get_weather", "arguments": {"city": Paris}}</tool_call>"#, true),
        (#"<tool_call>{"name": "web_search", "arguments": {"query": "Paris"}}</tool_call>"#, true),
        (#"<tool_call>{"name": "get_weather", "arguments": "city=Paris"}</tool_call>"#, true),
        (#"[TOOL_CALLS]get_weather{city: Paris}"#, true),
        (#"<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}"#, false),
        ("Let me check the weather <tool_ca", false),
        ("To call a tool, write <tool_call> and then the JSON; [TOOL_CALLS] is Mistral's and {\"name\": …} Llama's.", false),
        ("{\"temp_c\": 18} is what the sensor said.", false),
        ("<|python_tag|>weather.call(city=\"Paris\")", false),
        ("<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n", false),
    ]

    private func assertText(_ response: JSON, id: JSON, _ text: String, warns: Bool, usage: JSON,
                            file: StaticString = #filePath, line: UInt = #line) {
        let result = assertResult(response, id: id, file: file, line: line)
        XCTAssertEqual(result.removing("timing", "warnings"),
                       expectedResult(content: text, usage: usage, model: shape.model).removing("warnings"), file: file, line: line)
        XCTAssertEqual(result["warnings"]?.array?.count, warns ? 1 : 0, "\(result["warnings"] ?? nil)", file: file, line: line)
    }

    func testWhatIsNotACallStaysContentInChat() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        for (n, item) in Self.notCalls.enumerated() {
            server.enqueue(shape.completion(content: item.text))
            let id = JSON.number(String(n))
            assertText(try worker.call("chat", question, id: id), id: id, item.text, warns: item.warns,
                       usage: shape.expectedUsage(FixtureUsage(prompt: 30, completion: 9)))
        }
    }

    /// Each answer one character per event, so every marker is split at every byte it has.
    func testWhatIsNotACallStaysContentInChatStreamCutAtEveryCharacter() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        for (n, item) in Self.notCalls.enumerated() {
            server.enqueue(contentStream(shape, characterPieces(item.text)))
            let id = JSON.number(String(n))
            let (deltas, response) = try worker.stream(question, id: id)
            XCTAssertEqual(checkDeltas(deltas, id: id).content, item.text, "the deltas add up to the content")
            assertText(response, id: id, item.text, warns: item.warns, usage: shape.expectedUsage(FixtureUsage(prompt: 12, completion: 5)))
        }
    }

    func testTenThousandAngleBracketsAreText() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        let text = String(repeating: "<", count: 10_000) + "tool_call>" + String(repeating: "[", count: 1_000)
        let pieces = stride(from: 0, to: text.count, by: 7).map { String(text.dropFirst($0).prefix(7)) }
        server.enqueue(contentStream(shape, pieces))
        let (deltas, response) = try worker.stream(question, id: 1)
        XCTAssertEqual(checkDeltas(deltas, id: 1).content, text)
        assertText(response, id: 1, text, warns: false, usage: shape.expectedUsage(FixtureUsage(prompt: 12, completion: 5)))
        server.enqueue(shape.completion(content: text))
        assertText(try worker.call("chat", question, id: 2), id: 2, text, warns: false,
                   usage: shape.expectedUsage(FixtureUsage(prompt: 30, completion: 9)))
    }

    /// `recover_tool_calls: false`, and requests without tools (absent or empty): every form is text.
    func testWithoutRecoveryOrWithoutToolsTextStaysText() throws {
        let server = try MockHTTPServer()
        let off = try startUpstreamWorker(server, config: ["recover_tool_calls": false])
        let on = try startUpstreamWorker(server)
        let requests: [(WorkerProcess, JSON)] = [
            (off, question), (on, chatRequest(messages)), (on, chatRequest(messages, tools: [], toolChoice: "auto")),
        ]
        var n = 0
        for (worker, params) in requests {
            for fixture in TextToolCallFixture.all {
                n += 1
                server.enqueue(shape.completion(content: fixture.text))
                assertText(try worker.call("chat", params, id: .number(String(n))), id: .number(String(n)), fixture.text, warns: false,
                           usage: shape.expectedUsage(FixtureUsage(prompt: 30, completion: 9)))
                server.enqueue(contentStream(shape, characterPieces(fixture.text)))
                let (deltas, response) = try worker.stream(params, id: .number(String(n)))
                XCTAssertEqual(checkDeltas(deltas, id: .number(String(n))).content, fixture.text)
                assertText(response, id: .number(String(n)), fixture.text, warns: false,
                           usage: shape.expectedUsage(FixtureUsage(prompt: 12, completion: 5)))
            }
        }
        let sent = server.requests(to: "/v1/chat/completions").map(\.json)
        XCTAssertEqual(sent.first?["tools"], textToolCallTools, "recovery off still sends the tools")
    }

    /// A call written in the reasoning is not run and not spoken; a warning says why nothing happened.
    func testACallInTheReasoningIsNotRun() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        let reasoning = #"I should call <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>"#
        server.enqueue(shape.textStream(reasoning: [reasoning], content: []).response())
        let (deltas, response) = try worker.stream(question, id: 1)
        let transcript = checkDeltas(deltas, id: 1)
        XCTAssertEqual(transcript.content, "")
        XCTAssertEqual(transcript.reasoning, reasoning)
        let result = assertResult(response, id: 1)
        XCTAssertEqual(result["tool_calls"], [])
        XCTAssertEqual(result["content"], .null)
        XCTAssertEqual(result["finish_reason"], "stop")
        XCTAssertEqual(result["warnings"]?.array?.count, 1, "\(result)")
    }

    /// An upstream error while text is held back: the held text is part of the partial answer.
    func testAnErrorWhileHoldingKeepsTheHeldTextInThePartialContent() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        server.enqueue(SSEBody([
            .data(shape.chunk(["role": "assistant", "content": ""], finishReason: .null)),
            .data(shape.chunk(["content": "Checking. <tool_call>{\"name\": \"get_weather\", \"argu"], finishReason: .null)),
            .data(#"{"error": {"message": "Engine died", "type": "server_error", "param": null, "code": null}}"#),
        ]).response(close: true))
        let (deltas, response) = try worker.stream(question, id: 1)
        XCTAssertEqual(checkDeltas(deltas, id: 1).content, "Checking. ")
        assertProviderFailure(response, id: 1, code: -32007, data: expectedErrorData(
            kind: "upstream_error", status: nil, retryable: true, upstreamMessage: "Engine died",
            partialContent: "Checking. <tool_call>{\"name\": \"get_weather\", \"argu"))
    }
}
