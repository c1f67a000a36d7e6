import XCTest
@testable import LLMWorkerTestSupport

/// `probe` against OpenAI-compatible servers: a healthy one, a wrong key, a dead one, one without tool support,
/// one without a model list; the report is exact but for its timings, and nothing is saved.
final class ProbeTests: XCTestCase {
    private func probe(_ worker: WorkerProcess, _ params: JSON, id: JSON = "p", timeout: TimeInterval = 30,
                       file: StaticString = #filePath, line: UInt = #line) throws -> JSON {
        let reply = try worker.call("probe", params, id: id, timeout: timeout)
        return withoutTimings(assertResult(reply, id: id, file: file, line: line), file: file, line: line)
    }

    func testHealthyServer() throws {
        let server = try startServer()
        server.handler = ProbeServer.handler()
        let worker = try startCompatibleWorker(server, ["model": "saved-model", "temperature": 0.2])
        let before = assertResult(try worker.call("configure", [:], id: "before"), id: "before")

        let report = try probe(worker, ["model": "local-model", "temperature": nil])
        XCTAssertEqual(report, [
            "ok": true, "provider": "openai_compatible", "base_url": .string(server.v1BaseURL), "model": "local-model",
            "checks": ["models": passed(["count": 2]), "chat": passed(), "stream": passed(), "tools": passed(["supported": true])],
            "warnings": [],
        ])
        let raw = try worker.call("probe", ["model": "local-model"], id: "again")
        XCTAssertNotNil(raw["result"]?["checks"]?["stream"]?["ttft_ms"]?.double, "the stream check measures the first token")

        let requests = requestsAfterWarmUp(server, count: 8)
        XCTAssertEqual(requests.prefix(4).map(\.method), ["GET", "POST", "POST", "POST"])
        XCTAssertEqual(requests.prefix(4).map(\.path), ["/v1/models", "/v1/chat/completions", "/v1/chat/completions", "/v1/chat/completions"])
        XCTAssertEqual(requests[1].json, ["model": "local-model", "messages": ProbeServer.prompt, "max_tokens": 16])
        XCTAssertEqual(requests[2].json, ["model": "local-model", "messages": ProbeServer.prompt, "max_tokens": 16,
                                          "stream": true, "stream_options": ["include_usage": true]])
        XCTAssertEqual(requests[3].json, ["model": "local-model", "messages": ProbeServer.prompt, "max_tokens": 16,
                                          "tools": [ProbeServer.tool], "tool_choice": "auto"])

        // Nothing was saved: the configuration is the one from before, and chat still uses it.
        XCTAssertEqual(assertResult(try worker.call("configure", [:], id: "after"), id: "after"), before)
        assertResult(try worker.call("chat", ["messages": [["role": "user", "content": "hi"]]], id: "chat"), id: "chat")
        XCTAssertEqual(requestsAfterWarmUp(server, count: 9)[8].json["model"], "saved-model")
        XCTAssertEqual(requestsAfterWarmUp(server, count: 9)[8].json["temperature"], 0.2)
        try assertNothingInFlight(worker)
    }

    /// The key is wrong: every check fails with auth, the report says so in plain words, and the key the
    /// server echoed back is not repeated (it does not look like a key pattern, so only the worker's own
    /// knowledge of it can catch it).
    func testWrongKey() throws {
        let server = try startServer()
        let key = "lmstudio-wrong-key-42424242"
        server.handler = { request in
            .openAIError(status: 401, message: "Incorrect API key provided: \(request.header("Authorization")?.dropFirst(7) ?? "none"). You can find your API key in the settings.",
                         type: "invalid_request_error", code: "invalid_api_key")
        }
        let worker = try startCompatibleWorker(server)
        let report = try probe(worker, ["api_key": .string(key)])
        let message = "The server rejected the API key (HTTP 401): Incorrect API key provided: [redacted]. You can find your API key in the settings. Check api_key in configure or OPENAI_API_KEY."
        let auth = failed(code: -32001, kind: "auth", status: 401, message: message)
        XCTAssertEqual(report, [
            "ok": false, "provider": "openai_compatible", "base_url": .string(server.v1BaseURL), "model": "local-model",
            "checks": ["models": auth, "chat": auth, "stream": auth, "tools": auth],
            "warnings": .array(["models", "chat", "stream", "tools"].map { .string("The \($0) check failed: \(message)") }),
        ])
        let probed = requestsAfterWarmUp(server, count: 4)
        XCTAssertEqual(server.requests.count, 1 + 4, "configure's warm-up (no key), one request per check: an auth failure is not retried")
        for request in probed { XCTAssertEqual(request.header("Authorization"), "Bearer \(key)") }
        XCTAssertFalse(String(decoding: worker.stdout, as: UTF8.self).contains(key), "the key reached stdout")
    }

