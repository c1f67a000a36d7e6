import XCTest
@testable import LLMWorkerTestSupport

/// The worker's own retries (PROTOCOL §8): connection failures, 408/409/429/5xx, with backoff and Retry-After;
/// never other 4xx, never once a delta reached the client; `max_retries` 0 disables; each retry logged at debug.
final class RetryTests: XCTestCase {
    private func unavailable(retryAfterMs: Int? = nil) -> MockResponse {
        .openAIError(status: 503, message: "overloaded", headers: retryAfterMs.map { ["retry-after-ms": String($0)] } ?? [:])
    }

    /// The waits before each retry, in seconds as the worker logs them at debug ("…; retrying in 1.00 s").
    private func assertRetryWaits(_ worker: WorkerProcess, _ expected: [String], _ message: String,
                                  file: StaticString = #filePath, line: UInt = #line) {
        let waits = worker.stderrLines(containing: "; retrying in ", waitingFor: expected.count).map { $0.split(separator: " ").dropLast().last.map(String.init) ?? "" }
        XCTAssertEqual(waits, expected, "\(message): \(worker.stderr)", file: file, line: line)
    }

    func testServiceUnavailableTwiceThenSuccessMakesThreeRequests() throws {
        let server = try MockHTTPServer()
        server.enqueue(contentsOf: [unavailable(), unavailable(), Wire.completion("finally")], path: Wire.path)
        let worker = try startHTTPWorker(server, arguments: ["--log-level", "debug"])
        let result = assertResult(try worker.call("chat", RPC.chatParams(), id: 1), id: 1)
        XCTAssertEqual(result["content"], "finally")
        XCTAssertEqual(server.requests(to: Wire.path).count, 3)
        XCTAssertEqual(worker.stderrLines(containing: "retrying", waitingFor: 2).count, 2, "each retry is logged at debug: \(worker.stderr)")
    }

    func testConnectionRefusedThenServerUpIsRetried() throws {
        // Reserve a port, then free it: the first attempt is refused.
        let placeholder = try MockHTTPServer()
        let port = placeholder.port
        let baseURL = placeholder.v1BaseURL
        placeholder.stop()
        let worker = try startWorker(["--log-level", "debug"])
        // Extra retries only as slack for a slow machine: the first retry normally finds the server.
        assertResult(try worker.call("configure", ["provider": "openai_compatible", "base_url": .string(baseURL), "model": "m",
                                                   "max_retries": 4], id: "setup"), id: "setup")
        try worker.send(RPC.request("chat", RPC.chatParams(), id: 1))
        // Bring the server up as soon as the worker logs the refused attempt; the retry (after ≥ 0.375 s) finds it.
        XCTAssertTrue(eventually(timeout: 20) { !worker.stderrLines(containing: "attempt 1 failed (connection").isEmpty },
                      "the refused attempt is logged: \(worker.stderr)")
        let server = try MockHTTPServer(port: UInt16(port))
        server.enqueue(Wire.completion("up now"), path: Wire.path)
        let result = assertResult(try worker.nextMessage(), id: 1)
        XCTAssertEqual(result["content"], "up now")
        XCTAssertEqual(server.requests(to: Wire.path).count, 1)
    }

    func testRetryAfterSecondsIsHonoured() throws {
        let server = try MockHTTPServer()
        server.enqueue(.openAIError(status: 429, message: "slow down", headers: ["Retry-After": "1"]), path: Wire.path)
        server.enqueue(Wire.completion("ok"), path: Wire.path)
        let worker = try startHTTPWorker(server, arguments: ["--log-level", "debug"])
        XCTAssertEqual(assertResult(try worker.call("chat", RPC.chatParams(), id: 1), id: 1)["content"], "ok")
        XCTAssertEqual(server.requests(to: Wire.path).count, 2)
        // How long the wait really was is the benchmark's business; the wait the worker chose is in its log.
        assertRetryWaits(worker, ["1.00"], "Retry-After: 1 is the wait (a backoff alone is at most 0.5 s)")
    }

    func testRetryAfterMillisecondsIsHonoured() throws {
        let server = try MockHTTPServer()
        server.enqueue(.openAIError(status: 429, message: "slow down", headers: ["retry-after-ms": "1300", "Retry-After": "60"]),
                       path: Wire.path)
        server.enqueue(Wire.stream(["a", "b"]), path: Wire.path)
        let worker = try startHTTPWorker(server, arguments: ["--log-level", "debug"])
        let (deltas, response) = try worker.stream(RPC.chatParams(), id: 1)
        XCTAssertEqual(assertResult(response, id: 1)["content"], "ab")
        XCTAssertFalse(deltas.isEmpty)
        XCTAssertEqual(server.requests(to: Wire.path).count, 2, "retry-after-ms wins over a Retry-After above max_retry_wait_s")
        assertRetryWaits(worker, ["1.30"], "retry-after-ms: 1300 is the wait")
    }

    func testRetryAfterLongerThanTheCapFailsAtOnceAsRateLimited() throws {
        let server = try MockHTTPServer()
        server.enqueue(.openAIError(status: 429, message: "Rate limit exceeded", headers: ["Retry-After": "30"]), path: Wire.path)
        server.enqueue(Wire.completion("never"), path: Wire.path)
        let worker = try startHTTPWorker(server, settings: ["max_retry_wait_s": 5])
        let reply = try worker.call("chat", RPC.chatParams(), id: 1)
        let data = assertProviderError(reply, id: 1, code: -32002, kind: "rate_limited")
        XCTAssertEqual(data["retry_after_s"]?.double, 30)
        XCTAssertEqual(data["status"], 429)
        XCTAssertEqual(data["retryable"], true)
        XCTAssertEqual(server.requests(to: Wire.path).count, 1, "a wait over max_retry_wait_s is left to the client")
    }

