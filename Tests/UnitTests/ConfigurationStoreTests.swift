import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport

/// ConfigurationStore in-process: atomic validation, per-provider memory, defaults and key fallbacks, snapshots.
final class ConfigurationStoreTests: XCTestCase {
    private func params(_ json: String) throws -> ConfigureParams {
        try JSONDecoder().decode(ConfigureParams.self, from: Data(json.utf8))
    }

    private func field(of error: Error) -> String? {
        (error as? InvalidParams)?.field
    }

    func testNothingIsSelectedBeforeTheFirstConfigure() throws {
        let store = ConfigurationStore(environment: [:])
        XCTAssertNil(store.snapshot().current)
        XCTAssertThrowsError(try store.configure(try params(#"{"model":"m"}"#))) { XCTAssertEqual(self.field(of: $0), "provider") }
        XCTAssertNil(store.snapshot().current, "the failed call selected nothing")
    }

    func testDefaultsPerProvider() throws {
        let store = ConfigurationStore(environment: [:])
        let mock = try store.configure(try params(#"{"provider":"mock"}"#))
        XCTAssertEqual(mock.model, "mock-1")
        XCTAssertNil(mock.baseURL)
        XCTAssertTrue(mock.stripThink)
        XCTAssertTrue(mock.recoverToolCalls)
        XCTAssertEqual(mock.timeouts, Timeouts.defaults)
        XCTAssertEqual(mock.retry, RetrySettings.defaults)
        let router = try store.configure(try params(#"{"provider":"openrouter","api_key":"sk-or-abcdefgh"}"#))
        XCTAssertEqual(router.baseURL, ProviderKind.openRouterDefaultBaseURL)
        XCTAssertEqual(router.appURL, ProviderKind.defaultAppURL)
        XCTAssertEqual(router.appTitle, ProviderKind.defaultAppTitle)
        XCTAssertNil(router.model)
    }

    func testRecoverToolCallsIsRememberedPerProviderAndNullResetsIt() throws {
        let store = ConfigurationStore(environment: [:])
        XCTAssertFalse(try store.configure(try params(#"{"provider":"mock","recover_tool_calls":false}"#)).recoverToolCalls)
        XCTAssertTrue(try store.configure(try params(#"{"provider":"openai_compatible"}"#)).recoverToolCalls)
        XCTAssertFalse(try store.configure(try params(#"{"provider":"mock"}"#)).recoverToolCalls)
        XCTAssertTrue(try store.configure(try params(#"{"recover_tool_calls":null}"#)).recoverToolCalls)
    }

    func testAnInvalidCallChangesNothing() throws {
        let store = ConfigurationStore(environment: [:])
        try store.configure(try params(#"{"provider":"openai_compatible","base_url":"http://h:1/v1","model":"a","temperature":1}"#))
        for bad in [#"{"model":"b","temperature":9}"#, #"{"provider":"mock","max_tokens":0}"#,
                    #"{"provider":"openrouter","model":"b"}"#, #"{"model":"b","base_url":"gopher://h"}"#,
                    #"{"model":"b","headers":{"Bad Name":"x"}}"#] {
            XCTAssertThrowsError(try store.configure(try params(bad)), bad)
        }
        let now = try XCTUnwrap(store.snapshot().current)
        XCTAssertEqual(now.provider, .openaiCompatible)
        XCTAssertEqual(now.model, "a")
        XCTAssertEqual(now.temperature, 1)
    }

    func testSettingsAreRememberedPerProvider() throws {
        let store = ConfigurationStore(environment: [:])
        try store.configure(try params(#"{"provider":"openai_compatible","base_url":"http://h:1/v1/","model":"a","max_tokens":50}"#))
        try store.configure(try params(#"{"provider":"mock","model":"m","temperature":0.3}"#))
        XCTAssertEqual(store.snapshot().settings(for: .openaiCompatible).model, "a", "another provider's settings can be read")
        let back = try store.configure(try params(#"{"provider":"openai_compatible"}"#))
        XCTAssertEqual(back.baseURL, "http://h:1/v1")
        XCTAssertEqual(back.model, "a")
        XCTAssertEqual(back.maxTokens, 50)
        XCTAssertNil(back.temperature, "the mock's temperature stayed with the mock")
        XCTAssertEqual(try store.configure(try params(#"{"provider":"mock"}"#)).temperature, 0.3)
    }

    func testPartialMergeAndReset() throws {
        let store = ConfigurationStore(environment: [:])
        try store.configure(try params(#"{"provider":"mock","temperature":0.5,"headers":{"X-A":"1"},"fallback_models":["x"]}"#))
        let merged = try store.configure(try params(#"{"max_tokens":10}"#))
        XCTAssertEqual(merged.temperature, 0.5)
        XCTAssertEqual(merged.headers, ["X-A": "1"])
        XCTAssertEqual(merged.maxTokens, 10)
        let reset = try store.configure(try params(#"{"temperature":null,"headers":null,"fallback_models":null,"model":null}"#))
        XCTAssertNil(reset.temperature)
        XCTAssertEqual(reset.headers, [:])
        XCTAssertEqual(reset.fallbackModels, [])
        XCTAssertEqual(reset.model, "mock-1", "null puts the default back")
    }

    func testAPIKeysFromConfigureAndEnvironment() throws {
        let store = ConfigurationStore(environment: ["OPENAI_API_KEY": "env-openai", "OPENROUTER_API_KEY": ""])
        let env = try store.configure(try params(#"{"provider":"openai_compatible","base_url":"http://h/v1"}"#))
        XCTAssertEqual(env.apiKey, "env-openai")
        XCTAssertEqual(env.apiKeySource, .env)
        let given = try store.configure(try params(#"{"api_key":"given-key"}"#))
        XCTAssertEqual(given.apiKey, "given-key")
        XCTAssertEqual(given.apiKeySource, .configure)
        XCTAssertEqual(try store.configure(try params(#"{"api_key":""}"#)).apiKeySource, .env, "an empty key is no key")
        XCTAssertEqual(try store.configure(try params(#"{"api_key":null}"#)).apiKeySource, .env)
        XCTAssertThrowsError(try store.configure(try params(#"{"provider":"openrouter"}"#)), "an empty environment variable is no key") {
            XCTAssertEqual(self.field(of: $0), "api_key")
        }
        XCTAssertEqual(store.snapshot().current?.provider, .openaiCompatible)
        let mock = try store.configure(try params(#"{"provider":"mock"}"#))
        XCTAssertNil(mock.apiKey, "the mock reads no environment variable")
    }

    func testPreviewSavesNothing() throws {
        let store = ConfigurationStore(environment: [:])
        try store.configure(try params(#"{"provider":"mock","model":"m1"}"#))
        let preview = try store.snapshot().preview(try params(#"{"model":"m2","temperature":1.5}"#))
        XCTAssertEqual(preview.model, "m2")
        XCTAssertEqual(store.snapshot().current?.model, "m1")
        XCTAssertNil(store.snapshot().current?.temperature)
        XCTAssertThrowsError(try store.snapshot().preview(try params(#"{"provider":"openrouter"}"#)))
        let keyless = try store.snapshot().preview(try params(#"{"provider":"openrouter"}"#), requireKey: false)
        XCTAssertNil(keyless.apiKey, "probe may preview a keyless OpenRouter and report the missing key itself")
    }

    func testSnapshotsAreValues() throws {
        let store = ConfigurationStore(environment: [:])
        try store.configure(try params(#"{"provider":"mock","model":"before"}"#))
        let taken = try XCTUnwrap(store.snapshot().current)
        try store.configure(try params(#"{"model":"after"}"#))
        XCTAssertEqual(taken.model, "before", "a request's snapshot is not changed by a later configure")
    }

    func testConcurrentConfigureAndSnapshotsStayConsistent() throws {
        let store = ConfigurationStore(environment: [:])
        try store.configure(try params(#"{"provider":"mock","model":"m0","max_tokens":1}"#))
        let updates = try (1...200).map { try params(#"{"model":"m\#($0)","max_tokens":\#($0)}"#) }
        DispatchQueue.concurrentPerform(iterations: 400) { index in
            if index % 2 == 0 {
                _ = try? store.configure(updates[index / 2])
            } else if let snapshot = store.snapshot().current {
                XCTAssertEqual(snapshot.model, "m\(snapshot.maxTokens ?? -1)", "a snapshot mixes two configure calls")
            }
        }
    }
}