    /// A probe uses the configuration as it was when its line was read, like every request: a `configure` sent
    /// right after it (in the same write, so it is applied before the probe's task runs) does not change what is
    /// probed, and a probe read before any `configure` needs a provider of its own.
    func testProbeUsesTheConfigurationOfItsOwnLine() throws {
        let port = try closedLocalPort()
        let base = "http://127.0.0.1:\(port)/v1"
        let worker = try startWorker()
        let first = RPC.request("probe", [:], id: "early").text + "\n" + RPC.request("configure", ["provider": "mock"], id: "c1").text
        try worker.send(first)
        let (early, _) = try worker.readUntilResponse(id: "early")
        assertInvalidParams(early, id: "early", field: "provider")
        let configure: JSON = ["provider": "openai_compatible", "base_url": .string(base), "model": "m", "max_retries": 0]
        try worker.send(RPC.request("configure", configure, id: "c2").text + "\n"
                        + RPC.request("probe", [:], id: "p").text + "\n"
                        + RPC.request("configure", ["provider": "mock"], id: "c3").text)
        let (reply, _) = try worker.readUntilResponse(id: "p")
        let report = assertResult(reply, id: "p")
        XCTAssertEqual(report["provider"], "openai_compatible", "\(reply)")
        XCTAssertEqual(report["base_url"], .string(base))
        XCTAssertEqual(report["model"], "m")
    }

    /// Nothing listens: connection errors in every check, ok false, and the probe ends (retries included).
    func testDeadServer() throws {
        let port = try closedLocalPort()
        let worker = try startWorker()
        let base = "http://127.0.0.1:\(port)/v1"
        let report = try probe(worker, ["provider": "openai_compatible", "base_url": .string(base), "model": "m", "max_retries": 1])
        let connection = failed(code: -32009, kind: "connection",
                                message: "Could not reach 127.0.0.1:\(port): connection refused. Is the server running, and is base_url right? Gave up after 2 attempts.")
        XCTAssertEqual(report, [
            "ok": false, "provider": "openai_compatible", "base_url": .string(base), "model": "m",
            "checks": ["models": connection, "chat": connection, "stream": connection, "tools": connection],
            "warnings": .array(["models", "chat", "stream", "tools"].map {
                .string("The \($0) check failed: Could not reach 127.0.0.1:\(port): connection refused. Is the server running, and is base_url right? Gave up after 2 attempts.")
            }),
        ])
        // The probe made openai_compatible active for itself only: nothing was configured before, nothing now.
        assertInvalidParams(try worker.call("configure", [:], id: "c"), id: "c", field: "provider")
    }

    /// vLLM without its tool parser: a 400 that mentions tools. The server works, tools do not: supported false,
    /// the probe still ok, and a warning says so.
    func testServerWithoutToolSupport() throws {
        let server = try startServer()
        let text = "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set"
        server.handler = ProbeServer.handler { kind, _ in
            kind == .tools ? .json(status: 400, body: ["object": "error", "message": text, "type": "BadRequestError",
                                                       "param": NSNull(), "code": 400]) : nil
        }
        let worker = try startCompatibleWorker(server)
        let report = try probe(worker, [:])
        let message = "The server rejected the request (HTTP 400): \(text)."
        XCTAssertEqual(report["ok"], true)
        XCTAssertEqual(report["checks"], [
            "models": passed(["count": 2]), "chat": passed(), "stream": passed(),
            "tools": ["ok": true, "supported": false, "error": ["code": -32006, "kind": "bad_request", "status": 400, "message": .string(message)]],
        ])
        XCTAssertEqual(report["warnings"], ["This server rejects tools: CAAL's tool calls will not work with this model."])
    }

