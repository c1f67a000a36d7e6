import XCTest
@testable import LLMWorkerTestSupport

/// Numbers at the edge of what JSON and HTTP headers can carry, from the client or from a server: each is
/// answered (as a limit that never comes, an absent value or a saturated count), never a crash converting it.
final class HostileNumbersTests: XCTestCase {
    func testHugeLimitsFromConfigure() throws {
        let server = try MockHTTPServer()
        server.route(Wire.path) { request in
            (request.bodyJSON?["stream"] as? Bool) == true ? Wire.stream(["fine"]) : Wire.completion("fine")
        }
        server.route("/v1/models") { _ in .json(body: ["data": [["id": "m"]]]) }
        let worker = try startHTTPWorker(server, settings: ["timeout_s": 1e300, "connect_timeout_s": 1e300, "first_token_timeout_s": 1e300,
                                                            "idle_timeout_s": 1e300, "max_retry_wait_s": 1e300])
        XCTAssertEqual(assertResult(try worker.call("chat", RPC.chatParams(), id: 1), id: 1)["content"], "fine")
        XCTAssertEqual(assertResult(try worker.stream(RPC.chatParams(), id: 2).response, id: 2)["content"], "fine")
        assertResult(try worker.call("listModels", ["refresh": true], id: 3), id: 3)
        try worker.assertAlive()
    }

    func testHugeNumbersFromAServer() throws {
        let server = try MockHTTPServer()
        let huge: [String: Any] = ["prompt_tokens": 1e40, "completion_tokens": 2, "total_tokens": 3]
        let overflowing: [String: Any] = ["prompt_tokens": Int.max, "completion_tokens": 1]
        for usage in [huge, overflowing] {
            server.enqueue(.json(body: ["choices": [["index": 0, "message": ["content": "ok"], "finish_reason": "stop"]], "usage": usage]),
                           path: Wire.path)
        }
        server.enqueue(.sseStream(events: [Wire.content("ok"), mockJSONString(["choices": [], "usage": huge])]), path: Wire.path)
        server.enqueue(.openAIError(status: 429, message: "later", headers: ["Retry-After": "99999999999999999999999"]), path: Wire.path)
        // An unreadable (infinite) retry-after-ms is ignored: the usual backoff applies.
        for _ in 0..<2 {
            server.enqueue(.openAIError(status: 503, message: "later", headers: ["retry-after-ms": "1" + String(repeating: "0", count: 400)]),
                           path: Wire.path)
        }
        let worker = try startHTTPWorker(server, settings: ["max_retries": 1])
        XCTAssertEqual(assertResult(try worker.call("chat", RPC.chatParams(), id: 1), id: 1)["usage"], .null, "a count that fits no integer is no count")
        XCTAssertEqual(assertResult(try worker.call("chat", RPC.chatParams(), id: 2), id: 2)["usage"]?["total_tokens"]?.int, Int.max)
        XCTAssertEqual(assertResult(try worker.stream(RPC.chatParams(), id: 3).response, id: 3)["content"], "ok")
        let limited = assertProviderError(try worker.call("chat", RPC.chatParams(), id: 4), id: 4, code: -32002, kind: "rate_limited")
        XCTAssertEqual(limited["retry_after_s"]?.double ?? 0, 1e23, accuracy: 1e10)
        assertProviderError(try worker.call("chat", RPC.chatParams(), id: 5), id: 5, code: -32007, kind: "unavailable")
        try worker.assertAlive()
    }

    func testHugeNumbersFromTheClient() throws {
        let worker = try startMockWorker(arguments: ["--shutdown-grace", "1e300"])
        // A scripted count whose sum would overflow is refused, naming the field.
        let usage: JSON = ["prompt_tokens": .number(String(Int.max)), "completion_tokens": 1]
        assertInvalidParams(try worker.call("chat", RPC.chatParams(mock: ["usage": usage]), id: 1), id: 1, field: "extra.mock.usage.prompt_tokens")
        for id in ["a", "b"] {
            _ = try worker.call("chat", RPC.chatParams(mock: ["delay_ms": 1e300, "first_token_delay_ms": .number("1e400")]), id: .string(id))
        }
        try worker.assertAlive()
        XCTAssertEqual(try worker.finish(), 0, "an enormous grace is waited on only while requests are in flight")
    }
}

/// Compact JSON text (sorted keys) of a value, for hand-built SSE events.
func mockJSONString(_ value: Any) -> String { String(decoding: mockJSONData(value), as: UTF8.self) }
