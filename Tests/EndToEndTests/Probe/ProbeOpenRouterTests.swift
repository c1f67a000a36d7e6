import XCTest
@testable import LLMWorkerTestSupport

/// `probe` against OpenRouter: without a key, the routing warning, a model without tool support, and the
/// attribution on every probe request.
final class ProbeOpenRouterTests: XCTestCase {
    /// OpenRouter as it answers a request without an Authorization header: the model list is public, the rest 401.
    private static func keyChecking(upstream: Upstream? = nil, override: (@Sendable (ProbeServer.Request, RecordedRequest) -> MockResponse?)? = nil)
        -> MockHTTPServer.Handler {
        { request in
            let kind = ProbeServer.kind(of: request)
            if kind != .models, request.header("Authorization") == nil { return OR.error(401, "No auth credentials found") }
            return ProbeServer.handler(models: ["data": [OR.gpt4oMini, OR.claudeHaiku]], upstream: upstream?.name ?? "OpenAI",
                                       override: override)(request)
        }
    }

    /// Which upstream provider the mock says served the request (changed between probes).
    final class Upstream: @unchecked Sendable {
        private let lock = NSLock()
        private var current: String
        init(_ name: String) { current = name }
        var name: String {
            get { lock.lock(); defer { lock.unlock() }; return current }
            set { lock.lock(); current = newValue; lock.unlock() }
        }
    }

    /// Without any key the probe runs (no -32602): the public model list works, the rest fails with auth.
    func testWithoutAKeyReportsAuthInTheChecks() throws {
        let server = try startServer()
        server.handler = Self.keyChecking()
        let worker = try startWorker()
        let base = OR.baseURL(server)
        let reply = try worker.call("probe", ["provider": "openrouter", "base_url": .string(base), "model": "openai/gpt-4o-mini"],
                                    id: "p", timeout: 30)
        let message = "OpenRouter rejected the API key (HTTP 401): No auth credentials found. Check api_key in configure or OPENROUTER_API_KEY."
        let auth = failed(code: -32001, kind: "auth", status: 401, message: message)
        XCTAssertEqual(withoutTimings(assertResult(reply, id: "p")), [
            "ok": false, "provider": "openrouter", "base_url": .string(base), "model": "openai/gpt-4o-mini",
            "checks": ["models": passed(["count": 2]), "chat": auth, "stream": auth, "tools": auth],
            "warnings": .array(["chat", "stream", "tools"].map { .string("The \($0) check failed: \(message)") }),
        ])
        let requests = receivedRequests(server, count: 4)
        XCTAssertEqual(requests[0].path, OR.modelsPath)
        for request in requests { assertOpenRouterHeaders(request, key: nil) }
        // The probe selected nothing: configure still has no provider.
        assertInvalidParams(try worker.call("configure", [:], id: "c"), id: "c", field: "provider")
    }

    /// A second probe answered by another upstream provider says so; a third by the same one does not.
    func testRoutedToADifferentProviderThanLastTime() throws {
        let server = try startServer()
        let upstream = Upstream("OpenAI")
        server.handler = Self.keyChecking(upstream: upstream)
        let worker = try startOpenRouterWorker(server, ["app_title": "Kitchen"])
        func warnings(_ id: String) throws -> JSON? {
            assertResult(try worker.call("probe", [:], id: .string(id), timeout: 30), id: .string(id))["warnings"]
        }
        XCTAssertEqual(try warnings("first"), [])
        upstream.name = "Azure"
        XCTAssertEqual(try warnings("second"), ["OpenRouter routed to a different provider than last time (OpenAI then Azure)."])
        XCTAssertEqual(try warnings("third"), [])
        let requests = requestsAfterWarmUp(server, count: 12)
        for request in requests { assertOpenRouterHeaders(request, title: "Kitchen") }
    }

    /// OpenRouter answers a tools request for a model without tool support with 404 "No endpoints found that
    /// support tool use": the model works, tools do not.
    func testModelWithoutToolSupport() throws {
        let server = try startServer()
        let text = "No endpoints found that support tool use. To learn more about provider routing, visit: https://openrouter.ai/docs/provider-routing"
        server.handler = Self.keyChecking { kind, _ in
            kind == .tools ? OR.json(["error": ["message": .string(text), "code": 404]], status: 404) : nil
        }
        let worker = try startOpenRouterWorker(server, ["model": "deepseek/deepseek-r1:free"])
        let report = withoutTimings(assertResult(try worker.call("probe", [:], id: "p", timeout: 30), id: "p"))
        XCTAssertEqual(report["ok"], true)
        XCTAssertEqual(report["checks"]?["tools"]?["ok"], true)
        XCTAssertEqual(report["checks"]?["tools"]?["supported"], false)
        XCTAssertEqual(report["checks"]?["tools"]?["error"]?["kind"], "not_found")
        XCTAssertEqual(report["checks"]?["tools"]?["error"]?["status"], 404)
        XCTAssertEqual(report["warnings"], ["This server rejects tools: CAAL's tool calls will not work with this model."])
    }
}
