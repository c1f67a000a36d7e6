import XCTest
@testable import LLMWorkerTestSupport

/// `chat` (non-streaming) answers as real servers send them → the exact ChatResult line.
final class ChatResponseTests: XCTestCase {
    private let hello = chatRequest([["role": "user", "content": "Hello"]])

    func testTextAnswersOfEveryServerShape() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        for (n, shape) in ServerShape.allCases.enumerated() {
            server.enqueue(shape.completion(content: "Bonjour à toi 👋", reasoning: "The user greets me.",
                                            usage: FixtureUsage(prompt: 21, completion: 4)))
            let id = JSON.number(String(n))
            assertChatResult(try worker.call("chat", hello, id: id), id: id, expectedResult(
                content: "Bonjour à toi 👋", reasoning: "The user greets me.",
                usage: shape.expectedUsage(FixtureUsage(prompt: 21, completion: 4)), model: shape.model,
                upstreamProvider: shape.upstreamProvider))
        }
    }

    func testToolCallsOfEveryServerShape() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        for (n, shape) in ServerShape.allCases.enumerated() {
            let calls = [FixtureToolCall(id: shape.toolCallID(0), name: "get_weather", argumentPieces: [#"{"city": "Paris"}"#]),
                         FixtureToolCall(id: shape.toolCallID(1), name: "get_time", argumentPieces: [#"{"tz":"Europe/Paris"}"#])]
            server.enqueue(shape.completion(content: nil, toolCalls: calls))
            let id = JSON.number(String(n))
            assertChatResult(try worker.call("chat", chatRequest([["role": "user", "content": "Weather?"]], tools: [weatherTool, timeTool]), id: id),
                             id: id, expectedResult(
                content: nil, toolCalls: [
                    expectedToolCall(id: shape.toolCallID(0), name: "get_weather", arguments: ["city": "Paris"], raw: #"{"city": "Paris"}"#),
                    expectedToolCall(id: shape.toolCallID(1), name: "get_time", arguments: ["tz": "Europe/Paris"], raw: #"{"tz":"Europe/Paris"}"#),
                ],
                finishReason: "tool_calls", usage: shape.expectedUsage(FixtureUsage(prompt: 30, completion: 9)), model: shape.model,
                upstreamProvider: shape.upstreamProvider))
        }
    }

    /// A server that sends several choices (one ignoring `n`, or listing them out of order): the answer is the
    /// choice with index 0, in `chat` and in `chatStream`, and a warning says the others were ignored.
    func testTheChoiceWithIndexZeroIsTheAnswerWhereverItStands() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        server.enqueue(.jsonText(#"{"id":"x","object":"chat.completion","model":"m","choices":[{"index":1,"finish_reason":"length","message":{"role":"assistant","content":"Not this"}},{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"This one"}}]}"#))
        let result = assertResult(try worker.call("chat", hello, id: 1), id: 1)
        XCTAssertEqual(result["content"], "This one")
        XCTAssertEqual(result["finish_reason"], "stop")
        XCTAssertEqual(result["warnings"], ["The server sent more than one choice; only the choice with index 0 is used."])

        server.enqueue(.sseStream(events: [
            #"{"choices":[{"index":1,"delta":{"content":"Other "}}]}"#,
            #"{"choices":[{"index":0,"delta":{"content":"Mine "}}]}"#,
            #"{"choices":[{"index":1,"delta":{},"finish_reason":"stop"}]}"#,
            #"{"choices":[{"index":0,"delta":{"content":"too"}}]}"#,
            #"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        ]))
        let (deltas, response) = try worker.stream(hello, id: 2)
        let streamed = assertResult(response, id: 2)
        XCTAssertEqual(streamed["content"], "Mine too")
        XCTAssertEqual(deltas.compactMap { $0["params"]?["content"]?.string }.joined(), "Mine too")
        XCTAssertEqual(streamed["finish_reason"], "stop")
        XCTAssertEqual(streamed["warnings"], ["The server sent more than one choice; only the choice with index 0 is used."])

        server.enqueue(.jsonText(#"{"id":"x","object":"chat.completion","model":"m","choices":[{"index":1,"finish_reason":"stop","message":{"role":"assistant","content":"Only other"}}]}"#))
        assertProviderError(try worker.call("chat", hello, id: 3), id: 3, code: -32007, kind: "invalid_response")
    }

    /// A server that answers a `chat` with an event stream (LiteLLM does, unasked): the same body gives `chat` the
    /// same outcome and warnings as `chatStream` — an empty stream is invalid_response, one without a finish_reason
    /// keeps its answer with a warning.
    func testAChatAnsweredWithAStreamEndsAsAChatStreamWould() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        let bodies: [(name: String, events: [String])] = [
            ("empty", []),
            ("no finish_reason", [#"{"choices":[{"index":0,"delta":{"content":"Half an ans"}}]}"#]),
            ("complete", [#"{"choices":[{"index":0,"delta":{"content":"Whole"}}]}"#, #"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#]),
        ]
        for (n, body) in bodies.enumerated() {
            server.enqueue(.sseStream(events: body.events))
            let viaChat = try worker.call("chat", hello, id: .string("chat \(n)"))
            server.enqueue(.sseStream(events: body.events))
            let (_, viaStream) = try worker.stream(hello, id: .string("stream \(n)"))
            if let error = viaStream["error"] {
                XCTAssertEqual(viaChat["error"]?["code"], error["code"], body.name)
                XCTAssertEqual(viaChat["error"]?["data"]?["kind"], "invalid_response", body.name)
                XCTAssertEqual(viaChat["error"]?["message"], error["message"], body.name)
            } else {
                let chat = assertResult(viaChat, id: .string("chat \(n)"))
                let stream = assertResult(viaStream, id: .string("stream \(n)"))
                for key in ["content", "finish_reason", "warnings", "tool_calls"] {
                    XCTAssertEqual(chat[key], stream[key], "\(body.name): \(key)")
                }
            }
        }
        XCTAssertEqual(server.requests(to: "/v1/chat/completions").count, 6)
    }

    /// Arguments as an object, as a double-encoded string, empty, null, invalid JSON and a JSON array.
    func testToolCallArgumentsInEveryFormAServerSends() throws {
        let server = try MockHTTPServer()
        server.enqueue(.jsonText(#"""
            {"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[
            {"id":"c_obj","type":"function","function":{"name":"as_object","arguments":{"city":"Paris","days":[1,2]}}},
            {"id":"c_double","type":"function","function":{"name":"double_encoded","arguments":"\"{\\\"on\\\": true}\""}},
            {"id":"c_empty","type":"function","function":{"name":"empty","arguments":""}},
            {"id":"c_null","type":"function","function":{"name":"null_args","arguments":null}},
            {"id":"c_bad","type":"function","function":{"name":"broken","arguments":"{\"city\": \"Par"}},
            {"id":"c_array","type":"function","function":{"name":"array","arguments":"[1, 2]"}}
            ]}}]}
            """#))
        let worker = try startUpstreamWorker(server)
        let response = try worker.call("chat", hello, id: "t")
        let result = assertResult(response, id: "t")
        XCTAssertEqual(result["tool_calls"], [
            expectedToolCall(id: "c_obj", name: "as_object", arguments: ["city": "Paris", "days": [1, 2]], raw: #"{"city":"Paris","days":[1,2]}"#),
            expectedToolCall(id: "c_double", name: "double_encoded", arguments: ["on": true], raw: #""{\"on\": true}""#),
            expectedToolCall(id: "c_empty", name: "empty", arguments: [:], raw: ""),
            expectedToolCall(id: "c_null", name: "null_args", arguments: [:], raw: ""),
            expectedToolCall(id: "c_bad", name: "broken", arguments: [:], raw: #"{"city": "Par"#),
            expectedToolCall(id: "c_array", name: "array", arguments: [:], raw: "[1, 2]"),
        ])
        XCTAssertEqual(result["finish_reason"], "tool_calls")
        XCTAssertEqual(result["content"], .null)
        XCTAssertEqual(result["usage"], .null, "no usage in the answer: null")
        let warnings = result["warnings"]?.array?.compactMap(\.string) ?? []
        XCTAssertEqual(warnings.count, 2, "one warning per call whose arguments are not an object: \(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("broken") && $0.contains("c_bad") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("array") && $0.contains("c_array") }, "\(warnings)")
        assertTiming(result["timing"] ?? .null)
    }

    func testFinishReasonIsReportedAndCorrectedForTheToolLoop() throws {
        let server = try MockHTTPServer()
        let call = FixtureToolCall(id: "call_9", name: "get_weather", argumentPieces: [#"{"city":"Oslo"}"#])
        server.enqueue(ServerShape.openAI.completion(content: "It was cut", finishReason: "length"))
        server.enqueue(ServerShape.openAI.completion(content: nil, toolCalls: [call], finishReason: "stop"))
        server.enqueue(ServerShape.openAI.completion(content: "Plain text", finishReason: "tool_calls"))
        server.enqueue(ServerShape.openAI.completion(content: "Filtered", finishReason: "content_filter"))
        let worker = try startUpstreamWorker(server)
        var reasons: [JSON] = []
        for n in 1...4 {
            reasons.append(assertResult(try worker.call("chat", hello, id: .number(String(n))), id: .number(String(n)))["finish_reason"] ?? .null)
        }
        XCTAssertEqual(reasons, ["length", "tool_calls", "stop", "content_filter"])
    }

    func testMinimalAnswerWithoutUsageModelOrFinishReason() throws {
        let server = try MockHTTPServer()
        server.enqueue(.jsonText(#"{"choices":[{"message":{"content":"Just text"}}]}"#))
        server.enqueue(.jsonText(#"{"choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"stop"}],"model":""}"#))
        let worker = try startUpstreamWorker(server)
        assertChatResult(try worker.call("chat", hello, id: 1), id: 1,
                         expectedResult(content: "Just text", finishReason: nil, model: nil))
        assertChatResult(try worker.call("chat", hello, id: 2), id: 2,
                         expectedResult(content: nil, model: nil), ttftExpected: true)
    }

    func testThinkSpanInANonStreamedAnswerBecomesReasoning() throws {
        let server = try MockHTTPServer()
        server.enqueue(ServerShape.lmStudio.completion(content: "Hi there!", reasoning: "\nThe user says hello.\n"))
        server.enqueue(ServerShape.lmStudio.completion(content: "Hi there!", reasoning: "\nThe user says hello.\n"))
        let worker = try startUpstreamWorker(server)
        let usage = FixtureUsage(prompt: 30, completion: 9).expected
        assertChatResult(try worker.call("chat", hello, id: 1), id: 1, expectedResult(
            content: "Hi there!", reasoning: "\nThe user says hello.\n", usage: usage, model: ServerShape.lmStudio.model))
        assertResult(try worker.call("configure", ["strip_think": false], id: "c"), id: "c")
        assertChatResult(try worker.call("chat", hello, id: 2), id: 2, expectedResult(
            content: "<think>\nThe user says hello.\n</think>\n\nHi there!", usage: usage, model: ServerShape.lmStudio.model))
    }
}

/// Servers that answer with an event stream although `stream` was not asked for (LiteLLM#25766): the stream is
/// read and its answer returned as one `chat` result.
final class ChatAnsweredWithAStreamTests: XCTestCase {
    func testAnSSEAnswerToChatIsAssembled() throws {
        let server = try MockHTTPServer()
        let shape = ServerShape.liteLLM
        let call = FixtureToolCall(id: shape.toolCallID(0), name: "get_weather", argumentPieces: [#"{"city""#, #": "Nice"}"#])
        server.enqueue(shape.textStream(reasoning: ["Think", "ing"], content: ["Hel", "lo"]).response())
        server.enqueue(shape.toolStream([call]).response())
        let worker = try startUpstreamWorker(server)
        let hello = chatRequest([["role": "user", "content": "Hello"]])
        assertChatResult(try worker.call("chat", hello, id: 1), id: 1, expectedResult(
            content: "Hello", reasoning: "Thinking", usage: FixtureUsage(prompt: 12, completion: 5).expected, model: shape.model))
        assertChatResult(try worker.call("chat", hello, id: 2), id: 2, expectedResult(
            content: nil, toolCalls: [expectedToolCall(id: call.id, name: "get_weather", arguments: ["city": "Nice"], raw: call.arguments)],
            finishReason: "tool_calls", usage: FixtureUsage(prompt: 40, completion: 18).expected, model: shape.model))
        XCTAssertEqual(server.requests.dropFirst().map { $0.json["stream"] }, [nil, nil], "after the warm-up, two chats that asked for no stream")
    }
}
