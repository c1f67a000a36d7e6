import XCTest
@testable import LLMWorkerTestSupport

/// API keys never leave the worker except in the Authorization header to the server (PROTOCOL §12): a broad
/// run of scenarios at `--log-level debug`, with a server that echoes the key and the header back in every
/// kind of error, and then every byte the worker wrote to stdout and stderr is scanned.
final class SecretsTests: XCTestCase {
    static let key = "sk-test-SECRET123456789abcdef"
    static let envKey = "sk-or-test-ENVSECRET987654321zyx"
    /// What must never appear: the distinctive parts of both keys, and any bearer token.
    /// A key of no known shape: only the worker's memory of the keys it was given can redact it.
    static let plainKey = "lmstudio-PLAINKEY-0123456789"
    /// Header values set by hand: an Authorization header of another scheme, and a key header (Azure-style).
    static let headers: JSON = ["Authorization": "Token HDRTOKEN-4242424242", "api-key": "azure-HDRKEY-77777777"]
    static let forbidden = ["SECRET123456789abcdef", "ENVSECRET987654321zyx", "PLAINKEY-0123456789", "HDRTOKEN-4242424242",
                            "HDRKEY-77777777", "Bearer sk-", "bearer sk-"]

    /// A server that answers what is queued, else an error quoting the Authorization header it got.
    private func echoingServer() throws -> MockHTTPServer {
        let server = try MockHTTPServer()
        server.handler = { request in
            let auth = request.header("Authorization") ?? "(none)"
            return .openAIError(status: 401, message: "Incorrect API key provided: \(auth). You sent \(auth.dropFirst(7)).",
                                type: "invalid_request_error", code: "invalid_api_key")
        }
        return server
    }

    private func echoes(_ text: String) -> String { "key \(text) / Authorization: Bearer \(text)" }

    func testNoKeyOnStdoutOrStderrWhateverHappens() throws {
        let server = try echoingServer()
        let key = Self.key
        let worker = try startWorker(["--log-level", "debug"])
        let configure: JSON = ["provider": "openai_compatible", "base_url": .string(server.v1BaseURL), "model": "m",
                               "api_key": .string(key), "max_retry_wait_s": 0.05]
        assertResult(try worker.call("configure", configure, id: "setup"), id: "setup")
        var id = 0
        func next() -> JSON { id += 1; return .number(String(id)) }

        // Successes.
        server.enqueue(Wire.completion("fine"), path: Wire.path)
        _ = try worker.call("chat", RPC.chatParams(), id: next())
        server.enqueue(Wire.stream(["fine"]), path: Wire.path)
        _ = try worker.stream(RPC.chatParams(), id: next())
        // 401 echoing the header (the handler), for chat, stream and listModels.
        _ = try worker.call("chat", RPC.chatParams(), id: next())
        _ = try worker.stream(RPC.chatParams(), id: next())
        _ = try worker.call("listModels", ["refresh": true], id: next())
        // 5xx echoing the key, retried (each retry logged) until it gives up.
        for _ in 0..<3 { server.enqueue(.openAIError(status: 503, message: echoes(key)), path: Wire.path) }
        _ = try worker.call("chat", RPC.chatParams(), id: next())
        // An HTML page with the key in it.
        server.enqueue(.fixed(status: 400, body: Data("<html><body>\(echoes(key))</body></html>".utf8), contentType: "text/html"),
                       path: Wire.path)
        _ = try worker.call("chat", RPC.chatParams(), id: next())
        // A 200 whose body is an error quoting the key; a body that is not JSON at all.
        server.enqueue(.json(body: ["error": ["message": echoes(key), "code": 400] as [String: Any]]), path: Wire.path)
        _ = try worker.call("chat", RPC.chatParams(), id: next())
        server.enqueue(.text(echoes(key)), path: Wire.path)
        _ = try worker.call("chat", RPC.chatParams(), id: next())
        // Mid-stream: an error event, and an event that is not JSON, each quoting the key.
        server.enqueue([Wire.streamHead, .sse(Wire.content("a")), .sseJSON(["error": ["message": echoes(key)]])], path: Wire.path)
        _ = try worker.stream(RPC.chatParams(), id: next())
        server.enqueue([Wire.streamHead, .sse(Wire.content("a")), .sse(echoes(key))], path: Wire.path)
        _ = try worker.stream(RPC.chatParams(), id: next())
        // probe with its own key (its checks quote the errors).
        let probeKey = "sk-test-SECRET123456789abcdef-probe"
        _ = try worker.call("probe", ["api_key": .string(probeKey), "max_retries": 0], id: next(), timeout: 60)
        // A key changed by a configure notification, then echoed.
        try worker.send(RPC.notification("configure", ["api_key": .string(key + "-2")]))
        _ = try worker.call("chat", RPC.chatParams(), id: next())
        // A key of no known shape, echoed bare and as a header.
        assertResult(try worker.call("configure", ["api_key": .string(Self.plainKey)], id: "plain"), id: "plain")
        _ = try worker.call("chat", RPC.chatParams(), id: next())
        _ = try worker.stream(RPC.chatParams(), id: next())
        server.enqueue(.openAIError(status: 500, message: echoes(Self.plainKey)), path: Wire.path)
        _ = try worker.call("chat", RPC.chatParams(), id: next())
        // Secrets in headers set by hand (no api_key), echoed by the server.
        assertResult(try worker.call("configure", ["api_key": nil, "headers": Self.headers], id: "headers"), id: "headers")
        server.handler = { request in
            .openAIError(status: 403, message: "denied: \(request.header("Authorization") ?? "") \(request.header("api-key") ?? "")")
        }
        _ = try worker.call("chat", RPC.chatParams(), id: next())
        _ = try worker.stream(RPC.chatParams(), id: next())
        _ = try worker.call("probe", ["headers": Self.headers, "max_retries": 0], id: next(), timeout: 60)
        // An invalid configure carrying a key.
        _ = try worker.call("configure", ["api_key": .string(key + "\nline"), "temperature": 9], id: next())
        _ = try worker.call("configure", ["api_key": .string(key), "provider": "openrouter", "base_url": "not a url"], id: next())
        // A redirect to another host is not followed (the key would travel with it).
        server.enqueue(.empty(status: 307, headers: ["Location": "http://127.0.0.2:\(server.port)/v1/chat/completions"]), path: Wire.path)
        _ = try worker.call("chat", RPC.chatParams(), id: next())

        XCTAssertEqual(try worker.finish(timeout: 30), 0)
        XCTAssertTrue(server.requests.contains { $0.header("Authorization") == "Bearer \(key)" }, "the key was really used")
        assertNoSecrets(worker)
    }

