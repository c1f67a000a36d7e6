import XCTest
@testable import LLMWorkerTestSupport

/// `configure`: the effective configuration as result, partial updates merged, atomic validation, settings
/// remembered per provider, keys never echoed (from configure or the environment), and requests keeping the
/// configuration they started with.
final class ConfigureTests: XCTestCase {
    static let reportKeys: Set<String> = [
        "provider", "model", "base_url", "api_key_set", "api_key_source", "headers", "temperature", "max_tokens",
        "app_url", "app_title", "fallback_models", "routing", "strip_think", "recover_tool_calls",
        "connect_timeout_s", "first_token_timeout_s", "idle_timeout_s", "timeout_s", "max_retries", "max_retry_wait_s", "mock",
        "transport", "effective_transport",
    ]

    private func configure(_ worker: WorkerProcess, _ params: JSON, file: StaticString = #filePath, line: UInt = #line) throws -> JSON {
        let result = assertResult(try worker.call("configure", params, id: "cfg"), id: "cfg", file: file, line: line)
        XCTAssertEqual(result.keys, Self.reportKeys, file: file, line: line)
        return result
    }

    func testMockReportIsExact() throws {
        let worker = try startWorker()
        XCTAssertEqual(try configure(worker, ["provider": "mock"]), [
            "provider": "mock", "model": "mock-1", "base_url": nil, "api_key_set": false, "api_key_source": nil,
            "headers": [:], "temperature": nil, "max_tokens": nil, "app_url": "https://github.com/caal-project/caal",
            "app_title": "CAAL Voice Assistant", "fallback_models": [], "routing": nil, "strip_think": true,
            "recover_tool_calls": true, "connect_timeout_s": 10, "first_token_timeout_s": 30, "idle_timeout_s": 30, "timeout_s": 120,
            "max_retries": 2, "max_retry_wait_s": 10, "mock": nil,
            "transport": .string(TestTransport.requested ?? "auto"), "effective_transport": nil,
        ])
    }

    func testPartialUpdatesMergeAndNullResets() throws {
        let worker = try startWorker()
        _ = try configure(worker, ["provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1/", "model": "m1",
                                   "temperature": 0.5, "headers": ["X-Team": "voice"]])
        let merged = try configure(worker, ["max_tokens": 100, "timeout_s": 60])
        XCTAssertEqual(merged["provider"], "openai_compatible")
        XCTAssertEqual(merged["base_url"], "http://127.0.0.1:9/v1", "trailing slash dropped")
        XCTAssertEqual(merged["model"], "m1")
        XCTAssertEqual(merged["temperature"], 0.5)
        XCTAssertEqual(merged["max_tokens"], 100)
        XCTAssertEqual(merged["timeout_s"], 60)
        XCTAssertEqual(merged["headers"], ["X-Team": "[redacted]"], "header values are never echoed")
        let reset = try configure(worker, ["temperature": nil, "timeout_s": nil])
        XCTAssertEqual(reset["temperature"], .null)
        XCTAssertEqual(reset["timeout_s"], 120)
        XCTAssertEqual(reset["max_tokens"], 100)
    }

    func testAnInvalidCallChangesNothing() throws {
        let worker = try startWorker()
        let before = try configure(worker, ["provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1", "model": "m1"])
        for bad in [["model": "m2", "temperature": 5], ["model": "m2", "base_url": "ftp://x"],
                    ["provider": "mock", "model": "m2", "max_tokens": 0], ["provider": "openrouter", "model": "m2"]] as [JSON] {
            XCTAssertEqual(try worker.call("configure", bad, id: "bad")["error"]?["code"], -32602, "\(bad)")
        }
        XCTAssertEqual(try configure(worker, [:]), before, "the invalid calls changed nothing, not even the active provider")
    }

    func testSettingsAreRememberedPerProvider() throws {
        let worker = try startWorker()
        let compatible = try configure(worker, ["provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1",
                                                "model": "local", "temperature": 0.2])
        let mock = try configure(worker, ["provider": "mock", "model": "mock-x", "mock": ["text": "hello"]])
        XCTAssertEqual(mock["temperature"], .null, "the mock starts from its own settings")
        XCTAssertEqual(mock["base_url"], .null)
        XCTAssertEqual(try configure(worker, ["provider": "openai_compatible"]), compatible, "switching back restores them")
        XCTAssertEqual(try configure(worker, ["provider": "mock"]), mock)
    }

