import XCTest
@testable import LLMWorkerTestSupport

/// OpenRouter's error statuses with its JSON bodies (`{"error": {"code", "message", "metadata"?}, "user_id"}`) →
/// the contract's code, kind, status, retryable and upstream_message; the message a user sees is OpenRouter's
/// own, plus the upstream provider's name where `metadata` has it. `max_retries` is 0 unless a test says otherwise.
final class OpenRouterErrorTests: XCTestCase {
    private let question: JSON = ["messages": [["role": "user", "content": "hello"]]]

    private struct Case {
        let status: Int
        let response: MockResponse
        let code: Int
        let data: JSON
        let message: String
    }

    private static let cases: [Case] = [
        Case(status: 400, response: OR.error(400, "openai/gpt-4o-mini-typo is not a valid model ID"), code: -32006,
             data: ["kind": "bad_request", "status": 400, "retryable": false,
                    "upstream_message": "openai/gpt-4o-mini-typo is not a valid model ID"],
             message: "OpenRouter rejected the request (HTTP 400): openai/gpt-4o-mini-typo is not a valid model ID."),
        Case(status: 401, response: OR.error(401, "No auth credentials found"), code: -32001,
             data: ["kind": "auth", "status": 401, "retryable": false, "upstream_message": "No auth credentials found"],
             message: "OpenRouter rejected the API key (HTTP 401): No auth credentials found. Check api_key in configure or OPENROUTER_API_KEY."),
        Case(status: 402, response: OR.error(402, "This request requires more credits, or fewer max_tokens. You requested up to 16384 tokens, but can only afford 1204. To increase, visit https://openrouter.ai/settings/credits and upgrade to a paid account"),
             code: -32003,
             data: ["kind": "insufficient_credits", "status": 402, "retryable": false,
                    "upstream_message": "This request requires more credits, or fewer max_tokens. You requested up to 16384 tokens, but can only afford 1204. To increase, visit https://openrouter.ai/settings/credits and upgrade to a paid account"],
             message: "OpenRouter says the account is out of credits (HTTP 402): This request requires more credits, or fewer max_tokens. You requested up to 16384 tokens, but can only afford 1204. To increase, visit https://openrouter.ai/settings/credits and upgrade to a paid account. Add credits at https://openrouter.ai/settings/credits or choose a cheaper model."),
        Case(status: 403, response: OR.error(403, "openai/gpt-4o-mini requires moderation on OpenAI. Your input was flagged for \"harassment/threatening\". No credits were charged.",
                                             metadata: ["reasons": ["harassment", "harassment/threatening"],
                                                        "flagged_input": "I will find you and...hurt you badly",
                                                        "provider_name": "OpenAI", "model_slug": "openai/gpt-4o-mini"]),
             code: -32004,
             data: ["kind": "content_blocked", "status": 403, "retryable": false,
                    "upstream_message": "openai/gpt-4o-mini requires moderation on OpenAI. Your input was flagged for \"harassment/threatening\". No credits were charged."],
             message: "OpenRouter blocked the request (HTTP 403): openai/gpt-4o-mini requires moderation on OpenAI. Your input was flagged for \"harassment/threatening\". No credits were charged (provider: OpenAI). Flagged for: harassment, harassment/threatening. Flagged input: \"I will find you and...hurt you badly\". Rephrase the request or choose another model."),
        Case(status: 408, response: OR.error(408, "Request timed out"), code: -32008,
             data: ["kind": "timeout", "status": 408, "retryable": true, "upstream_message": "Request timed out"],
             message: "OpenRouter timed out (HTTP 408): Request timed out. Try again."),
        Case(status: 429, response: OR.error(429, "Rate limit exceeded: free-models-per-min. ",
                                             metadata: ["headers": ["X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "0",
                                                                    "X-RateLimit-Reset": "1750000060000"]],
                                             headers: ["Retry-After": "20"]),
             code: -32002,
             data: ["kind": "rate_limited", "status": 429, "retryable": true, "retry_after_s": 20,
                    "upstream_message": "Rate limit exceeded: free-models-per-min."],
             message: "OpenRouter is rate-limiting requests (HTTP 429): Rate limit exceeded: free-models-per-min. Try again in 20 s."),
        Case(status: 502, response: OR.error(502, "Provider returned error",
                                             metadata: ["provider_name": "DeepInfra", "raw": #"{"error":{"message":"Internal server error"}}"#]),
             code: -32007,
             data: ["kind": "unavailable", "status": 502, "retryable": true, "upstream_message": "Provider returned error"],
             message: "OpenRouter could not get an answer from the model's provider (HTTP 502): Provider returned error (provider: DeepInfra): Internal server error. Try again shortly or choose another model."),
        Case(status: 503, response: OR.error(503, "No endpoints found matching your data policy (Free model publication). Configure: https://openrouter.ai/settings/privacy"),
             code: -32007,
             data: ["kind": "unavailable", "status": 503, "retryable": true,
                    "upstream_message": "No endpoints found matching your data policy (Free model publication). Configure: https://openrouter.ai/settings/privacy"],
             message: "OpenRouter has no provider available for this model (HTTP 503): No endpoints found matching your data policy (Free model publication). Configure: https://openrouter.ai/settings/privacy. Try again shortly, or relax routing in configure."),
    ]

    private func expectedError(_ item: Case, id: JSON, partial: Bool) -> JSON {
        var data = item.data.object ?? [:]
        data["provider"] = "openrouter"
        if partial {
            data["partial_content"] = ""
            data["partial_tool_calls"] = []
        }
        return ["jsonrpc": "2.0", "id": id, "error": ["code": .number(String(item.code)), "message": .string(item.message),
                                                       "data": .object(data)]]
    }

    func testEveryStatusForChat() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server, ["max_retries": 0])
        for item in Self.cases {
            server.enqueue(item.response, path: OR.chatPath)
            let id: JSON = .string("chat-\(item.status)")
            XCTAssertEqual(try worker.call("chat", question, id: id), expectedError(item, id: id, partial: true))
        }
        XCTAssertEqual(server.requests(to: OR.chatPath).count, Self.cases.count)
    }

