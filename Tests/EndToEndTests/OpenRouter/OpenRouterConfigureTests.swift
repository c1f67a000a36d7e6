import XCTest
@testable import LLMWorkerTestSupport

/// `configure` selecting openrouter: the key it requires, where the key came from, the defaults it reports.
/// Nothing here contacts a server (the default base_url is only reported, never used).
final class OpenRouterConfigureTests: XCTestCase {
    static func report(apiKeySource: JSON, baseURL: JSON = "https://openrouter.ai/api/v1", model: JSON = nil) -> JSON {
        ["provider": "openrouter", "model": model, "base_url": baseURL, "api_key_set": true, "api_key_source": apiKeySource,
         "headers": [:], "temperature": nil, "max_tokens": nil, "app_url": "https://github.com/caal-project/caal",
         "app_title": "CAAL Voice Assistant", "fallback_models": [], "routing": nil, "strip_think": true,
         "recover_tool_calls": true, "connect_timeout_s": 10, "first_token_timeout_s": 30, "idle_timeout_s": 30, "timeout_s": 120,
         "max_retries": 2, "max_retry_wait_s": 10, "mock": nil,
         "transport": .string(TestTransport.requested ?? "auto"), "effective_transport": baseURL.string?.hasPrefix("http://") == true ? .string(TestTransport.forMockServer) : "urlsession"]
    }

    func testTheExactReportWithTheDefaultBaseURL() throws {
        let worker = try startWorker()
        let reply = try worker.call("configure", ["provider": "openrouter", "api_key": .string(OR.key), "model": "openai/gpt-4o-mini"], id: 1)
        XCTAssertEqual(assertResult(reply, id: 1), Self.report(apiKeySource: "configure", model: "openai/gpt-4o-mini"))
    }

    func testTheKeyFallsBackToTheEnvironment() throws {
        let worker = try startWorker(environment: ["OPENROUTER_API_KEY": OR.key])
        XCTAssertEqual(assertResult(try worker.call("configure", ["provider": "openrouter"], id: 1), id: 1),
                       Self.report(apiKeySource: "env"))
        let given = assertResult(try worker.call("configure", ["api_key": "sk-or-v1-given-in-configure-000"], id: 2), id: 2)
        XCTAssertEqual(given["api_key_source"], "configure", "a key in configure wins over the environment")
        let cleared = assertResult(try worker.call("configure", ["api_key": nil], id: 3), id: 3)
        XCTAssertEqual(cleared, Self.report(apiKeySource: "env"), "clearing it falls back to the environment")
    }

    /// Without a key anywhere, selecting openrouter is -32602 naming api_key, and the active provider stays.
    func testNoKeyIsInvalidParamsAndChangesNothing() throws {
        let worker = try startMockWorker()
        let before = assertResult(try worker.call("configure", [:], id: "before"), id: "before")
        for (id, params) in [("a", ["provider": "openrouter"]), ("b", ["provider": "openrouter", "model": "openai/gpt-4o"]),
                             ("c", ["provider": "openrouter", "api_key": ""]), ("d", ["provider": "openrouter", "api_key": nil])] as [(String, JSON)] {
            let reply = try worker.call("configure", params, id: .string(id))
            assertInvalidParams(reply, id: .string(id), field: "api_key")
            let message = reply["error"]?["message"]?.string ?? ""
            XCTAssertTrue(message.contains("OPENROUTER_API_KEY"), "the message says where a key can come from: \(message)")
        }
        XCTAssertEqual(assertResult(try worker.call("configure", [:], id: "after"), id: "after"), before)
    }

    /// A configured key cannot be removed while openrouter is active and the environment has none.
    func testClearingTheOnlyKeyIsRefused() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        let before = assertResult(try worker.call("configure", [:], id: "before"), id: "before")
        XCTAssertEqual(before, Self.report(apiKeySource: "configure", baseURL: .string(OR.baseURL(server)), model: "openai/gpt-4o-mini"))
        assertInvalidParams(try worker.call("configure", ["api_key": nil, "model": "other/model"], id: 1), id: 1, field: "api_key")
        XCTAssertEqual(assertResult(try worker.call("configure", [:], id: "after"), id: "after"), before)
        XCTAssertEqual(server.requests.map(\.path), ["/api/v1/models/count"], "the first configure's warm-up; a refused configure contacts no server")
    }

    /// The attribution settings become HTTP header values: a line break would end the header (Foundation then
    /// silently dropped the attribution). CRLF is one Swift `Character`, so it is the case that was missed.
    func testAttributionWithALineBreakIsRefused() throws {
        let worker = try startMockWorker()
        let before = assertResult(try worker.call("configure", [:], id: "before"), id: "before")
        let cases: [(String, String, JSON)] = [
            ("u", "app_url", ["app_url": "https://example.org/\r\nX-Injected: 1"]),
            ("t", "app_title", ["app_title": "CAAL\r\nX-Injected: 1"]),
            ("t2", "app_title", ["app_title": "CAAL\nX-Injected: 1"]),
            ("h", "headers.X-Extra", ["headers": ["X-Extra": "a\r\nX-Injected: 1"]]),
            ("k", "api_key", ["api_key": "sk-or-v1-abc\r\nX-Injected: 1"]),
        ]
        for (id, field, extra) in cases {
            var params: [String: JSON] = ["provider": "openrouter", "api_key": .string(OR.key)]
            params.merge(extra.object ?? [:]) { _, new in new }
            assertInvalidParams(try worker.call("configure", .object(params), id: .string(id)), id: .string(id), field: field)
        }
        XCTAssertEqual(assertResult(try worker.call("configure", [:], id: "after"), id: "after"), before)
    }
}