    func testAPIKeyIsNeverEchoed() throws {
        let worker = try startWorker()
        let key = "sk-test-0123456789abcdef"
        let set = try configure(worker, ["provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1", "api_key": .string(key)])
        XCTAssertEqual(set["api_key_set"], true)
        XCTAssertEqual(set["api_key_source"], "configure")
        let cleared = try configure(worker, ["api_key": nil])
        XCTAssertEqual(cleared["api_key_set"], false)
        XCTAssertEqual(cleared["api_key_source"], .null)
        let probe = try worker.call("probe", ["api_key": .string(key), "max_retries": 0], id: "probe", timeout: 120)
        XCTAssertEqual(probe["id"], "probe")
        XCTAssertEqual(try worker.finish(), 0)
        XCTAssertFalse(String(decoding: worker.stdout, as: UTF8.self).contains(key), "the key reached stdout")
        XCTAssertFalse(worker.stderr.contains(key), "the key reached the log")
    }

    func testAPIKeysFallBackToTheEnvironment() throws {
        let worker = try startWorker(["--log-level", "debug"],
                                     environment: ["OPENAI_API_KEY": "env-openai-key-123456", "OPENROUTER_API_KEY": "env-or-key-654321"])
        let compatible = try configure(worker, ["provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1"])
        XCTAssertEqual(compatible["api_key_set"], true)
        XCTAssertEqual(compatible["api_key_source"], "env")
        XCTAssertEqual(try configure(worker, ["api_key": "from-configure-key"])["api_key_source"], "configure")
        XCTAssertEqual(try configure(worker, ["api_key": nil])["api_key_source"], "env", "clearing the key falls back to the environment")
        let router = try configure(worker, ["provider": "openrouter"])
        XCTAssertEqual(router["api_key_set"], true)
        XCTAssertEqual(router["api_key_source"], "env")
        XCTAssertEqual(router["base_url"], "https://openrouter.ai/api/v1")
        XCTAssertEqual(router["app_url"], "https://github.com/caal-project/caal")
        XCTAssertEqual(router["app_title"], "CAAL Voice Assistant")
        XCTAssertEqual(try worker.finish(), 0)
        for secret in ["env-openai-key-123456", "env-or-key-654321", "from-configure-key"] {
            XCTAssertFalse(String(decoding: worker.stdout, as: UTF8.self).contains(secret), "\(secret) reached stdout")
            XCTAssertFalse(worker.stderr.contains(secret), "\(secret) reached the log")
        }
    }

    func testOpenRouterWithoutAnyKeyNamesAPIKey() throws {
        let worker = try startWorker()
        assertInvalidParams(try worker.call("configure", ["provider": "openrouter"], id: 1), id: 1, field: "api_key")
        let env = try startWorker(environment: ["OPENAI_API_KEY": "only-the-other-one-123"])
        assertInvalidParams(try env.call("configure", ["provider": "openrouter", "model": "x/y"], id: 2), id: 2, field: "api_key")
        XCTAssertEqual(try configure(env, ["provider": "openrouter", "api_key": "sk-or-given-123456"])["api_key_source"], "configure")
    }

    func testRequestsKeepTheConfigurationTheyStartedWith() throws {
        let worker = try startMockWorker(mock: ["text": "before", "first_token_delay_ms": 300])
        try worker.send(RPC.request("chat", RPC.chatParams(), id: "old"))
        try worker.send(RPC.request("configure", ["mock": ["text": "after"]], id: "cfg"))
        try worker.send(RPC.request("chat", RPC.chatParams(), id: "new"))
        var contents: [String: JSON] = [:]
        for _ in 0..<3 {
            let message = try worker.nextMessage()
            contents[message["id"]?.string ?? "?"] = message["result"]?["content"]
        }
        XCTAssertEqual(contents["old"], "before", "a configure sent after a request does not reach it")
        XCTAssertEqual(contents["new"], "after", "a configure sent before a request reaches it")
    }

    func testConfigureAsANotificationIsAppliedSilently() throws {
        let worker = try startWorker()
        try worker.send(RPC.notification("configure", ["provider": "mock", "mock": ["text": "quiet"]]))
        XCTAssertEqual(assertResult(try worker.call("chat", RPC.chatParams(), id: 1), id: 1)["content"], "quiet")
    }

    func testProbeDoesNotSaveItsConfiguration() throws {
        let worker = try startMockWorker()
        let before = try configure(worker, [:])
        let probe = assertResult(try worker.call("probe", ["model": "probe-model"], id: "p"), id: "p")
        XCTAssertEqual(probe.keys, ["ok", "provider", "base_url", "model", "checks", "warnings"])
        XCTAssertEqual(probe["ok"], true)
        XCTAssertEqual(probe["provider"], "mock")
        XCTAssertEqual(probe["model"], "probe-model")
        XCTAssertEqual(probe["checks"]?.keys, ["models", "chat", "stream", "tools"])
        XCTAssertEqual(try configure(worker, [:]), before)
    }
}