    func testNoEnvironmentKeyOnStdoutOrStderr() throws {
        let server = try echoingServer()
        let worker = try startWorker(["--log-level", "debug"], environment: ["OPENROUTER_API_KEY": Self.envKey, "OPENAI_API_KEY": Self.envKey])
        for provider in ["openrouter", "openai_compatible"] {
            let configure: JSON = ["provider": .string(provider), "base_url": .string(server.v1BaseURL), "model": "m", "max_retries": 0]
            XCTAssertEqual(assertResult(try worker.call("configure", configure, id: "setup"), id: "setup")["api_key_source"], "env")
            _ = try worker.call("chat", RPC.chatParams(), id: 1)
            _ = try worker.stream(RPC.chatParams(), id: 2)
            server.enqueue([Wire.streamHead, .sse(Wire.content("a")), .sse(echoes(Self.envKey))], path: Wire.path)
            _ = try worker.stream(RPC.chatParams(), id: 3)
            _ = try worker.call("listModels", ["refresh": true], id: 4)
            _ = try worker.call("probe", [:], id: 5, timeout: 60)
        }
        XCTAssertEqual(try worker.finish(timeout: 30), 0)
        XCTAssertTrue(server.requests.contains { $0.header("Authorization") == "Bearer \(Self.envKey)" })
        assertNoSecrets(worker)
    }

    private func assertNoSecrets(_ worker: WorkerProcess, file: StaticString = #filePath, line: UInt = #line) {
        let stdout = String(decoding: worker.stdout, as: UTF8.self)
        let stderr = worker.stderr
        XCTAssertFalse(stdout.isEmpty)
        XCTAssertTrue(stderr.contains("debug") || stderr.contains("info"), "logs were written at a verbose level")
        for secret in Self.forbidden {
            for (name, text) in [("stdout", stdout), ("stderr", stderr)] {
                let leaks = text.split(separator: "\n").filter { $0.contains(secret) }
                XCTAssertTrue(leaks.isEmpty, "\(secret) appears on \(name):\n\(leaks.prefix(3).joined(separator: "\n"))",
                              file: file, line: line)
            }
        }
        XCTAssertTrue(stdout.contains("[redacted]"), "the echoed keys were replaced, not the errors dropped")
    }
}