    /// A 400 that is not about tools is a failed tools check, not "unsupported".
    func testToolsCheckFailingForAnotherReason() throws {
        let server = try startServer()
        server.handler = ProbeServer.handler { kind, _ in
            kind == .tools ? .openAIError(status: 400, message: "Invalid 'messages': expected a non-empty array") : nil
        }
        let worker = try startCompatibleWorker(server)
        let report = try probe(worker, [:])
        XCTAssertEqual(report["ok"], true, "tools do not decide ok")
        XCTAssertEqual(report["checks"]?["tools"], failed(code: -32006, kind: "bad_request", status: 400,
                                                         message: "The server rejected the request (HTTP 400): Invalid 'messages': expected a non-empty array."))
        XCTAssertEqual(report["warnings"], ["The tools check failed: The server rejected the request (HTTP 400): Invalid 'messages': expected a non-empty array."])
    }

    /// No model list (404): reported in the models check and the warnings, the probe is still ok.
    func testNoModelList() throws {
        let server = try startServer()
        server.handler = ProbeServer.handler { kind, _ in kind == .models ? .text(status: 404, "404 page not found") : nil }
        let worker = try startCompatibleWorker(server)
        let report = try probe(worker, [:])
        XCTAssertEqual(report["ok"], true)
        XCTAssertEqual(report["checks"]?["models"]?["ok"], false)
        XCTAssertEqual(report["checks"]?["models"]?["error"]?["kind"], "not_found")
        XCTAssertEqual(report["checks"]?["models"]?["error"]?["code"], -32005)
        XCTAssertEqual(report["checks"]?["models"]?["error"]?["status"], 404)
        XCTAssertNil(report["checks"]?["models"]?["count"])
        XCTAssertEqual(report["checks"]?["chat"], passed())
        let warnings = report["warnings"]?.array?.compactMap(\.string) ?? []
        XCTAssertFalse(warnings.isEmpty)
        XCTAssertTrue(warnings.contains { $0.contains("by hand") }, "\(warnings)")
    }

    func testEmptyModelList() throws {
        let server = try startServer()
        server.handler = ProbeServer.handler(models: ["object": "list", "data": []])
        let worker = try startCompatibleWorker(server)
        let report = try probe(worker, [:])
        XCTAssertEqual(report["ok"], true)
        XCTAssertEqual(report["checks"]?["models"], passed(["count": 0]))
        XCTAssertEqual(report["warnings"], ["The model list is empty: the server may not have a model loaded."])
    }

    /// No model configured: the checks use the first listed model, and the report says which.
    func testWithoutAModelTheFirstListedIsUsed() throws {
        let server = try startServer()
        server.handler = ProbeServer.handler(models: ["data": ["qwen3-8b", "llama-3.2-3b"]])
        let worker = try startCompatibleWorker(server, ["model": nil])
        let report = try probe(worker, [:])
        XCTAssertEqual(report["ok"], true)
        XCTAssertEqual(report["model"], "qwen3-8b")
        XCTAssertEqual(report["warnings"], ["No model is configured; probed with 'qwen3-8b', the first one listed."])
        XCTAssertEqual(requestsAfterWarmUp(server, count: 4).dropFirst().map { $0.json["model"] }, ["qwen3-8b", "qwen3-8b", "qwen3-8b"])
        XCTAssertEqual(assertResult(try worker.call("configure", [:], id: "c"), id: "c")["model"], JSON.null, "still no model saved")
    }

    /// A slow first token is worth a warning: a listener hears the silence.
    func testSlowFirstTokenWarning() throws {
        let server = try startServer()
        server.handler = ProbeServer.handler { kind, _ in
            kind == .stream ? OR.stream([.pause(2.3), .event(OR.chunk(OR.content("ok"), finishReason: "stop"))]) : nil
        }
        let worker = try startCompatibleWorker(server)
        let report = try worker.call("probe", [:], id: "p", timeout: 30)["result"] ?? nil
        XCTAssertEqual(report["ok"], true)
        // The warning states the first-token time the report gives; how close that is to the server's pause is
        // the benchmark's business.
        let ttft = try XCTUnwrap(report["checks"]?["stream"]?["ttft_ms"]?.double, "\(report)")
        XCTAssertEqual(report["warnings"], [.string(String(format: "The first token took %.1f s: a listener will notice the silence.", ttft / 1000))])
    }
}
