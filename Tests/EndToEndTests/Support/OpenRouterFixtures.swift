import XCTest
@testable import LLMWorkerTestSupport

/// The mock HTTP server playing OpenRouter (at `http://127.0.0.1:<port>/api/v1`) and OpenAI-compatible servers:
/// bodies shaped like the real ones (the OpenRouter section of the team's wire notes), the worker
/// set up against them, and checks of the HTTP requests the server received.
enum OR {
    static let chatPath = "/api/v1/chat/completions"
    static let modelsPath = "/api/v1/models"
    /// Shaped like a real OpenRouter key, so pattern-based redaction would also catch it (built from pieces so
    /// that no key-shaped literal sits in the repository for secret scanners to flag).
    static let key = "sk-or-v1-" + String(repeating: "0123456789abcdef", count: 2)
    static let defaultReferer = "https://github.com/caal-project/caal"
    static let defaultTitle = "CAAL Voice Assistant"

    static func baseURL(_ server: MockHTTPServer) -> String { "http://127.0.0.1:\(server.port)/api/v1" }

    // MARK: Answers

    /// A non-streamed OpenRouter answer: `model` is the model that answered, `provider` the upstream.
    static func completion(_ content: JSON = "Hello.", model: String = "openai/gpt-4o-mini", provider: String? = "OpenAI",
                           message extra: [String: JSON] = [:], finishReason: JSON = "stop",
                           usage: JSON = ["prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15, "cost": 0.0000123]) -> JSON {
        var message: [String: JSON] = ["role": "assistant", "content": content, "refusal": nil]
        message.merge(extra) { _, new in new }
        var body: [String: JSON] = [
            "id": "gen-1750000000-abcdefghijklmnop", "object": "chat.completion", "created": 1750000000,
            "model": .string(model), "system_fingerprint": nil,
            "choices": [["index": 0, "logprobs": nil, "finish_reason": finishReason, "native_finish_reason": finishReason,
                         "message": .object(message)]],
            "usage": usage,
        ]
        if let provider { body["provider"] = .string(provider) }
        return .object(body)
    }

    /// One streamed chunk (`data:` event) as OpenRouter sends it.
    static func chunk(_ delta: JSON, finishReason: JSON = nil, model: String = "openai/gpt-4o-mini",
                      provider: String? = "OpenAI", usage: JSON? = nil) -> JSON {
        var body: [String: JSON] = [
            "id": "gen-1750000000-abcdefghijklmnop", "object": "chat.completion.chunk", "created": 1750000000,
            "model": .string(model),
            "choices": [["index": 0, "delta": delta, "finish_reason": finishReason, "native_finish_reason": finishReason,
                         "logprobs": nil]],
        ]
        if let provider { body["provider"] = .string(provider) }
        if let usage { body["usage"] = usage }
        return .object(body)
    }

    static func content(_ text: String) -> JSON { ["role": "assistant", "content": .string(text)] }

    /// OpenRouter's usage, cost included (in credits, i.e. USD).
    static func usage(prompt: Int = 12, completion: Int = 3, cost: Double = 0.0000123) -> JSON {
        ["prompt_tokens": .number(String(prompt)), "completion_tokens": .number(String(completion)),
         "total_tokens": .number(String(prompt + completion)), "cost": .number(String(cost)), "is_byok": false,
         "prompt_tokens_details": ["cached_tokens": 0], "completion_tokens_details": ["reasoning_tokens": 0]]
    }

    /// A complete JSON response.
    static func json(_ body: JSON, status: Int = 200, headers: [String: String] = [:]) -> MockResponse {
        .jsonText(status: status, body.text, headers: headers)
    }

    /// OpenRouter's error body: `{"error": {"code": <status>, "message", "metadata"?}, "user_id"?}`.
    static func error(_ status: Int, _ message: String, metadata: JSON? = nil, headers: [String: String] = [:]) -> MockResponse {
        var error: [String: JSON] = ["code": .number(String(status)), "message": .string(message)]
        if let metadata { error["metadata"] = metadata }
        return json(["error": .object(error), "user_id": "user_2abc"], status: status, headers: headers)
    }

    /// A `text/event-stream` response: each item is a line block written as its own chunk (an event
    /// `data: …\n\n`, or a comment `: OPENROUTER PROCESSING\n\n`), then `[DONE]` if `done`.
    static func stream(_ items: [StreamItem], done: Bool = true) -> MockResponse {
        var actions: [MockAction] = [.status(200, headers: ["Content-Type": "text/event-stream", "Cache-Control": "no-cache"])]
        for item in items {
            switch item {
            case .event(let json): actions.append(.sse(json.text))
            case .comment: actions.append(.chunkText(": OPENROUTER PROCESSING\n\n"))
            case .pause(let seconds): actions.append(.sleep(seconds))
            }
        }
        if done { actions.append(.sse("[DONE]")) }
        actions.append(.end)
        return MockResponse(actions)
    }

    enum StreamItem {
        case event(JSON)
        case comment
        case pause(TimeInterval)
    }

    // MARK: The model list

    /// Entries of OpenRouter's `GET /models`, trimmed of fields the worker does not read but keeping their shapes.
    static let gpt4oMini: JSON = [
        "id": "openai/gpt-4o-mini", "canonical_slug": "openai/gpt-4o-mini-2024-07-18", "hugging_face_id": "",
        "name": "OpenAI: GPT-4o-mini", "created": 1721260800,
        "description": "GPT-4o mini is OpenAI's newest model after GPT-4 Omni, supporting both text and image inputs.",
        "context_length": 128000,
        "architecture": ["modality": "text+image->text", "input_modalities": ["text", "image", "file"],
                         "output_modalities": ["text"], "tokenizer": "GPT", "instruct_type": nil],
        "pricing": ["prompt": "0.00000015", "completion": "0.0000006", "request": "0", "image": "0.000217",
                    "web_search": "0", "internal_reasoning": "0", "input_cache_read": "0.000000075"],
        "top_provider": ["context_length": 128000, "max_completion_tokens": 16384, "is_moderated": true],
        "per_request_limits": nil,
        "supported_parameters": ["frequency_penalty", "logit_bias", "logprobs", "max_tokens", "presence_penalty",
                                 "response_format", "seed", "stop", "structured_outputs", "temperature",
                                 "tool_choice", "tools", "top_logprobs", "top_p"],
        "default_parameters": [:],
    ]
    static let claudeHaiku: JSON = [
        "id": "anthropic/claude-3.5-haiku", "canonical_slug": "anthropic/claude-3-5-haiku", "name": "Anthropic: Claude 3.5 Haiku",
        "created": 1730678400, "description": "Claude 3.5 Haiku features offers enhanced capabilities in speed.",
        "context_length": 200000,
        "architecture": ["modality": "text+image->text", "input_modalities": ["text", "image"], "output_modalities": ["text"],
                         "tokenizer": "Claude", "instruct_type": nil],
        "pricing": ["prompt": "0.0000008", "completion": "0.000004", "request": "0", "image": "0", "web_search": "0",
                    "internal_reasoning": "0", "input_cache_read": "0.00000008", "input_cache_write": "0.000001"],
        "top_provider": ["context_length": 200000, "max_completion_tokens": 8192, "is_moderated": true],
        "per_request_limits": nil,
        "supported_parameters": ["max_tokens", "stop", "temperature", "tool_choice", "tools", "top_k", "top_p"],
    ]
    /// A free model without tools, whose top provider states no completion limit.
    static let llamaFree: JSON = [
        "id": "meta-llama/llama-3.2-3b-instruct:free", "canonical_slug": "meta-llama/llama-3.2-3b-instruct",
        "name": "Meta: Llama 3.2 3B Instruct (free)", "created": 1727222400, "description": "Llama 3.2 3B.",
        "context_length": 131072,
        "architecture": ["modality": "text->text", "input_modalities": ["text"], "output_modalities": ["text"],
                         "tokenizer": "Llama3", "instruct_type": "llama3"],
        "pricing": ["prompt": "0", "completion": "0", "request": "0", "image": "0", "web_search": "0", "internal_reasoning": "0"],
        "top_provider": ["context_length": 131072, "max_completion_tokens": nil, "is_moderated": false],
        "per_request_limits": nil,
        "supported_parameters": ["frequency_penalty", "max_tokens", "presence_penalty", "stop", "temperature", "top_p"],
    ]
    /// A router model: variable pricing ("-1"), and no `supported_parameters` at all (tool support unknown).
    static let auto: JSON = [
        "id": "openrouter/auto", "canonical_slug": "openrouter/auto", "name": "Auto Router", "created": 1699401600,
        "description": "Your prompt will be processed by a meta-model and routed to one of dozens of models.",
        "context_length": 2000000,
        "architecture": ["modality": "text->text", "input_modalities": ["text"], "output_modalities": ["text"],
                         "tokenizer": "Router", "instruct_type": nil],
        "pricing": ["prompt": "-1", "completion": "-1"],
        "top_provider": ["context_length": nil, "max_completion_tokens": nil, "is_moderated": false],
        "per_request_limits": nil,
    ]
    /// A GPT-4o entry priced at "0.0000025" per prompt token: exactly 2.5 per million, not 2.4999999999999996.
    static let gpt4o: JSON = [
        "id": "openai/gpt-4o", "canonical_slug": "openai/gpt-4o", "name": "OpenAI: GPT-4o", "created": 1715558400,
        "description": "GPT-4o.", "context_length": 128000,
        "architecture": ["modality": "text+image->text", "input_modalities": ["text", "image", "file"],
                         "output_modalities": ["text"], "tokenizer": "GPT", "instruct_type": nil],
        "pricing": ["prompt": "0.0000025", "completion": "0.00001", "request": "0", "image": "0.003613"],
        "top_provider": ["context_length": 128000, "max_completion_tokens": 16384, "is_moderated": true],
        "per_request_limits": nil,
        "supported_parameters": ["max_tokens", "temperature", "tool_choice", "tools", "response_format"],
    ]

    static let modelList: JSON = ["data": [gpt4oMini, claudeHaiku, llamaFree, auto, gpt4o]]

    /// What the worker makes of each entry above.
    static let gpt4oMiniInfo: JSON = [
        "id": "openai/gpt-4o-mini", "name": "OpenAI: GPT-4o-mini", "context_length": 128000, "max_completion_tokens": 16384,
        "pricing": ["prompt_per_million": 0.15, "completion_per_million": 0.6], "supports_tools": true,
    ]
    static let claudeHaikuInfo: JSON = [
        "id": "anthropic/claude-3.5-haiku", "name": "Anthropic: Claude 3.5 Haiku", "context_length": 200000,
        "max_completion_tokens": 8192, "pricing": ["prompt_per_million": 0.8, "completion_per_million": 4],
        "supports_tools": true,
    ]
    static let llamaFreeInfo: JSON = [
        "id": "meta-llama/llama-3.2-3b-instruct:free", "name": "Meta: Llama 3.2 3B Instruct (free)", "context_length": 131072,
        "pricing": ["prompt_per_million": 0, "completion_per_million": 0], "supports_tools": false,
    ]
    static let autoInfo: JSON = ["id": "openrouter/auto", "name": "Auto Router", "context_length": 2000000]
    static let gpt4oInfo: JSON = [
        "id": "openai/gpt-4o", "name": "OpenAI: GPT-4o", "context_length": 128000, "max_completion_tokens": 16384,
        "pricing": ["prompt_per_million": 2.5, "completion_per_million": 10], "supports_tools": true,
    ]
}

// MARK: - Setting up the worker

extension XCTestCase {
    /// Starts a mock server (stopped at teardown).
    func startServer() throws -> MockHTTPServer {
        let server = try MockHTTPServer()
        addTeardownBlock { server.stop() }
        return server
    }

