import XCTest
@testable import LLMWorkerTestSupport

/// Servers that predate `stream_options` reject it with HTTP 400: the worker retries once without it, remembers
/// that for the base_url, and says so in `warnings`.
final class StreamOptionsFallbackTests: XCTestCase {
    private let question = chatRequest([["role": "user", "content": "Hi"]])
    private let rejection = MockResponse.openAIError(status: 400, message: "Unrecognized request argument supplied: stream_options",
                                                     type: "invalid_request_error")
    private let hi = ServerShape.vLLMLegacy.textStream(content: ["Hel", "lo"])

    func testRejectedStreamOptionsAreDroppedRememberedAndWarnedAbout() throws {
        let server = try MockHTTPServer()
        server.enqueue(rejection, path: "/v1/chat/completions")
        server.enqueue(hi.response(), path: "/v1/chat/completions")
        server.enqueue(hi.response(), path: "/v1/chat/completions")
        server.enqueue(hi.response(), path: "/other/chat/completions")
        let worker = try startUpstreamWorker(server)
        let usage = FixtureUsage(prompt: 12, completion: 5).expected

        let (deltas, response) = try worker.stream(question, id: 1)
        XCTAssertEqual(checkDeltas(deltas, id: 1).content, "Hello")
        let result = assertResult(response, id: 1)
        XCTAssertEqual(result.removing("timing", "warnings"),
                       expectedResult(content: "Hello", usage: usage, model: ServerShape.vLLMLegacy.model).removing("warnings"))
        let warnings = result["warnings"]?.array ?? []
        XCTAssertEqual(warnings.count, 1, "\(result)")
        XCTAssertTrue(warnings.first?.string?.contains("stream_options") ?? false, "\(warnings)")
        assertTiming(result["timing"] ?? .null)

        // Remembered for this base_url: asked without it from now on, and nothing to warn about.
        let (_, second) = try worker.stream(question, id: 2)
        assertChatResult(second, id: 2, expectedResult(content: "Hello", usage: usage, model: ServerShape.vLLMLegacy.model))

        // Another base_url on the same host is asked with it again.
        try configureWarmingUp(worker, server, ["base_url": .string("http://127.0.0.1:\(server.port)/other")], id: "c")
        let (_, third) = try worker.stream(question, id: 3)
        assertChatResult(third, id: 3, expectedResult(content: "Hello", usage: usage, model: ServerShape.vLLMLegacy.model))

        let sent = server.requests.filter { $0.method == "POST" }.map(\.json)  // the chats: the warm-ups are GETs
        XCTAssertEqual(sent.count, 4)
        XCTAssertEqual(sent.map { $0["stream_options"] }, [["include_usage": true], nil, nil, ["include_usage": true]])
        XCTAssertEqual(sent.map { $0["stream"] }, [true, true, true, true])
        XCTAssertEqual(sent[1], sent[0].removing("stream_options"), "the retry is the same request without stream_options")
    }

    func testAnother400IsNotRetried() throws {
        let server = try MockHTTPServer()
        server.enqueue(.openAIError(status: 400, message: "Invalid value for 'temperature'", type: "invalid_request_error"))
        let worker = try startUpstreamWorker(server)
        let (_, response) = try worker.stream(question, id: 1)
        assertProviderFailure(response, id: 1, code: -32006, data: expectedErrorData(
            kind: "bad_request", status: 400, retryable: false, upstreamMessage: "Invalid value for 'temperature'"))
        XCTAssertEqual(server.requests(to: Wire.path).count, 1)
    }

    /// Only one retry without stream_options: if that is refused too, its error is the answer.
    func testTheFallbackIsTriedOnce() throws {
        let server = try MockHTTPServer()
        server.enqueue(rejection)
        server.enqueue(.openAIError(status: 400, message: "stream_options is still not supported", type: "invalid_request_error"))
        let worker = try startUpstreamWorker(server)
        let (_, response) = try worker.stream(question, id: 1)
        assertProviderFailure(response, id: 1, code: -32006, data: expectedErrorData(
            kind: "bad_request", status: 400, retryable: false, upstreamMessage: "stream_options is still not supported"))
        XCTAssertEqual(server.requests(to: Wire.path).map { $0.json["stream_options"] }, [["include_usage": true], nil])
    }

    func testChatNeverSendsStreamOptions() throws {
        let server = try MockHTTPServer()
        server.enqueue(ServerShape.openAI.completion(content: "ok"))
        let worker = try startUpstreamWorker(server)
        assertResult(try worker.call("chat", question, id: 1), id: 1)
        XCTAssertEqual(server.requests(to: Wire.path).first?.json.keys, ["model", "messages"])
    }
}
