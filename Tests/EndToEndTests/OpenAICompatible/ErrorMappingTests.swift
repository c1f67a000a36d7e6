import XCTest
@testable import LLMWorkerTestSupport

/// Upstream failures as real servers send them → the contract's code, kind, status, retryable and upstream_message,
/// through the binary (`max_retries: 0`, so each case is one HTTP exchange). A body that is not JSON is quoted in
/// `upstream_message` as its first bytes, whitespace collapsed; for an HTML page (a proxy's error page) that is its
/// `<title>`, else its text without the tags.
final class ErrorMappingTests: XCTestCase {
    private let hello = chatRequest([["role": "user", "content": "Hello"]])

    private struct Case {
        let name: String
        let response: MockResponse
        let code: Int
        let kind: String
        let status: Int?
        let retryable: Bool
        var upstreamMessage: String?
        var retryAfter: Double?
        /// Words the human-readable message must contain.
        var mentioning: [String] = []
    }

    private func run(_ cases: [Case], method: String = "chat", file: StaticString = #filePath, line: UInt = #line) throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        for (n, item) in cases.enumerated() {
            server.enqueue(item.response)
            let id = JSON.string("\(n): \(item.name)")
            let response: JSON
            if method == "chat" {
                response = try worker.call("chat", hello, id: id)
            } else {
                let (deltas, last) = try worker.stream(hello, id: id)
                XCTAssertEqual(deltas, [], item.name, file: file, line: line)
                response = last
            }
            assertProviderFailure(response, id: id, code: item.code, data: expectedErrorData(
                kind: item.kind, status: item.status, retryable: item.retryable, upstreamMessage: item.upstreamMessage,
                retryAfter: item.retryAfter), mentioning: item.mentioning, file: file, line: line)
        }
        XCTAssertEqual(server.requests.count, 1 + cases.count, "configure's warm-up, then one exchange per case", file: file, line: line)
    }

    func testAuthAndNotFound() throws {
        try run([
            Case(name: "OpenAI 401", response: .openAIError(status: 401, message: "Incorrect API key provided: sk-ab***yz. You can find your API key at https://platform.openai.com/account/api-keys.",
                                                             type: "invalid_request_error", code: "invalid_api_key"),
                 code: -32001, kind: "auth", status: 401, retryable: false,
                 upstreamMessage: "Incorrect API key provided: sk-ab***yz. You can find your API key at https://platform.openai.com/account/api-keys.",
                 mentioning: ["API key"]),
            Case(name: "LiteLLM 401", response: .jsonText(status: 401, #"{"error":{"message":"Authentication Error, Invalid proxy server token passed. Received API Key = sk-...1234","type":"auth_error","param":"None","code":"401"}}"#),
                 code: -32001, kind: "auth", status: 401, retryable: false,
                 upstreamMessage: "Authentication Error, Invalid proxy server token passed. Received API Key = sk-...1234"),
            Case(name: "403", response: .openAIError(status: 403, message: "Project proj_x does not have access to model gpt-5", type: "invalid_request_error", code: "model_not_found"),
                 code: -32001, kind: "auth", status: 403, retryable: false,
                 upstreamMessage: "Project proj_x does not have access to model gpt-5"),
            Case(name: "Ollama 404", response: .jsonText(status: 404, #"{"error":{"message":"model \"llama9\" not found, try pulling it first","type":"not_found_error","param":null,"code":null}}"#),
                 code: -32005, kind: "not_found", status: 404, retryable: false,
                 upstreamMessage: #"model "llama9" not found, try pulling it first"#, mentioning: ["llama9"]),
            Case(name: "404 empty body", response: .empty(status: 404),
                 code: -32005, kind: "not_found", status: 404, retryable: false),
        ])
    }

    func testBadRequestsAndContextLength() throws {
        let vLLMText = "This model's maximum context length is 16384 tokens. However, you requested 122946 tokens (112946 in the messages, 10000 in the completion). Please reduce the length of the messages or completion."
        let llamaText = "the request exceeds the available context size. try increasing the context size or enable context shift"
        let openAIText = "This model's maximum context length is 128000 tokens. However, your messages resulted in 130001 tokens. Please reduce the length of the messages."
        try run([
            Case(name: "vLLM context", response: .jsonText(status: 400, #"{"error":{"message":"\#(vLLMText)","type":"BadRequestError","param":null,"code":400}}"#),
                 code: -32006, kind: "context_length", status: 400, retryable: false, upstreamMessage: vLLMText),
            Case(name: "old vLLM flat context", response: .jsonText(status: 400, #"{"object":"error","message":"\#(vLLMText)","type":"BadRequestError","param":null,"code":400}"#),
                 code: -32006, kind: "context_length", status: 400, retryable: false, upstreamMessage: vLLMText),
            Case(name: "llama.cpp context", response: .jsonText(status: 400, #"{"error":{"code":400,"message":"\#(llamaText)","type":"exceed_context_size_error","n_prompt_tokens":14429,"n_ctx":8192}}"#, headers: ["Connection": "close"]),
                 code: -32006, kind: "context_length", status: 400, retryable: false, upstreamMessage: llamaText),
            Case(name: "OpenAI context", response: .openAIError(status: 400, message: openAIText, type: "invalid_request_error", code: "context_length_exceeded"),
                 code: -32006, kind: "context_length", status: 400, retryable: false, upstreamMessage: openAIText),
            Case(name: "Ollama 400", response: .jsonText(status: 400, #"{"error":{"message":"[] is too short - 'messages'","type":"invalid_request_error","param":null,"code":null}}"#),
                 code: -32006, kind: "bad_request", status: 400, retryable: false, upstreamMessage: "[] is too short - 'messages'"),
            Case(name: "vLLM tool choice", response: .jsonText(status: 400, #"{"error":{"message":"\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set","type":"BadRequestError","param":null,"code":400}}"#),
                 code: -32006, kind: "bad_request", status: 400, retryable: false,
                 upstreamMessage: #""auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set"#),
            Case(name: "413 text", response: .text(status: 413, "Request Entity Too Large"),
                 code: -32006, kind: "bad_request", status: 413, retryable: false, upstreamMessage: "Request Entity Too Large"),
            Case(name: "422 FastAPI", response: .jsonText(status: 422, #"{"detail":"messages: field required"}"#),
                 code: -32006, kind: "bad_request", status: 422, retryable: false, upstreamMessage: "messages: field required"),
        ])
    }

    func testRateLimits() throws {
        try run([
            Case(name: "429 Retry-After", response: .openAIError(status: 429, message: "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3.",
                                                                  type: "requests", code: "rate_limit_exceeded", headers: ["Retry-After": "7"]),
                 code: -32002, kind: "rate_limited", status: 429, retryable: true,
                 upstreamMessage: "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3.", retryAfter: 7,
                 mentioning: ["7 s"]),
            Case(name: "429 retry-after-ms", response: .openAIError(status: 429, message: "Slow down", headers: ["retry-after-ms": "1500", "Retry-After": "2"]),
                 code: -32002, kind: "rate_limited", status: 429, retryable: true, upstreamMessage: "Slow down", retryAfter: 1.5),
            Case(name: "LiteLLM 429", response: .jsonText(status: 429, #"{"error":{"message":"litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached","type":"throttling_error","param":"None","code":"429"}}"#),
                 code: -32002, kind: "rate_limited", status: 429, retryable: true,
                 upstreamMessage: "litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached"),
            Case(name: "OpenAI quota", response: .openAIError(status: 429, message: "You exceeded your current quota, please check your plan and billing details.",
                                                              type: "insufficient_quota", code: "insufficient_quota"),
                 code: -32003, kind: "insufficient_credits", status: 429, retryable: false,
                 upstreamMessage: "You exceeded your current quota, please check your plan and billing details."),
        ])
    }

    func testServerErrors() throws {
        let html = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n"
        try run([
            Case(name: "llama.cpp 500", response: .jsonText(status: 500, #"{"error":{"code":500,"message":"[json.exception.parse_error.101] parse error","type":"server_error"}}"#),
                 code: -32007, kind: "upstream_error", status: 500, retryable: true, upstreamMessage: "[json.exception.parse_error.101] parse error"),
            Case(name: "502 HTML", response: .fixed(status: 502, body: Data(html.utf8), contentType: "text/html"),
                 code: -32007, kind: "unavailable", status: 502, retryable: true,
                 upstreamMessage: "502 Bad Gateway", mentioning: ["502 Bad Gateway"]),
            Case(name: "llama.cpp 503 loading", response: .jsonText(status: 503, #"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#),
                 code: -32007, kind: "unavailable", status: 503, retryable: true, upstreamMessage: "Loading model"),
            Case(name: "504 empty", response: .empty(status: 504),
                 code: -32007, kind: "unavailable", status: 504, retryable: true),
            Case(name: "501 text", response: .text(status: 501, "Not Implemented"),
                 code: -32007, kind: "upstream_error", status: 501, retryable: true, upstreamMessage: "Not Implemented"),
        ])
    }

    /// Errors inside a 2xx answer: LM Studio's bare-string error with HTTP 200, an OpenAI-style error object with a
    /// numeric code, and bodies that are not the promised JSON.
    func testErrorsAndGarbageInsideA2xxAnswer() throws {
        let notJSON = "Hello from a web server that is not an LLM API. " + String(repeating: "x", count: 400)
        try run([
            Case(name: "LM Studio 200", response: .jsonText(#"{"error":"Unexpected endpoint or method. (POST /chat/completions)"}"#),
                 code: -32007, kind: "upstream_error", status: nil, retryable: true,
                 upstreamMessage: "Unexpected endpoint or method. (POST /chat/completions)", mentioning: ["base_url"]),
            Case(name: "200 with a 404 error object", response: .jsonText(#"{"error":{"message":"model not loaded","code":404}}"#),
                 code: -32005, kind: "not_found", status: 404, retryable: false, upstreamMessage: "model not loaded"),
            Case(name: "200 text", response: .text(notJSON),
                 code: -32007, kind: "invalid_response", status: 200, retryable: false,
                 upstreamMessage: String(notJSON.prefix(199)) + "…", mentioning: ["Hello from a web server"]),
            Case(name: "200 HTML", response: .fixed(status: 200, body: Data("<!DOCTYPE html><html><body>Login</body></html>".utf8), contentType: "text/html"),
                 code: -32007, kind: "invalid_response", status: 200, retryable: false,
                 upstreamMessage: "Login", mentioning: ["Login"]),
            Case(name: "200 JSON without choices", response: .jsonText(#"{"object":"list","data":[]}"#),
                 code: -32007, kind: "invalid_response", status: 200, retryable: false,
                 upstreamMessage: #"{"data":[],"object":"list"}"#),
            Case(name: "200 empty", response: .empty(status: 200),
                 code: -32007, kind: "invalid_response", status: 200, retryable: false),
        ])
    }

    /// The same mapping for a stream request that is refused before any event (llama.cpp answers a context
    /// overflow with plain JSON even to a stream request, and closes the connection).
    func testStreamRequestsRefusedBeforeTheStream() throws {
        let llamaText = "the request exceeds the available context size. try increasing the context size or enable context shift"
        try run([
            Case(name: "llama.cpp context", response: .jsonText(status: 400, #"{"error":{"code":400,"message":"\#(llamaText)","type":"exceed_context_size_error","n_prompt_tokens":9000,"n_ctx":4096}}"#, headers: ["Connection": "close"]),
                 code: -32006, kind: "context_length", status: 400, retryable: false, upstreamMessage: llamaText),
            Case(name: "401", response: .openAIError(status: 401, message: "Invalid token"),
                 code: -32001, kind: "auth", status: 401, retryable: false, upstreamMessage: "Invalid token"),
            Case(name: "LM Studio 200", response: .jsonText(#"{"error":"Unexpected endpoint or method. (POST /chat/completions)"}"#),
                 code: -32007, kind: "upstream_error", status: nil, retryable: true,
                 upstreamMessage: "Unexpected endpoint or method. (POST /chat/completions)"),
            Case(name: "503 HTML", response: .fixed(status: 503, body: Data("<h1>Service Unavailable</h1>".utf8), contentType: "text/html"),
                 code: -32007, kind: "unavailable", status: 503, retryable: true, upstreamMessage: "Service Unavailable"),
        ], method: "chatStream")
    }

    /// A server that ignores `stream: true` and answers with one JSON completion: the answer comes as one delta.
    func testAJSONAnswerToAStreamRequest() throws {
        let server = try MockHTTPServer()
        server.enqueue(ServerShape.ollama.completion(content: "Whole answer", usage: FixtureUsage(prompt: 4, completion: 2)))
        let worker = try startUpstreamWorker(server)
        let (deltas, response) = try worker.stream(hello, id: "j")
        XCTAssertEqual(deltas, [["jsonrpc": "2.0", "method": "chatStream.delta", "params": ["id": "j", "index": 0, "content": "Whole answer"]]])
        assertChatResult(response, id: "j", expectedResult(content: "Whole answer", usage: FixtureUsage(prompt: 4, completion: 2).expected,
                                                           model: ServerShape.ollama.model))
    }

    func testConnectionRefused() throws {
        let port = try closedLocalPort()
        let worker = try startWorker()
        assertResult(try worker.call("configure", ["provider": "openai_compatible", "base_url": .string("http://127.0.0.1:\(port)/v1"),
                                                   "model": "m", "max_retries": 0], id: "c"), id: "c")
        assertProviderFailure(try worker.call("chat", hello, id: 1), id: 1, code: -32009,
                              data: expectedErrorData(kind: "connection", status: nil, retryable: true),
                              mentioning: ["127.0.0.1:\(port)"])
        let (deltas, response) = try worker.stream(hello, id: 2)
        XCTAssertEqual(deltas, [])
        assertProviderFailure(response, id: 2, code: -32009, data: expectedErrorData(kind: "connection", status: nil, retryable: true))
    }
}

/// Broken HTTP from the server: every case ends in an error response, promptly, and the worker keeps serving.
final class MalformedHTTPTests: XCTestCase {
    private let hello = chatRequest([["role": "user", "content": "Hello"]])

    func testBrokenResponsesEndInAnError() throws {
        let server = try MockHTTPServer()
        let cases: [(name: String, response: MockResponse, stream: Bool, kind: String)] = [
            ("not HTTP at all", [.rawText("SSH-2.0-OpenSSH_9.6\r\n"), .close], false, "connection"),
            ("head, then close", [.rawText("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"cho"), .close], false, "connection"),
            ("reset before any response", [.reset], false, "connection"),
            ("bad chunk size", [.rawText("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nhello\r\n"), .close], true, "invalid_response"),
            ("bad chunk size, chat", [.rawText("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"cho\r\nZZ\r\nhello\r\n"), .close], false, "invalid_response"),
            ("gzip that is not gzip", [.rawText("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 12\r\n\r\n{\"choices\":1"), .close], false, "invalid_response"),
            ("gzip that is not gzip, stream", [.rawText("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\nContent-Length: 12\r\n\r\ndata: {}\n\n\r\n"), .close], true, "invalid_response"),
            ("stream head, then close", [.rawText("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"), .close], true, "connection"),
        ]
        let worker = try startUpstreamWorker(server)
        for (n, item) in cases.enumerated() {
            server.enqueue(item.response)
            let requestsBefore = server.requests.count
            let id = JSON.string("\(n): \(item.name)")
            let response: JSON
            if item.stream {
                let (deltas, last) = try worker.stream(hello, id: id)
                XCTAssertEqual(deltas, [], item.name)
                response = last
            } else {
                response = try worker.call("chat", hello, id: id)
            }
            XCTAssertEqual(response["error"]?["data"]?["kind"], .string(item.kind), "\(item.name): \(response)")
            XCTAssertEqual(response["error"]?["data"]?["partial_content"], "", "\(item.name): \(response)")
            if item.kind == "invalid_response" {
                XCTAssertEqual(server.requests.count, requestsBefore + 1, "\(item.name): an answer that cannot be read is not retried")
                XCTAssertEqual(response["error"]?["data"]?["retryable"], false, item.name)
            }
        }
        assertResult(try worker.call("ping", nil, id: "p"), id: "p")
        XCTAssertTrue(worker.isRunning)
    }
}
