import XCTest
@testable import LLMWorkerTestSupport

/// OpenRouter's stream: `: OPENROUTER PROCESSING` keep-alive comments, and errors delivered as a data event after
/// the stream started (HTTP 200 already sent): a top-level `error` and `finish_reason: "error"`.
final class OpenRouterStreamTests: XCTestCase {
    private let question: JSON = ["messages": [["role": "user", "content": "Tell me a story"]]]

    /// Comments while the model warms up are not content: no delta, no error, no warning.
    func testProcessingCommentsBeforeTheFirstTokenAreIgnored() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        server.enqueue(OR.stream([
            .comment, .pause(0.05), .comment, .pause(0.05), .comment,
            .event(OR.chunk(["role": "assistant", "content": ""])),
            .comment,
            .event(OR.chunk(["content": "Once upon"])),
            .event(OR.chunk(["content": " a time."], finishReason: "stop", usage: OR.usage())),
        ]), path: OR.chatPath)
        let (deltas, response) = try worker.stream(question, id: 1)
        XCTAssertEqual(joinedDeltas(deltas, id: 1).content, "Once upon a time.")
        let result = assertResult(response, id: 1)
        XCTAssertEqual(result["content"], "Once upon a time.")
        XCTAssertEqual(result["finish_reason"], "stop")
        XCTAssertEqual(result["warnings"], [])
        XCTAssertEqual(server.requests(to: OR.chatPath).count, 1)
    }

    /// Comments keep a slow stream alive for `idle_timeout_s` (they are traffic), but not for
    /// `first_token_timeout_s` (a model still warming up is silence to the listener).
    func testCommentsResetTheIdleTimerButNotTheFirstTokenTimer() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server, ["idle_timeout_s": 1, "first_token_timeout_s": 1, "max_retries": 0])
        var items: [OR.StreamItem] = [.event(OR.chunk(OR.content("Once")))]
        for _ in 0..<8 { items += [.pause(0.25), .comment] }
        items.append(.event(OR.chunk(["content": " more."], finishReason: "stop")))
        server.enqueue(OR.stream(items), path: OR.chatPath)
        let (deltas, response) = try worker.stream(question, id: "idle")
        XCTAssertEqual(joinedDeltas(deltas, id: "idle").content, "Once more.")
        XCTAssertEqual(assertResult(response, id: "idle")["content"], "Once more.")

        var warmUp: [OR.StreamItem] = []
        for _ in 0..<40 { warmUp += [.comment, .pause(0.25)] }
        warmUp.append(.event(OR.chunk(OR.content("Too late."), finishReason: "stop")))
        server.enqueue(OR.stream(warmUp), path: OR.chatPath)
        let late = try worker.stream(question, id: "first")
        XCTAssertEqual(late.deltas, [])
        let data = assertProviderError(late.response, id: "first", code: -32008, kind: "timeout")
        XCTAssertEqual(data, ["kind": "timeout", "status": nil, "retryable": true, "provider": "openrouter",
                              "partial_content": "", "partial_tool_calls": []])
        let message = late.response["error"]?["message"]?.string ?? ""
        XCTAssertTrue(message.contains("first_token_timeout_s"), message)
        XCTAssertNotNil(server.waitForClientClose(timeout: 10), "the worker closes the warming-up stream")
    }

    /// The documented mid-stream error: string code "server_error", `finish_reason: "error"`. The request ends
    /// with the mapped error, the content already streamed as partial_content, and it is not retried.
    func testMidStreamErrorEndsWithTheMappedErrorAndThePartialContent() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        var failure = OR.chunk(["content": ""], finishReason: "error").object ?? [:]
        failure["error"] = ["code": "server_error", "message": "Provider disconnected"]
        server.enqueue(OR.stream([
            .event(OR.chunk(OR.content("Once upon"))),
            .pause(0.05),
            .event(OR.chunk(["content": " a time"])),
            .pause(0.05),
            .event(.object(failure)),
        ], done: false), path: OR.chatPath)
        let (deltas, response) = try worker.stream(question, id: "m")
        XCTAssertEqual(joinedDeltas(deltas, id: "m").content, "Once upon a time")
        XCTAssertEqual(response, ["jsonrpc": "2.0", "id": "m", "error": [
            "code": -32007,
            "message": "The model's provider failed, as reported by OpenRouter: Provider disconnected (provider: OpenAI).",
            "data": ["kind": "upstream_error", "status": nil, "retryable": true, "provider": "openrouter",
                     "upstream_message": "Provider disconnected", "partial_content": "Once upon a time", "partial_tool_calls": []],
        ]])
        // No retry once the listener heard part of the answer (max_retries is 2 here).
        XCTAssertTrue(try worker.call("ping", id: "p")["result"]?["ok"] == true)
        XCTAssertEqual(server.requests(to: OR.chatPath).count, 1)
    }

    /// A mid-stream error whose code is a number maps by that code; the error arrives in the same network read
    /// as the text before it, which is still delivered.
    func testMidStreamErrorWithANumericCodeInTheSameRead() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        var failure = OR.chunk(["content": ""], finishReason: "error", provider: "Together").object ?? [:]
        failure["error"] = ["code": 502, "message": "Upstream idle timeout", "metadata": ["provider_name": "Together"]]
        let text = "data: \(OR.chunk(OR.content("Partial"), provider: "Together").text)\n\n: OPENROUTER PROCESSING\n\ndata: \(JSON.object(failure).text)\n\n"
        server.enqueue([.status(200, headers: ["Content-Type": "text/event-stream"]), .chunkText(text), .end], path: OR.chatPath)
        let (deltas, response) = try worker.stream(question, id: 5)
        XCTAssertEqual(joinedDeltas(deltas, id: 5).content, "Partial")
        let data = assertProviderError(response, id: 5, code: -32007, kind: "unavailable")
        XCTAssertEqual(data["partial_content"], "Partial")
        XCTAssertEqual(data["upstream_message"], "Upstream idle timeout")
        let message = response["error"]?["message"]?.string ?? ""
        XCTAssertTrue(message.contains("Upstream idle timeout (provider: Together)"), message)
    }

    /// Non-streamed, an error produced while the model ran comes with HTTP 200 in the body.
    func testErrorInsideA200Body() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        server.enqueue(OR.json(["error": ["code": 502, "message": "Provider returned error",
                                          "metadata": ["provider_name": "Fireworks", "raw": "model overloaded"]],
                                "user_id": "user_2abc"]), path: OR.chatPath)
        let reply = try worker.call("chat", question, id: 1)
        let data = assertProviderError(reply, id: 1, code: -32007, kind: "unavailable")
        XCTAssertEqual(data["partial_content"], "")
        let message = reply["error"]?["message"]?.string ?? ""
        XCTAssertTrue(message.contains("Provider returned error (provider: Fireworks): model overloaded"), message)
        XCTAssertEqual(server.requests(to: OR.chatPath).count, 1, "an error the server gave as its answer is not retried")
    }
}