    /// Starts the worker and selects openrouter at the mock server (`params` added to configure; pass
    /// `"api_key": nil`-free params, the key defaults to `OR.key`). Returns the worker after checking the reply and
    /// the warm-up (`configureWarmingUp`).
    func startOpenRouterWorker(_ server: MockHTTPServer, _ params: [String: JSON] = [:], environment: [String: String] = [:],
                               arguments: [String] = [],
                               file: StaticString = #filePath, line: UInt = #line) throws -> WorkerProcess {
        let worker = try startWorker(arguments, environment: environment)
        var all: [String: JSON] = ["provider": "openrouter", "base_url": .string(OR.baseURL(server)),
                                   "api_key": .string(OR.key), "model": "openai/gpt-4o-mini"]
        all.merge(params) { _, new in new }
        let result = try configureWarmingUp(worker, server, all, file: file, line: line)
        XCTAssertEqual(result["provider"], "openrouter", file: file, line: line)
        return worker
    }

    /// Starts the worker and selects openai_compatible at `server.v1BaseURL`, answering and checking the warm-up.
    func startCompatibleWorker(_ server: MockHTTPServer, _ params: [String: JSON] = [:],
                               file: StaticString = #filePath, line: UInt = #line) throws -> WorkerProcess {
        let worker = try startWorker()
        var all: [String: JSON] = ["provider": "openai_compatible", "base_url": .string(server.v1BaseURL), "model": "local-model"]
        all.merge(params) { _, new in new }
        let result = try configureWarmingUp(worker, server, all, file: file, line: line)
        XCTAssertEqual(result["provider"], "openai_compatible", file: file, line: line)
        return worker
    }
}

// MARK: - Checking what the server received


/// Checks the OpenRouter attribution headers and the key on one received request.
func assertOpenRouterHeaders(_ request: RecordedRequest, referer: String = OR.defaultReferer, title: String = OR.defaultTitle,
                             key: String? = OR.key, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(request.headers.values("HTTP-Referer"), [referer], "\(request)", file: file, line: line)
    XCTAssertEqual(request.headers.values("X-OpenRouter-Title"), [title], "\(request)", file: file, line: line)
    XCTAssertEqual(request.headers.values("X-Title"), [title], "\(request)", file: file, line: line)
    XCTAssertEqual(request.headers.values("Authorization"), key.map { ["Bearer \($0)"] } ?? [], "\(request)", file: file, line: line)
}

/// Waits (bounded) for `count` requests and returns them; fails the test if they did not come.
func receivedRequests(_ server: MockHTTPServer, count: Int, file: StaticString = #filePath, line: UInt = #line) -> [RecordedRequest] {
    XCTAssertTrue(server.waitForRequests(count: count, timeout: 10), "expected \(count) requests, got \(server.requests)",
                  file: file, line: line)
    return server.requests
}

/// Checks the envelope of each `chatStream.delta` (id, indexes 0, 1, 2, …, only known keys, something in each)
/// and returns the concatenated content and reasoning. Boundaries between deltas depend on network reads, so
/// tests compare the concatenations.
@discardableResult
func joinedDeltas(_ deltas: [JSON], id: JSON, file: StaticString = #filePath, line: UInt = #line) -> (content: String, reasoning: String) {
    var content = ""
    var reasoning = ""
    for (position, delta) in deltas.enumerated() {
        XCTAssertEqual(delta.keys, ["jsonrpc", "method", "params"], "\(delta)", file: file, line: line)
        XCTAssertEqual(delta["method"], "chatStream.delta", file: file, line: line)
        let params = delta["params"] ?? .null
        XCTAssertTrue(params.keys.isSubset(of: ["id", "index", "content", "reasoning", "tool_calls"]), "\(delta)", file: file, line: line)
        XCTAssertGreaterThan(params.keys.count, 2, "an empty delta: \(delta)", file: file, line: line)
        XCTAssertEqual(params["id"], id, file: file, line: line)
        XCTAssertEqual(params["index"]?.int, position, file: file, line: line)
        content += params["content"]?.string ?? ""
        reasoning += params["reasoning"]?.string ?? ""
    }
    return (content, reasoning)
}

/// Asks `ping` until nothing is in flight (a response is written just before its request is counted out, so
/// one immediate ping may still count it); fails after `timeout`.
func assertNothingInFlight(_ worker: WorkerProcess, timeout: TimeInterval = 10, file: StaticString = #filePath, line: UInt = #line) throws {
    let deadline = Date().addingTimeInterval(timeout)
    var serial = 0
    while true {
        serial += 1
        let id: JSON = .string("idle-\(serial)")
        let count = assertResult(try worker.call("ping", id: id), id: id, file: file, line: line)["in_flight"]?.int
        if count == 0 { return }
        if Date() > deadline {
            XCTFail("still \(count.map(String.init) ?? "?") request(s) in flight after \(timeout) s", file: file, line: line)
            return
        }
        Thread.sleep(forTimeInterval: 0.05)
    }
}
