import XCTest
@testable import LLMWorkerTestSupport

/// `chatStream` against the wire shapes of OpenAI, vLLM, llama.cpp, LM Studio, Ollama, LiteLLM and OpenRouter:
/// the deltas (indexes, content, reasoning kept apart, tool-call fragments) and the final ChatResult.
final class ServerShapeStreamTests: XCTestCase {
    private let question = chatRequest([["role": "user", "content": "Say hello"]])
    private let reasoningPieces = ["The user ", "wants a greeting", " in French."]
    private let contentPieces = ["Bon", "jour", " à toi", " 👋", "!"]

    func testTextWithReasoningOfEveryServerShape() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        for shape in ServerShape.allCases {
            server.enqueue(shape.textStream(reasoning: reasoningPieces, content: contentPieces).response(delay: 0.002))
            let id = JSON.string(shape.rawValue)
            let (deltas, response) = try worker.stream(question, id: id)
            let transcript = checkDeltas(deltas, id: id)
            XCTAssertEqual(transcript.content, contentPieces.joined(), "\(shape)")
            XCTAssertEqual(transcript.reasoning, reasoningPieces.joined(), "\(shape)")
            XCTAssertEqual(transcript.toolFragments, [], "\(shape)")
            for delta in deltas {
                let content = delta["params"]?["content"]?.string ?? ""
                for forbidden in ["user", "greeting", "French", "<", "think"] {
                    XCTAssertFalse(content.contains(forbidden), "\(shape): reasoning or a tag in content: \(delta)")
                }
            }
            assertChatResult(response, id: id, expectedResult(
                content: contentPieces.joined(), reasoning: reasoningPieces.joined(),
                usage: shape.expectedUsage(FixtureUsage(prompt: 12, completion: 5)), model: shape.model,
                upstreamProvider: shape.upstreamProvider))
        }
    }

    func testFragmentedToolCallsOfEveryServerShape() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        for shape in ServerShape.allCases {
            let calls = [
                FixtureToolCall(id: shape.toolCallID(0), name: "get_weather", argumentPieces: [#"{"ci"#, #"ty": "#, #""Par"#, #"is"}"#]),
                FixtureToolCall(id: shape.toolCallID(1), name: "get_time", argumentPieces: [#"{"tz":"#, #""Europe/Paris"}"#]),
            ]
            server.enqueue(shape.toolStream(calls).response(delay: 0.002))
            let id = JSON.string(shape.rawValue)
            let (deltas, response) = try worker.stream(chatRequest([["role": "user", "content": "Weather and time?"]],
                                                                   tools: [weatherTool, timeTool]), id: id)
            let transcript = checkDeltas(deltas, id: id)
            XCTAssertEqual(transcript.content, "", "\(shape)")
            XCTAssertEqual(transcript.toolArguments, [0: calls[0].arguments, 1: calls[1].arguments], "\(shape)")
            XCTAssertEqual(transcript.toolHeads[0]?.id, calls[0].id, "\(shape)")
            XCTAssertEqual(transcript.toolHeads[0]?.name, "get_weather", "\(shape)")
            XCTAssertEqual(transcript.toolHeads[1]?.id, calls[1].id, "\(shape)")
            XCTAssertEqual(transcript.toolHeads[1]?.name, "get_time", "\(shape)")
            assertChatResult(response, id: id, expectedResult(
                content: nil, toolCalls: [
                    expectedToolCall(id: calls[0].id, name: "get_weather", arguments: ["city": "Paris"], raw: calls[0].arguments),
                    expectedToolCall(id: calls[1].id, name: "get_time", arguments: ["tz": "Europe/Paris"], raw: calls[1].arguments),
                ],
                finishReason: "tool_calls", usage: shape.expectedUsage(FixtureUsage(prompt: 40, completion: 18)), model: shape.model,
                upstreamProvider: shape.upstreamProvider))
        }
    }

    /// Some models say a sentence before calling a tool: content deltas, then fragments.
    func testContentBeforeAToolCall() throws {
        let server = try MockHTTPServer()
        let call = FixtureToolCall(id: "call_1", name: "get_weather", argumentPieces: [#"{"city":"#, #""Rome"}"#])
        server.enqueue(ServerShape.openAI.toolStream([call], content: ["Let me ", "check."]).response(delay: 0.002))
        let worker = try startUpstreamWorker(server)
        let (deltas, response) = try worker.stream(question, id: 1)
        let transcript = checkDeltas(deltas, id: 1)
        XCTAssertEqual(transcript.content, "Let me check.")
        XCTAssertEqual(transcript.toolArguments, [0: #"{"city":"Rome"}"#])
        assertChatResult(response, id: 1, expectedResult(
            content: "Let me check.",
            toolCalls: [expectedToolCall(id: "call_1", name: "get_weather", arguments: ["city": "Rome"], raw: #"{"city":"Rome"}"#)],
            finishReason: "tool_calls", usage: FixtureUsage(prompt: 40, completion: 18).expected, model: ServerShape.openAI.model))
    }

    /// LiteLLM reports an upstream failure after the stream started as a `data: {"error": …}` event and closes
    /// without `[DONE]`; its `code` is the status as a string and `type`/`param` the string "None".
    func testLiteLLMErrorEventMidStreamEndsWithThePartialContent() throws {
        let server = try MockHTTPServer()
        let shape = ServerShape.liteLLM
        var pieces = Array(shape.textStream(content: ["Once upon", " a time"]).pieces.prefix(3))
        let message = "litellm.InternalServerError: InternalServerError: OpenAIException - Connection error."
        let event: JSON = ["error": ["message": .string(message), "type": "None", "param": "None", "code": "500"]]
        pieces.append(.data(event.text))
        server.enqueue(SSEBody(pieces).response(delay: 0.002, close: true))
        let worker = try startUpstreamWorker(server)
        let (deltas, response) = try worker.stream(question, id: "e")
        XCTAssertEqual(checkDeltas(deltas, id: "e").content, "Once upon a time")
        assertProviderFailure(response, id: "e", code: -32007, data: expectedErrorData(
            kind: "upstream_error", status: 500, retryable: true, upstreamMessage: message, partialContent: "Once upon a time"))
    }

    /// OpenRouter's mid-stream error: a chunk with a top-level `error` (string code) and `finish_reason: "error"`.
    func testOpenRouterErrorChunkMidStream() throws {
        let server = try MockHTTPServer()
        let shape = ServerShape.openRouter
        var pieces = Array(shape.textStream(content: ["Partial", " answer"]).pieces.prefix(5))
        pieces.append(.data(shape.chunk(["content": ""], finishReason: "error",
                                        topLevel: ["error": ["code": "server_error", "message": "Provider disconnected"]])))
        server.enqueue(SSEBody(pieces).response(delay: 0.002, close: true))
        let worker = try startUpstreamWorker(server)
        let (deltas, response) = try worker.stream(question, id: "e")
        XCTAssertEqual(checkDeltas(deltas, id: "e").content, "Partial answer")
        let error = response["error"] ?? .null
        XCTAssertEqual(error["code"], -32007)
        XCTAssertEqual(error["data"]?["kind"], "upstream_error")
        XCTAssertEqual(error["data"]?["partial_content"], "Partial answer")
        XCTAssertEqual(error["data"]?["upstream_message"], "Provider disconnected")
        XCTAssertTrue(error["message"]?.string?.contains("Provider disconnected") ?? false, "\(response)")
    }

    /// Ollama sends each call whole: one fragment per call, with id, name and the complete arguments.
    func testOllamaWholeToolCallsAreForwardedAsOneFragmentEach() throws {
        let server = try MockHTTPServer()
        let shape = ServerShape.ollama
        let calls = [FixtureToolCall(id: shape.toolCallID(0), name: "get_weather", argumentPieces: [#"{"city":"Paris"}"#])]
        server.enqueue(shape.toolStream(calls).response())
        let worker = try startUpstreamWorker(server)
        let (deltas, _) = try worker.stream(question, id: 1)
        XCTAssertEqual(checkDeltas(deltas, id: 1).toolFragments,
                       [["index": 0, "id": .string(calls[0].id), "name": "get_weather", "arguments": #"{"city":"Paris"}"#]])
    }

    /// Some servers and proxies repeat `id` and `name` in every fragment of a call. The client is promised them
    /// with the first fragment only (accumulators that concatenate names would get "get_weatherget_weather").
    func testRepeatedIdAndNameAreForwardedWithTheFirstFragmentOnly() throws {
        let server = try MockHTTPServer()
        let shape = ServerShape.openAI
        var pieces: [SSEPiece] = [.data(shape.chunk(["role": "assistant", "content": nil], finishReason: .null))]
        for piece in [#"{"city""#, #": "Lyon"}"#] {
            let fragment: JSON = ["index": 0, "id": "call_rep", "type": "function",
                                  "function": ["name": "get_weather", "arguments": .string(piece)]]
            pieces.append(.data(shape.chunk(["tool_calls": [fragment]], finishReason: .null)))
        }
        pieces += [.data(shape.chunk([:], finishReason: "tool_calls")), .done]
        server.enqueue(SSEBody(pieces).response(delay: 0.002))
        let worker = try startUpstreamWorker(server)
        let (deltas, response) = try worker.stream(question, id: 1)
        let transcript = checkDeltas(deltas, id: 1)
        XCTAssertEqual(transcript.toolFragments.first, ["index": 0, "id": "call_rep", "name": "get_weather", "arguments": #"{"city""#])
        XCTAssertEqual(transcript.toolArguments, [0: #"{"city": "Lyon"}"#])
        assertChatResult(response, id: 1, expectedResult(
            content: nil,
            toolCalls: [expectedToolCall(id: "call_rep", name: "get_weather", arguments: ["city": "Lyon"], raw: #"{"city": "Lyon"}"#)],
            finishReason: "tool_calls", model: shape.model))
    }
}
