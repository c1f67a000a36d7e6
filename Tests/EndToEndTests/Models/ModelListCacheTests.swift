import XCTest
@testable import LLMWorkerTestSupport

/// The model-list cache, seen from outside: per provider, base URL, key and filter; `cached` says which answers
/// came from it; `refresh: true` bypasses it; two identical calls at the same time make one upstream request.
final class ModelListCacheTests: XCTestCase {
    private func serveModels(_ server: MockHTTPServer, delay: TimeInterval = 0) {
        server.route(OR.modelsPath) { _ in
            var actions: [MockAction] = []
            if delay > 0 { actions.append(.sleep(delay)) }
            actions += OR.json(OR.modelList).actions
            return MockResponse(actions)
        }
    }

    func testSecondCallIsCachedAndRefreshBypasses() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        serveModels(server)
        let first = assertResult(try worker.call("listModels", nil, id: 1), id: 1)
        XCTAssertEqual(first["cached"], false)
        let second = assertResult(try worker.call("listModels", nil, id: 2), id: 2)
        XCTAssertEqual(second["cached"], true)
        XCTAssertEqual(second["models"], first["models"])
        XCTAssertEqual(server.requests.map(\.path), ["/api/v1/models/count", OR.modelsPath],
                       "configure's warm-up, one list: the cached answer made no request")

        let refreshed = assertResult(try worker.call("listModels", ["refresh": true], id: 3), id: 3)
        XCTAssertEqual(refreshed["cached"], false)
        XCTAssertEqual(requestsAfterWarmUp(server, count: 2).map(\.path), [OR.modelsPath, OR.modelsPath])
        XCTAssertEqual(assertResult(try worker.call("listModels", ["refresh": false], id: 4), id: 4)["cached"], true)
        XCTAssertEqual(server.requests.count, 3)
    }

    /// A refresh replaces the cached list with the new one.
    func testRefreshUpdatesTheCache() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        server.enqueue(contentsOf: [OR.json(["data": [OR.gpt4oMini]]), OR.json(["data": [OR.claudeHaiku]])], path: OR.modelsPath)
        XCTAssertEqual(assertResult(try worker.call("listModels", nil, id: 1), id: 1)["models"], [OR.gpt4oMiniInfo])
        XCTAssertEqual(assertResult(try worker.call("listModels", ["refresh": true], id: 2), id: 2)["models"], [OR.claudeHaikuInfo])
        XCTAssertEqual(assertResult(try worker.call("listModels", nil, id: 3), id: 3),
                       ["provider": "openrouter", "cached": true, "models": [OR.claudeHaikuInfo]])
    }

    /// The upstream answer is slow: both calls are in flight at once and share the one request.
    func testTwoConcurrentIdenticalCallsMakeOneRequest() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        serveModels(server, delay: 1.0)
        try worker.send(RPC.request("listModels", ["supports_tools": true], id: "a"))
        try worker.send(RPC.request("listModels", ["supports_tools": true], id: "b"))
        var results: [String: JSON] = [:]
        for _ in 0..<2 {
            let message = try worker.nextMessage()
            results[message["id"]?.string ?? "?"] = message["result"]
        }
        XCTAssertEqual(Set(results.keys), ["a", "b"])
        XCTAssertEqual(results["a"]?["models"], [OR.gpt4oMiniInfo, OR.claudeHaikuInfo, OR.autoInfo, OR.gpt4oInfo])
        XCTAssertEqual(results["a"]?["models"], results["b"]?["models"])
        XCTAssertEqual(server.requests.map(\.path), ["/api/v1/models/count", OR.modelsPath + "?supported_parameters=tools"],
                       "the warm-up, then one list for both calls")
        XCTAssertEqual(assertResult(try worker.call("listModels", ["supports_tools": true], id: "c"), id: "c")["cached"], true)
        XCTAssertEqual(server.requests.count, 2)
    }

    /// A failed fetch is not cached: the next call asks again.
    func testFailuresAreNotCached() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server, ["max_retries": 0])
        server.enqueue(OR.error(503, "No endpoints available"), path: OR.modelsPath)
        assertProviderError(try worker.call("listModels", nil, id: 1), id: 1, code: -32007, kind: "unavailable")
        server.enqueue(OR.json(["data": [OR.gpt4o]]), path: OR.modelsPath)
        XCTAssertEqual(assertResult(try worker.call("listModels", nil, id: 2), id: 2),
                       ["provider": "openrouter", "cached": false, "models": [OR.gpt4oInfo]])
    }

    /// Each filter, key, base URL and provider has its own entry.
    func testEntriesPerFilterKeyBaseURLAndProvider() throws {
        let server = try startServer()
        let other = try startServer()
        let worker = try startOpenRouterWorker(server)
        serveModels(server)
        serveModels(other)
        other.route("/v1/models") { _ in OR.json(["data": [["id": "local-model", "object": "model", "owned_by": "me"]]]) }
        server.route("/v1/models") { _ in OR.json(["data": [["id": "other-local", "object": "model"]]]) }

        func cached(_ params: JSON?, _ id: Int) throws -> JSON? {
            assertResult(try worker.call("listModels", params, id: .number(String(id))), id: .number(String(id)))["cached"]
        }
        XCTAssertEqual(try cached(nil, 1), false)
        XCTAssertEqual(try cached(["supports_tools": true], 2), false, "another filter: another entry")
        XCTAssertEqual(try cached(["supports_tools": true], 3), true)
        XCTAssertEqual(try cached(nil, 4), true)
        XCTAssertEqual(server.requests.map(\.path), ["/api/v1/models/count", "/api/v1/models", "/api/v1/models?supported_parameters=tools"])

        // A new key is not a new server: no warm-up.
        _ = try worker.call("configure", ["api_key": "sk-or-v1-another-key-0000000000000000"], id: "k")
        XCTAssertEqual(try cached(nil, 5), false, "another key: another entry")
        XCTAssertEqual(server.requests.last?.header("Authorization"), "Bearer sk-or-v1-another-key-0000000000000000")
        try configureWarmingUp(worker, other, ["base_url": .string(OR.baseURL(other)), "provider": "openrouter"], id: "b")
        XCTAssertEqual(try cached(nil, 6), false, "another base URL: another entry")
        XCTAssertEqual(other.requests.map(\.path), ["/api/v1/models/count", "/api/v1/models"])
        try configureWarmingUp(worker, server, ["base_url": .string(OR.baseURL(server)), "api_key": .string(OR.key), "provider": "openrouter"],
                               id: "back")
        XCTAssertEqual(try cached(nil, 7), true, "the first entry is still there")

        // openai_compatible at the same server is another provider: its own entry, its own list.
        try configureWarmingUp(worker, server, ["provider": "openai_compatible", "base_url": .string(server.v1BaseURL)], id: "oc")
        let compatible = assertResult(try worker.call("listModels", nil, id: 8), id: 8)
        XCTAssertEqual(compatible, ["provider": "openai_compatible", "cached": false, "models": [["id": "other-local"]]])
        XCTAssertEqual(server.requests.count, 7, "3 warm-ups and 4 lists: \(server.requests)")
        XCTAssertEqual(server.requests.filter { $0.path.hasSuffix("/models/count") || $0.path == "/v1/models" }.count, 3 + 1)
    }
}
