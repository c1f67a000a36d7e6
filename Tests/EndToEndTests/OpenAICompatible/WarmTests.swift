import XCTest
@testable import LLMWorkerTestSupport

/// Connections opened before the user speaks: `configure` opens one in the background with a cheap GET, and
/// `warm` opens a new one when the server has closed the pooled one. What the server saw, connection by
/// connection, shows which request travelled on which.
final class WarmTests: XCTestCase {
    private let question = chatRequest([["role": "user", "content": "Hi"]])
    /// `reused` is known where the worker can count its own TCP sockets (Linux's /proc).
    #if os(Linux)
    private let reusedKnown = true
    #else
    private let reusedKnown = false
    #endif

    private func expectedReused(_ value: Bool) -> JSON { reusedKnown ? .bool(value) : .null }

    /// A `warm` result without its time, after checking that the time is a number ≥ 0.
    private func withoutMs(_ response: JSON, id: JSON, file: StaticString = #filePath, line: UInt = #line) -> JSON {
        let result = assertResult(response, id: id, file: file, line: line)
        XCTAssertEqual(result.keys, ["ok", "provider", "ms", "reused", "status", "error"], "\(result)", file: file, line: line)
        XCTAssertGreaterThanOrEqual(result["ms"]?.double ?? -1, 0, "\(result)", file: file, line: line)
        return result.removing("ms")
    }

    func testConfigureOpensAConnectionAndTheFirstChatTravelsOnIt() throws {
        let server = try MockHTTPServer()
        server.enqueue(ServerShape.openAI.completion(content: "Hello."))
        let key = "sk-" + String(repeating: "warm", count: 6)
        let worker = try startUpstreamWorker(server, config: ["api_key": .string(key), "headers": ["X-Proxy-Token": "t0ken"]])
        let warmUp = server.requests[0]
        XCTAssertEqual(warmUp.method, "GET")
        XCTAssertEqual(warmUp.path, "/v1/models")
        XCTAssertEqual(warmUp.body, Data())
        XCTAssertEqual(warmUp.headers.values("Authorization"), ["Bearer \(key)"], "the key, as on every request to this server")
        XCTAssertEqual(warmUp.header("X-Proxy-Token"), "t0ken", "configured headers too (a proxy may need them)")
        XCTAssertEqual(warmUp.header("Accept"), "application/json")
        XCTAssertEqual(warmUp.header("User-Agent")?.hasPrefix("caal-llm-worker/"), true)

        assertResult(try worker.call("chat", question, id: 1), id: 1)
        XCTAssertEqual(server.requests.map(\.path), ["/v1/models", "/v1/chat/completions"])
        XCTAssertEqual(server.requests.map(\.connectionID), [1, 1], "the chat travelled on the connection configure opened")
        XCTAssertEqual(server.connectionCount, 1)
        XCTAssertFalse(worker.stderr.contains(key), "the key is never logged")
    }

    /// `configure` answers without waiting for its warm-up; a request read while the warm-up is still under way
    /// waits for it, at most `connect_timeout_s` (the warm-up's own limit), and then goes ahead.
    func testConfigureDoesNotWaitForAStalledWarmUpAndTheChatGoesAheadAfterItsLimit() throws {
        let server = try startServer()
        server.route("/v1/models") { _ in [.stall] }
        server.enqueue(ServerShape.openAI.completion(content: "Still here."), path: "/v1/chat/completions")
        let worker = try startWorker(["--log-level", "info"])
        let params: JSON = ["provider": "openai_compatible", "base_url": .string(server.v1BaseURL), "model": "m",
                            "connect_timeout_s": 0.5, "max_retries": 0]
        assertResult(try worker.call("configure", params, id: "c"), id: "c")
        XCTAssertTrue(server.waitForRequests(count: 1, timeout: 10))
        XCTAssertEqual(assertResult(try worker.call("chat", question, id: 1), id: 1)["content"], "Still here.")
        XCTAssertEqual(server.requests.map(\.path), ["/v1/models", "/v1/chat/completions"])
        XCTAssertNotEqual(server.requests[1].connectionID, server.requests[0].connectionID)
        XCTAssertTrue(server.waitForCloseEvents(count: 1, timeout: 10), "the stalled connection was given up")
        XCTAssertEqual(server.closeEvents.map(\.connectionID), [server.requests[0].connectionID])
        XCTAssertTrue(worker.waitForStderr(containing: "could not pre-open a connection to \(server.v1BaseURL)"), worker.stderr)
        XCTAssertFalse(worker.stderr.contains(" error: ") || worker.stderr.contains(" warn: "), "a failed warm-up is not a problem: \(worker.stderr)")
    }