    func testEveryStatusForChatStream() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server, ["max_retries": 0])
        for item in Self.cases {
            server.enqueue(item.response, path: OR.chatPath)
            let id: JSON = .string("stream-\(item.status)")
            let (deltas, response) = try worker.stream(question, id: id)
            XCTAssertEqual(deltas, [])
            XCTAssertEqual(response, expectedError(item, id: id, partial: true))
        }
    }

    /// The model list gets the same mapping (without partial fields: it is not a chat).
    func testErrorsOfTheModelList() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server, ["max_retries": 0])
        for item in Self.cases where [401, 429, 502, 503].contains(item.status) {
            server.enqueue(item.response, path: OR.modelsPath)
            let id: JSON = .string("models-\(item.status)")
            XCTAssertEqual(try worker.call("listModels", ["refresh": true], id: id), expectedError(item, id: id, partial: false))
        }
    }

    /// A Retry-After longer than max_retry_wait_s is not waited for, whatever max_retries says; a 402 with
    /// Retry-After (OpenRouter's in-flight budget) is worth retrying, and says so.
    func testRetryAfterDecidesWhetherToWait() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server, ["max_retries": 2, "max_retry_wait_s": 10])
        server.enqueue(Self.cases.first { $0.status == 429 }!.response, path: OR.chatPath)
        let item = Self.cases.first { $0.status == 429 }!
        XCTAssertEqual(try worker.call("chat", question, id: 1), expectedError(item, id: 1, partial: true))
        XCTAssertEqual(server.requests(to: OR.chatPath).count, 1, "a 20 s Retry-After is over max_retry_wait_s: no retry")

        _ = try worker.call("configure", ["max_retries": 0], id: "c")
        server.enqueue(OR.error(402, "Too many requests in flight for your remaining budget",
                                metadata: ["limit_source": "openrouter_in_flight_budget"], headers: ["Retry-After": "3"]), path: OR.chatPath)
        let data = assertProviderError(try worker.call("chat", question, id: 2), id: 2, code: -32003, kind: "insufficient_credits")
        XCTAssertEqual(data["retryable"], true)
        XCTAssertEqual(data["retry_after_s"], 3)
    }

    /// The provider's own 429, relayed by OpenRouter as "Provider returned error" with the provider's raw text.
    func testUpstreamRateLimitNamesTheProvider() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server, ["max_retries": 0])
        let raw = "google/gemini-2.0-flash-exp:free is temporarily rate-limited upstream. Please retry shortly."
        server.enqueue(OR.error(429, "Provider returned error", metadata: ["raw": .string(raw), "provider_name": "Google AI Studio"]),
                       path: OR.chatPath)
        let reply = try worker.call("chat", question, id: 1)
        let data = assertProviderError(reply, id: 1, code: -32002, kind: "rate_limited")
        XCTAssertEqual(data["upstream_message"], "Provider returned error")
        XCTAssertEqual(reply["error"]?["message"],
                       .string("OpenRouter is rate-limiting requests (HTTP 429): Provider returned error (provider: Google AI Studio): \(raw) Wait a little and try again."))
    }
}
