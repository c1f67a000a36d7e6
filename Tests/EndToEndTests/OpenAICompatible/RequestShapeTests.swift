import XCTest
@testable import LLMWorkerTestSupport

/// What the worker sends upstream for `openai_compatible`: the URL, the headers and the exact JSON body, as the
/// mock server received them.
final class RequestShapeTests: XCTestCase {
    private let hello: JSON = [["role": "user", "content": "Hello"]]

    private func answerOK(_ server: MockHTTPServer, times: Int = 1) {
        for _ in 0..<times { server.enqueue(ServerShape.openAI.completion(content: "ok")) }
    }

    func testChatIsPostedToBaseURLChatCompletionsWithAMinimalBody() throws {
        let server = try MockHTTPServer()
        answerOK(server)
        let worker = try startUpstreamWorker(server, config: ["base_url": .string(server.v1BaseURL + "//")])
        let response = try worker.call("chat", chatRequest(hello), id: 1)
        assertChatResult(response, id: 1, expectedResult(content: "ok", usage: FixtureUsage(prompt: 30, completion: 9).expected,
                                                         model: ServerShape.openAI.model))
        let request = try XCTUnwrap(requestsAfterWarmUp(server, count: 1).first)
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.path, "/v1/chat/completions", "trailing slashes stripped, nothing added")
        XCTAssertEqual(request.header("Content-Type"), "application/json")
        XCTAssertNil(request.header("Authorization"), "no key, no Authorization header")
        XCTAssertEqual(request.json, ["model": "test-model", "messages": hello])
    }

    func testBaseURLIsUsedAsGivenWithoutAddingV1() throws {
        let server = try MockHTTPServer()
        answerOK(server, times: 3)
        let worker = try startUpstreamWorker(server)
        let root = "http://127.0.0.1:\(server.port)"
        for (n, base) in [root + "/api/openai/", root, root + "/v1"].enumerated() {
            try configureWarmingUp(worker, server, ["base_url": .string(base)], id: JSON.string("c\(n)"))
            assertResult(try worker.call("chat", chatRequest(hello), id: .number(String(n))), id: .number(String(n)))
        }
        // Each new base_url is warmed up with its own `models`, then chatted with.
        XCTAssertEqual(server.requests.map(\.path), ["/v1/models", "/api/openai/models", "/api/openai/chat/completions",
                                                     "/models", "/chat/completions", "/v1/models", "/v1/chat/completions"])
    }

    func testAuthorizationOnlyWhenAKeyIsSetFromConfigureOrEnvironment() throws {
        let server = try MockHTTPServer()
        answerOK(server, times: 5)
        let worker = try startUpstreamWorker(server)
        _ = try worker.call("chat", chatRequest(hello), id: 1)
        assertResult(try worker.call("configure", ["api_key": "sk-from-configure"], id: "k"), id: "k")
        _ = try worker.call("chat", chatRequest(hello), id: 2)

        let withEnv = try startUpstreamWorker(server, environment: ["OPENAI_API_KEY": "sk-from-env"])
        _ = try withEnv.call("chat", chatRequest(hello), id: 3)
        assertResult(try withEnv.call("configure", ["api_key": "sk-override"], id: "k"), id: "k")
        _ = try withEnv.call("chat", chatRequest(hello), id: 4)
        assertResult(try withEnv.call("configure", ["api_key": nil], id: "k"), id: "k")
        _ = try withEnv.call("chat", chatRequest(hello), id: 5)

        // Each worker's configure sent a warm-up (a new key is not a new server: none for the later configures).
        XCTAssertTrue(server.waitForRequests(count: 7, timeout: 10))
        XCTAssertEqual(server.requests.map(\.method), ["GET", "POST", "POST", "GET", "POST", "POST", "POST"])
        XCTAssertEqual(server.requests.map { $0.header("Authorization") },
                       [nil, nil, "Bearer sk-from-configure", "Bearer sk-from-env", "Bearer sk-from-env", "Bearer sk-override", "Bearer sk-from-env"])
        XCTAssertEqual(server.requests.map { $0.headers.values("Authorization").count }, [0, 0, 1, 1, 1, 1, 1])
    }

    func testConfiguredHeadersAreSentAndTheKeyWinsOverAnAuthorizationHeader() throws {
        let server = try MockHTTPServer()
        answerOK(server, times: 2)
        let worker = try startUpstreamWorker(server, config: [
            "headers": ["X-Proxy-Token": "s3cret", "X-Trace-Id": "abc-123", "Authorization": "Basic dXNlcjpwdw=="],
        ])
        _ = try worker.call("chat", chatRequest(hello), id: 1)
        assertResult(try worker.call("configure", ["api_key": "sk-key"], id: "k"), id: "k")
        _ = try worker.call("chat", chatRequest(hello), id: 2)
        let (warmUp, first, second) = (server.requests[0], server.requests[1], server.requests[2])
        for request in [warmUp, first, second] {
            XCTAssertEqual(request.header("X-Proxy-Token"), "s3cret")
            XCTAssertEqual(request.header("X-Trace-Id"), "abc-123")
            XCTAssertEqual(request.header("Content-Type"), "application/json")
        }
        XCTAssertEqual(warmUp.header("Authorization"), "Basic dXNlcjpwdw==", "the warm-up carries the configured headers too")
        XCTAssertEqual(first.header("Authorization"), "Basic dXNlcjpwdw==", "without a key the configured header is sent")
        XCTAssertEqual(second.header("Authorization"), "Bearer sk-key", "a key set replaces it")
    }

    func testTemperatureAndMaxTokensDefaultsAreOverriddenPerRequestAndExtraIsMergedLast() throws {
        let server = try MockHTTPServer()
        answerOK(server, times: 4)
        let worker = try startUpstreamWorker(server, config: ["temperature": 0.7, "max_tokens": 512])
        _ = try worker.call("chat", chatRequest(hello), id: 1)
        _ = try worker.call("chat", chatRequest(hello, more: ["temperature": 0.2, "max_tokens": 64, "model": "other-model"]), id: 2)
        _ = try worker.call("chat", chatRequest(hello, more: ["temperature": 0.2,
                                                              "extra": ["temperature": 1.5, "top_p": 0.9, "seed": 7,
                                                                        "tool_choice": "none", "max_tokens": 9]]), id: 3)
        assertResult(try worker.call("configure", ["temperature": nil, "max_tokens": nil], id: "c"), id: "c")
        _ = try worker.call("chat", chatRequest(hello), id: 4)
        XCTAssertEqual(requestsAfterWarmUp(server, count: 4).map(\.json), [
            ["model": "test-model", "messages": hello, "temperature": 0.7, "max_tokens": 512],
            ["model": "other-model", "messages": hello, "temperature": 0.2, "max_tokens": 64],
            ["model": "test-model", "messages": hello, "temperature": 1.5, "max_tokens": 9, "top_p": 0.9, "seed": 7,
             "tool_choice": "none"],
            ["model": "test-model", "messages": hello],
        ])
    }

    func testMessagesToolsAndToolChoiceAreForwardedAndObjectArgumentsSentAsAString() throws {
        let server = try MockHTTPServer()
        answerOK(server)
        let worker = try startUpstreamWorker(server)
        let messages: JSON = [
            ["role": "system", "content": "You are a voice assistant."],
            ["role": "user", "content": [["type": "text", "text": "Weather in Paris and the time?"]], "name": "alice"],
            ["role": "assistant", "content": nil, "tool_calls": [
                ["id": "call_1", "type": "function", "function": ["name": "get_weather", "arguments": ["city": "Paris", "days": 2]]],
                ["id": "call_2", "type": "function", "function": ["name": "get_time", "arguments": #"{"tz":"Europe/Paris"}"#]],
            ]],
            ["role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": #"{"temp_c": 18}"#],
            ["role": "tool", "tool_call_id": "call_2", "content": "14:05", "x_vendor_field": true],
        ]
        let toolChoice: JSON = ["type": "function", "function": ["name": "get_weather"]]
        assertResult(try worker.call("chat", chatRequest(messages, tools: [weatherTool, timeTool], toolChoice: toolChoice), id: 1), id: 1)
        let body = try XCTUnwrap(requestsAfterWarmUp(server, count: 1).first).json
        XCTAssertEqual(body.keys, ["model", "messages", "tools", "tool_choice"])
        XCTAssertEqual(body["tools"], [weatherTool, timeTool])
        XCTAssertEqual(body["tool_choice"], toolChoice)
        let sent = body["messages"]?.array ?? []
        XCTAssertEqual(sent.count, 5)
        // Everything but the object arguments is forwarded exactly as given.
        for n in [0, 1, 3, 4] { XCTAssertEqual(sent[n], messages[n], "message \(n)") }
        let calls = sent[2]["tool_calls"]?.array ?? []
        XCTAssertEqual(sent[2].removing("tool_calls"), ["role": "assistant", "content": nil])
        XCTAssertEqual(calls.map { $0.removing("function") }, [["id": "call_1", "type": "function"], ["id": "call_2", "type": "function"]])
        XCTAssertEqual(calls.map { $0["function"]?["name"] }, ["get_weather", "get_time"])
        let objectArguments = try XCTUnwrap(calls[0]["function"]?["arguments"]?.string, "object arguments are sent as a JSON string")
        XCTAssertEqual(try JSON.parse(objectArguments), ["city": "Paris", "days": 2])
        XCTAssertEqual(calls[1]["function"]?["arguments"], #"{"tz":"Europe/Paris"}"#, "string arguments are sent unchanged")
    }

    func testChatStreamAsksForAStreamWithUsage() throws {
        let server = try MockHTTPServer()
        server.enqueue(ServerShape.openAI.textStream(content: ["Hi"]).response())
        let worker = try startUpstreamWorker(server, config: ["max_tokens": 100])
        let (deltas, response) = try worker.stream(chatRequest(hello, tools: [weatherTool], toolChoice: "none"), id: "s")
        XCTAssertEqual(checkDeltas(deltas, id: "s").content, "Hi")
        assertResult(response, id: "s")
        let request = try XCTUnwrap(requestsAfterWarmUp(server, count: 1).first)
        XCTAssertEqual(request.path, "/v1/chat/completions")
        XCTAssertEqual(request.json, ["model": "test-model", "messages": hello, "tools": [weatherTool], "tool_choice": "none",
                                      "max_tokens": 100, "stream": true, "stream_options": ["include_usage": true]])
        XCTAssertEqual(request.header("Accept"), "text/event-stream")
    }

    func testAnEmptyToolsArrayIsNotSent() throws {
        let server = try MockHTTPServer()
        answerOK(server)
        let worker = try startUpstreamWorker(server)
        assertResult(try worker.call("chat", chatRequest(hello, tools: []), id: 1), id: 1)
        XCTAssertEqual(requestsAfterWarmUp(server, count: 1).first?.json, ["model": "test-model", "messages": hello])
    }
}

/// Redirects of a chat request are not followed: to another server the key would travel with it, and even to the
/// same server Foundation on Linux would resend the POST without its body. The 3xx is reported, naming base_url.
final class RedirectTests: XCTestCase {
    private let hello: JSON = [["role": "user", "content": "Hello"]]

    func testARedirectIsReportedNotFollowed() throws {
        let server = try MockHTTPServer()
        let elsewhere = try MockHTTPServer()
        server.enqueue(.empty(status: 307, headers: ["Location": "http://127.0.0.1:\(server.port)/moved/v1/chat/completions"]))
        server.enqueue(.empty(status: 308, headers: ["Location": "http://127.0.0.1:\(elsewhere.port)/v1/chat/completions"]))
        server.enqueue(.empty(status: 301, headers: ["Location": "/v2/chat/completions"]))
        let worker = try startUpstreamWorker(server, config: ["api_key": "sk-secret"])
        for (n, status) in [307, 308, 301].enumerated() {
            let id = JSON.number(String(n))
            assertProviderFailure(try worker.call("chat", chatRequest(hello), id: id), id: id, code: -32007,
                                  data: expectedErrorData(kind: "upstream_error", status: status, retryable: false),
                                  mentioning: ["base_url"])
        }
        XCTAssertEqual(server.requests.map(\.path), ["/v1/models"] + Array(repeating: "/v1/chat/completions", count: 3))
        XCTAssertEqual(elsewhere.requests.count, 0, "the key must not travel to another server")
    }
}