    /// Only a change of server (provider or base_url) opens another connection.
    func testOnlyANewServerIsWarmedUpAgain() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        let sameServer: [JSON] = [["model": "other"], ["temperature": 0.3, "api_key": "k-1"], ["timeout_s": 30], [:]]
        for (n, params) in sameServer.enumerated() {
            assertResult(try worker.call("configure", params, id: .number(String(n))), id: .number(String(n)))
        }
        try configureWarmingUp(worker, server, ["base_url": .string("http://127.0.0.1:\(server.port)/v2")], id: "base")
        assertResult(try worker.call("configure", ["provider": "mock"], id: "mock"), id: "mock")
        try configureWarmingUp(worker, server, ["provider": "openai_compatible", "base_url": .string("http://127.0.0.1:\(server.port)/v2")],
                               id: "back")
        assertResult(try worker.call("ping", nil, id: "p"), id: "p")
        XCTAssertEqual(server.requests.map(\.path), ["/v1/models", "/v2/models", "/v2/models"])
    }

    /// The server closes idle connections (as llama.cpp and vLLM do after 5 s): `warm` opens a new one, and the
    /// next chat travels on it. A `warm` while the connection is open reuses it.
    func testWarmAfterTheServerClosedTheConnectionOpensTheOneTheNextChatUses() throws {
        let server = try MockHTTPServer()
        server.idleTimeout = 0.2
        server.enqueue(contentsOf: [ServerShape.openAI.completion(content: "One."), ServerShape.openAI.completion(content: "Two.")],
                       path: "/v1/chat/completions")
        let worker = try startUpstreamWorker(server)
        assertResult(try worker.call("chat", question, id: 1), id: 1)
        XCTAssertTrue(server.waitForOpenConnections(atMost: 0, timeout: 10), "the server closed its idle connections")
        server.idleTimeout = nil
        let opened = server.connectionCount

        server.answerWarmUp()
        let warm = withoutMs(try worker.call("warm", nil, id: "w"), id: "w")
        XCTAssertEqual(warm, ["ok": true, "provider": "openai_compatible", "reused": expectedReused(false), "status": 200, "error": nil])
        let warmRequest = try XCTUnwrap(server.requests.last)
        XCTAssertEqual("\(warmRequest.method) \(warmRequest.path)", "GET /v1/models")
        XCTAssertEqual(warmRequest.connectionID, opened + 1, "a new connection")

        XCTAssertEqual(assertResult(try worker.call("chat", question, id: 2), id: 2)["content"], "Two.")
        let chat = try XCTUnwrap(server.requests.last)
        XCTAssertEqual(chat.path, "/v1/chat/completions")
        XCTAssertEqual(chat.connectionID, warmRequest.connectionID, "the chat travelled on the connection warm opened")

        server.answerWarmUp()
        let again = withoutMs(try worker.call("warm", [:], id: "w2"), id: "w2")
        XCTAssertEqual(again, ["ok": true, "provider": "openai_compatible", "reused": expectedReused(true), "status": 200, "error": nil])
        XCTAssertEqual(server.requests.last?.connectionID, warmRequest.connectionID)
        XCTAssertEqual(server.connectionCount, opened + 1)
    }

    /// A server that is not there: `warm` reports it in its result, and nothing else is affected.
    func testWarmAgainstADeadServerIsAResultAndTheWorkerGoesOn() throws {
        let worker = try startWorker(["--log-level", "info"])
        let base = "http://127.0.0.1:\(try closedLocalPort())/v1"
        assertResult(try worker.call("configure", ["provider": "openai_compatible", "base_url": .string(base), "model": "m",
                                                   "max_retries": 0], id: "c"), id: "c")
        let warm = withoutMs(try worker.call("warm", nil, id: "w"), id: "w")
        XCTAssertEqual(warm.removing("error"), ["ok": false, "provider": "openai_compatible", "reused": nil, "status": nil])
        let error = warm["error"] ?? .null
        XCTAssertEqual(error.removing("message"), ["code": -32009, "kind": "connection"])
        XCTAssertTrue(error["message"]?.string?.contains("connection refused") == true, "\(error)")
        XCTAssertFalse(error["message"]?.string?.contains("Gave up") == true, "one attempt, no retries: \(error)")

        XCTAssertEqual(assertResult(try worker.call("ping", nil, id: "p"), id: "p")["ok"], true)
        assertProviderError(try worker.call("chat", question, id: 1), id: 1, code: -32009, kind: "connection")
        assertResult(try worker.call("configure", ["provider": "mock"], id: "m"), id: "m")
        XCTAssertEqual(assertResult(try worker.call("chat", question, id: 2), id: 2)["content"], "You said: Hi")
        XCTAssertTrue(worker.waitForStderr(containing: "could not pre-open a connection to \(base)"), worker.stderr)
    }

    func testWarmNeedsAServerToWarm() throws {
        let worker = try startWorker()
        let data = assertProviderError(try worker.call("warm", nil, id: 1), id: 1, code: -32010, kind: "not_configured")
        XCTAssertEqual(data["provider"], .null)
        assertInvalidParams(try worker.call("warm", ["provider": "nope"], id: 2), id: 2, field: "provider")
        assertProviderError(try worker.call("warm", ["provider": "openai_compatible"], id: 3), id: 3, code: -32010, kind: "not_configured")
        // The mock makes no connections: nothing to warm, and that is a success.
        let mock = assertResult(try worker.call("warm", ["provider": "mock"], id: 4), id: 4)
        XCTAssertEqual(mock, ["ok": true, "provider": "mock", "ms": 0, "reused": nil, "status": nil, "error": nil])
        assertResult(try worker.call("configure", ["provider": "mock"], id: "c"), id: "c")
        XCTAssertEqual(assertResult(try worker.call("warm", nil, id: 5), id: 5), mock)
    }

    /// The warm-up is not a model list: listModels still asks the server, and its cache does not answer `warm`.
    func testWarmIsNotAModelList() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        server.answerWarmUp()
        XCTAssertEqual(assertResult(try worker.call("warm", nil, id: "w"), id: "w")["ok"], true)
        server.enqueue(.json(body: ["data": [["id": "listed"]]]), path: "/v1/models")
        XCTAssertEqual(assertResult(try worker.call("listModels", nil, id: 1), id: 1),
                       ["provider": "openai_compatible", "cached": false, "models": [["id": "listed"]]])
        server.answerWarmUp()
        XCTAssertEqual(assertResult(try worker.call("warm", nil, id: "w2"), id: "w2")["ok"], true)
        XCTAssertEqual(server.requests.map(\.path), Array(repeating: "/v1/models", count: 4), "warm-up, warm, list, warm")
    }

    /// OpenRouter's model list is megabytes: its warm-up asks for the count, with the key and the attribution.
    func testOpenRouterIsWarmedUpWithTheModelCount() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server, ["app_title": "Kitchen"], arguments: ["--log-level", "debug"])
        let warmUp = server.requests[0]
        XCTAssertEqual("\(warmUp.method) \(warmUp.path)", "GET /api/v1/models/count")
        assertOpenRouterHeaders(warmUp, title: "Kitchen")
        XCTAssertEqual(warmUp.header("Accept"), "application/json")

        server.enqueue(OR.json(["data": ["count": 321]]), path: "/api/v1/models/count")
        let warm = withoutMs(try worker.call("warm", nil, id: "w"), id: "w")
        XCTAssertEqual(warm, ["ok": true, "provider": "openrouter", "reused": expectedReused(true), "status": 200, "error": nil])
        XCTAssertEqual(server.requests.map(\.path), ["/api/v1/models/count", "/api/v1/models/count"])
        XCTAssertEqual(Set(server.requests.map(\.connectionID)), [1])
        XCTAssertTrue(worker.waitForStderr(containing: "pre-opened a connection to \(OR.baseURL(server))"), worker.stderr)
        XCTAssertFalse(worker.stderr.contains(OR.key), "the key is never logged")
    }

    /// `warm` is a request like any other: `cancel` ends it.
    func testWarmCanBeCancelled() throws {
        let server = try startServer()
        let worker = try startUpstreamWorker(server)
        server.route("/v1/models") { _ in [.stall] }
        try worker.send(RPC.request("warm", nil, id: "w"))
        XCTAssertTrue(server.waitForRequests(count: 2, timeout: 10))
        try worker.send(RPC.notification("cancel", ["id": "w"]))
        assertProviderError(try worker.nextMessage(), id: "w", code: -32800, kind: "cancelled")
        XCTAssertNotNil(server.waitForClientClose(timeout: 10), "the stalled warm request was closed")
        try assertNothingInFlight(worker)
    }
}