    func testServiceUnavailableThreeTimesFailsWithTheAttemptsCounted() throws {
        let server = try MockHTTPServer()
        let worker = try startHTTPWorker(server, arguments: ["--log-level", "debug"])
        for (round, method) in ["chat", "chatStream"].enumerated() {
            let id: JSON = .string(method)
            server.enqueue(contentsOf: [unavailable(retryAfterMs: 20), unavailable(retryAfterMs: 20), unavailable(retryAfterMs: 20)],
                           path: Wire.path)
            let reply = try worker.call(method, RPC.chatParams(), id: id)
            let data = assertProviderError(reply, id: id, code: -32007, kind: "unavailable")
            XCTAssertEqual(data["attempts"], 3)
            XCTAssertEqual(data["status"], 503)
            XCTAssertEqual(data["retryable"], true)
            XCTAssertEqual(data["partial_content"], "")
            XCTAssertTrue(reply["error"]?["message"]?.string?.contains("3 attempts") == true, "the message says so: \(reply)")
            XCTAssertEqual(server.requests(to: Wire.path).count, 3 * (round + 1))
        }
        XCTAssertEqual(worker.stderrLines(containing: "retrying", waitingFor: 4).count, 4, worker.stderr)
    }

    func testRetriedStatuses() throws {
        let server = try MockHTTPServer()
        let worker = try startHTTPWorker(server, settings: ["max_retries": 1])
        var expectedRequests = 0
        for (n, status) in [408, 409, 429, 500, 502, 504].enumerated() {
            server.enqueue(.openAIError(status: status, message: "try again", headers: ["retry-after-ms": "10"]), path: Wire.path)
            server.enqueue(Wire.completion("after \(status)"), path: Wire.path)
            let reply = try worker.call("chat", RPC.chatParams(), id: .number(String(n)))
            XCTAssertEqual(assertResult(reply, id: .number(String(n)))["content"], .string("after \(status)"), "HTTP \(status) is retried")
            expectedRequests += 2
            XCTAssertEqual(server.requests(to: Wire.path).count, expectedRequests, "HTTP \(status)")
        }
    }

    func testOtherClientErrorsAreNeverRetried() throws {
        let server = try MockHTTPServer()
        let worker = try startHTTPWorker(server, settings: ["max_retry_wait_s": 0])
        let cases: [(Int, Int, String)] = [(400, -32006, "bad_request"), (401, -32001, "auth"), (403, -32001, "auth"),
                                           (404, -32005, "not_found"), (413, -32006, "bad_request"), (422, -32006, "bad_request")]
        for (n, (status, code, kind)) in cases.enumerated() {
            let before = server.requests(to: Wire.path).count
            server.enqueue(.openAIError(status: status, message: "no", headers: ["retry-after-ms": "0"]), path: Wire.path)
            let method = n % 2 == 0 ? "chat" : "chatStream"
            let reply = try worker.call(method, RPC.chatParams(), id: .number(String(n)))
            let data = assertProviderError(reply, id: .number(String(n)), code: code, kind: kind)
            XCTAssertEqual(data["status"]?.int, status)
            XCTAssertNil(data["attempts"]?.int.flatMap { $0 > 1 ? $0 : nil }, "HTTP \(status) is not retried: \(reply)")
            XCTAssertEqual(server.requests(to: Wire.path).count, before + 1, "HTTP \(status): one request")
        }
    }

    func testNothingIsRetriedOnceADeltaWasSent() throws {
        let server = try MockHTTPServer()
        server.enqueue([Wire.streamHead, .sse(Wire.content("Hello ")), .sse(Wire.content("wor")), .sleep(0.2), .reset], path: Wire.path)
        server.enqueue(Wire.stream(["a repeated sentence"]), path: Wire.path)
        let worker = try startHTTPWorker(server, arguments: ["--log-level", "debug"])
        let (deltas, response) = try worker.stream(RPC.chatParams(), id: 1)
        let data = assertProviderError(response, id: 1, code: -32009, kind: "connection")
        let sent = deltas.compactMap { $0["params"]?["content"]?.string }.joined()
        XCTAssertEqual(sent, "Hello wor")
        XCTAssertEqual(data["partial_content"]?.string, sent)
        XCTAssertEqual(data["partial_tool_calls"], [])
        XCTAssertEqual(server.requests(to: Wire.path).count, 1, "never retried after a delta")
        XCTAssertTrue(worker.stderrLines(containing: "retrying").isEmpty, worker.stderr)
        try worker.assertAlive()
    }

    func testMaxRetriesZeroDisablesRetries() throws {
        let server = try MockHTTPServer()
        server.enqueue(contentsOf: [unavailable(retryAfterMs: 10), Wire.completion("no")], path: Wire.path)
        let worker = try startHTTPWorker(server, settings: ["max_retries": 0], arguments: ["--log-level", "debug"])
        let data = assertProviderError(try worker.call("chat", RPC.chatParams(), id: 1), id: 1, code: -32007, kind: "unavailable")
        XCTAssertNotEqual(data["attempts"]?.int ?? 1, 2)
        XCTAssertEqual(server.requests(to: Wire.path).count, 1)
        XCTAssertTrue(worker.stderrLines(containing: "retrying").isEmpty, worker.stderr)
    }
}
