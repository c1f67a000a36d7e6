import Foundation
import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport

/// Error bodies as real servers send them (see shared/reference/wire-facts-sourced.md), mapped to the contract.
final class UpstreamErrorMapperTests: XCTestCase {

    // MARK: - Harness

    private func map(_ status: Int, _ body: String, headers: [String: String] = [:],
                     dialect: ErrorDialect = .openAICompatible,
                     provider: ProviderKind = .openaiCompatible) -> ProviderError {
        UpstreamErrorMapper.map(status: status, headers: headers, body: Data(body.utf8), dialect: dialect,
                                provider: provider)
    }

    private func mapOR(_ status: Int, _ body: String, headers: [String: String] = [:]) -> ProviderError {
        map(status, body, headers: headers, dialect: .openRouter, provider: .openrouter)
    }

    private func embedded(_ json: String, dialect: ErrorDialect = .openAICompatible,
                          provider: ProviderKind = .openaiCompatible,
                          file: StaticString = #filePath, line: UInt = #line) -> ProviderError? {
        guard let object = try? JSONDecoder().decode([String: JSONValue].self, from: Data(json.utf8)) else {
            XCTFail("fixture is not a JSON object: \(json)", file: file, line: line)
            return nil
        }
        return UpstreamErrorMapper.embeddedError(in: object, dialect: dialect, provider: provider)
    }

    private func assertError(
        _ error: ProviderError?, _ kind: ErrorKind, status: Int?, retryable: Bool,
        upstream: String?? = .none, retryAfter: Double? = nil, provider: String = "openai_compatible",
        messageContains: [String] = [], file: StaticString = #filePath, line: UInt = #line
    ) {
        guard let error else {
            XCTFail("expected a \(kind) error, got nil", file: file, line: line)
            return
        }
        XCTAssertEqual(error.kind, kind, "kind; message: \(error.message)", file: file, line: line)
        XCTAssertEqual(error.status, status, "status", file: file, line: line)
        XCTAssertEqual(error.retryable, retryable, "retryable", file: file, line: line)
        XCTAssertEqual(error.retryAfterSeconds, retryAfter, "retry_after_s", file: file, line: line)
        XCTAssertEqual(error.provider, provider, "provider", file: file, line: line)
        if case .some(let expected) = upstream {
            XCTAssertEqual(error.upstreamMessage, expected, "upstream_message", file: file, line: line)
        }
        for part in messageContains {
            XCTAssertTrue(error.message.contains(part), "message lacks \(part.debugDescription): \(error.message)",
                          file: file, line: line)
        }
        XCTAssertFalse(error.message.isEmpty, file: file, line: line)
        XCTAssertFalse(error.message.contains("\n"), "message has a newline: \(error.message)", file: file, line: line)
    }

    // MARK: - OpenAI

    func testOpenAIWrongKeyIsAuthWithAnActionableMessage() {
        let body = #"{"error":{"message":"Incorrect API key provided: sk-proj-****abcd. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#
        let error = map(401, body)
        assertError(error, .auth, status: 401, retryable: false,
                    upstream: "Incorrect API key provided: sk-proj-****abcd. You can find your API key at https://platform.openai.com/account/api-keys.")
        XCTAssertEqual(error.message, "The server rejected the API key (HTTP 401): Incorrect API key provided: sk-proj-****abcd. You can find your API key at https://platform.openai.com/account/api-keys. Check api_key in configure or OPENAI_API_KEY.")
        XCTAssertEqual(error.rpcError.code, -32001)
    }

    func testOpenAIContextLengthExceededByCode() {
        let body = #"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130415 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#
        assertError(map(400, body), .contextLength, status: 400, retryable: false,
                    messageContains: ["context window", "(HTTP 400)", "130415 tokens", "Shorten the conversation"])
        // The code alone is enough, whatever the text says.
        let terse = #"{"error":{"message":"Request too large.","type":"invalid_request_error","code":"context_length_exceeded"}}"#
        assertError(map(400, terse), .contextLength, status: 400, retryable: false)
    }

    func testOpenAIRateLimitUsesRetryAfterMsFirst() {
        let body = #"{"error":{"message":"Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Used 29500, Requested 1200. Please try again in 1.4s.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#
        let headers = ["retry-after-ms": "1500", "retry-after": "2", "x-ratelimit-reset-tokens": "1.4s"]
        assertError(map(429, body, headers: headers), .rateLimited, status: 429, retryable: true,
                    retryAfter: 1.5, messageContains: ["rate-limiting", "Rate limit reached for gpt-4o", "1.5 s"])
        assertError(map(429, body, headers: ["retry-after": "20"]), .rateLimited, status: 429, retryable: true,
                    retryAfter: 20, messageContains: ["Try again in 20 s."])
        assertError(map(429, body), .rateLimited, status: 429, retryable: true, retryAfter: nil)
    }

    func testOpenAIInsufficientQuotaIsCreditsAndNotRetryable() {
        let body = #"{"error":{"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#
        let error = map(429, body, headers: ["retry-after": "20"])
        assertError(error, .insufficientCredits, status: 429, retryable: false, retryAfter: nil,
                    messageContains: ["quota", "You exceeded your current quota"])
        XCTAssertEqual(error.rpcError.code, -32003)
        // Only the type says so (older responses).
        let typeOnly = #"{"error":{"message":"You exceeded your current quota.","type":"insufficient_quota","code":null}}"#
        assertError(map(429, typeOnly), .insufficientCredits, status: 429, retryable: false)
    }

    func testOpenAIUnknownModelIsNotFoundAndPointsAtListModels() {
        let body = #"{"error":{"message":"The model `gpt-5-turbo` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#
        assertError(map(404, body), .notFound, status: 404, retryable: false,
                    upstream: "The model `gpt-5-turbo` does not exist or you do not have access to it.",
                    messageContains: ["(HTTP 404)", "gpt-5-turbo", "model may not exist", "listModels"])
    }

    func testOpenAI403IsAuth() {
        let body = #"{"error":{"code":"unsupported_country_region_territory","message":"Country, region, or territory not supported","param":null,"type":"request_forbidden"}}"#
        assertError(map(403, body), .auth, status: 403, retryable: false,
                    messageContains: ["refused access (HTTP 403)", "Country, region, or territory not supported",
                                      "OPENAI_API_KEY"])
    }

    func testOpenAIServerErrors() {
        let body = #"{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}"#
        assertError(map(500, body), .upstreamError, status: 500, retryable: true,
                    messageContains: ["failed to answer (HTTP 500)", "Sorry about that!"])
        for status in [502, 503, 504] {
            assertError(map(status, body), .unavailable, status: status, retryable: true,
                        messageContains: ["unavailable (HTTP \(status))"])
        }
        for status in [501, 505, 520, 599] {
            assertError(map(status, body), .upstreamError, status: status, retryable: true)
        }
    }

    func testStatusTable() {
        let body = #"{"error":{"message":"nope","type":"x"}}"#
        let expected: [(Int, ErrorKind, Bool)] = [
            (400, .badRequest, false), (401, .auth, false), (402, .insufficientCredits, false), (403, .auth, false),
            (404, .notFound, false), (405, .badRequest, false), (408, .timeout, true), (409, .upstreamError, true),
            (410, .badRequest, false), (413, .badRequest, false), (415, .badRequest, false), (422, .badRequest, false),
            (429, .rateLimited, true), (451, .badRequest, false), (499, .badRequest, false),
            (500, .upstreamError, true), (502, .unavailable, true), (503, .unavailable, true),
            (504, .unavailable, true), (507, .upstreamError, true),
        ]
        for (status, kind, retryable) in expected {
            let error = map(status, body)
            XCTAssertEqual(error.kind, kind, "HTTP \(status)")
            XCTAssertEqual(error.status, status)
            XCTAssertEqual(error.retryable, retryable, "HTTP \(status)")
            XCTAssertEqual(error.upstreamMessage, "nope")
        }
    }

    func testContextLengthOnlyFor4xxThatAreNotOtherwiseClaimed() {
        let text = #"{"error":{"message":"This model's maximum context length is 4096 tokens."}}"#
        for status in [400, 413, 422] {
            assertError(map(status, text), .contextLength, status: status, retryable: false)
        }
        // The status decides: a 5xx stays a 5xx whatever its text says.
        assertError(map(500, text), .upstreamError, status: 500, retryable: true)
    }

    func testContextLengthPhrasings() {
        let messages = [
            "Input length exceeds the context length of the model",
            "prompt is too long: 208310 tokens > 200000 maximum",
            "Trying to keep the first 9000 tokens when context window is only 8192",
            "Context size has been exceeded.",
            "Too many tokens: the prompt has 9000 tokens",
            "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens and 200 `max_new_tokens`",
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
        ]
        for message in messages {
            let body = #"{"error":{"message":"\#(message)","type":"invalid_request_error"}}"#
            XCTAssertEqual(map(400, body).kind, .contextLength, message)
        }
        let unrelated = #"{"error":{"message":"max_tokens must be at least 1, got -186.","type":"BadRequestError","code":400}}"#
        XCTAssertEqual(map(400, unrelated).kind, .badRequest)
    }

    func testOpenAIMidStreamErrorWithoutChoices() {
        let event = #"{"error": {"message": "The server had an error while processing your request. Sorry about that!", "type": "server_error"}}"#
        assertError(embedded(event), .upstreamError, status: nil, retryable: true,
                    upstream: "The server had an error while processing your request. Sorry about that!",
                    messageContains: ["reported an error", "Sorry about that!"])
    }

    // MARK: - OpenRouter

    func testOpenRouter400BadRequest() {
        let body = #"{"error":{"code":400,"message":"openai/gpt-5-nano-pro is not a valid model ID"},"user_id":"user_2abc"}"#
        assertError(mapOR(400, body), .badRequest, status: 400, retryable: false,
                    upstream: "openai/gpt-5-nano-pro is not a valid model ID", provider: "openrouter",
                    messageContains: ["OpenRouter rejected the request (HTTP 400)", "not a valid model ID"])
    }

    func testOpenRouter400ContextLength() {
        let body = #"{"error":{"message":"This endpoint's maximum context length is 131072 tokens. However, you requested about 140000 tokens (130000 of text input, 10000 in the output). Please reduce the length of either one, or use the \"middle-out\" transform to compress your prompt automatically.","code":400,"metadata":{"provider_name":null}}}"#
        assertError(mapOR(400, body), .contextLength, status: 400, retryable: false, provider: "openrouter",
                    messageContains: ["context window", "131072 tokens"])
    }

    func testOpenRouter401() {
        let body = #"{"error":{"message":"No auth credentials found","code":401}}"#
        let error = mapOR(401, body)
        assertError(error, .auth, status: 401, retryable: false, upstream: "No auth credentials found",
                    provider: "openrouter")
        XCTAssertEqual(error.message, "OpenRouter rejected the API key (HTTP 401): No auth credentials found. Check api_key in configure or OPENROUTER_API_KEY.")
    }

    func testOpenRouter402RetryableOnlyWithRetryAfter() {
        let body = #"{"error":{"message":"This request requires more credits, or fewer max_tokens. You requested up to 4096 tokens, but can only afford 1365. To increase, visit https://openrouter.ai/settings/credits and upgrade to a paid account","code":402}}"#
        assertError(mapOR(402, body), .insufficientCredits, status: 402, retryable: false, retryAfter: nil,
                    provider: "openrouter", messageContains: ["out of credits (HTTP 402)", "can only afford 1365"])
        let budget = #"{"error":{"message":"Too many requests in flight for this key's budget","code":402,"metadata":{"limit_source":"openrouter_in_flight_budget"}}}"#
        assertError(mapOR(402, budget, headers: ["retry-after": "3"]), .insufficientCredits, status: 402,
                    retryable: true, retryAfter: 3, provider: "openrouter", messageContains: ["Try again in 3 s."])
    }

    func testOpenRouter403ModerationListsReasonsFlaggedInputAndProvider() {
        let body = #"{"error":{"code":403,"message":"openai/gpt-4o requires moderation on OpenAI. Your input was flagged for \"harassment\". No credits were charged.","metadata":{"reasons":["harassment","violence"],"flagged_input":"I will find you and...make you regret it","provider_name":"OpenAI","model_slug":"openai/gpt-4o"}}}"#
        let error = mapOR(403, body)
        assertError(error, .contentBlocked, status: 403, retryable: false,
                    upstream: "openai/gpt-4o requires moderation on OpenAI. Your input was flagged for \"harassment\". No credits were charged.",
                    provider: "openrouter",
                    messageContains: ["OpenRouter blocked the request (HTTP 403)", "No credits were charged (provider: OpenAI).",
                                      "Flagged for: harassment, violence.",
                                      "Flagged input: \"I will find you and...make you regret it\"",
                                      "Rephrase"])
        XCTAssertEqual(error.rpcError.code, -32004)
    }

    func testOpenRouter403AboutTheKeyIsAuthOrItsLimit() {
        let permission = #"{"error":{"code":403,"message":"This API key does not have permission to use this model"}}"#
        assertError(mapOR(403, permission), .auth, status: 403, retryable: false, provider: "openrouter",
                    messageContains: ["refused access (HTTP 403)", "OPENROUTER_API_KEY"])
        let limit = #"{"error":{"message":"Key limit exceeded (monthly limit). Manage it using https://openrouter.ai/settings/keys","code":403}}"#
        assertError(mapOR(403, limit), .insufficientCredits, status: 403, retryable: false, provider: "openrouter",
                    messageContains: ["spending limit", "Key limit exceeded (monthly limit)"])
        // A guardrail block without moderation metadata is still content_blocked.
        let guardrail = #"{"error":{"code":403,"message":"Request blocked by your organization's guardrail policy"}}"#
        assertError(mapOR(403, guardrail), .contentBlocked, status: 403, retryable: false, provider: "openrouter")
    }

    func testOpenRouter408And429() {
        assertError(mapOR(408, #"{"error":{"code":408,"message":"Request timed out"}}"#), .timeout, status: 408,
                    retryable: true, provider: "openrouter", messageContains: ["OpenRouter timed out (HTTP 408)"])
        let body = #"{"error":{"message":"Rate limit exceeded: free-models-per-min. ","code":429,"metadata":{"headers":{"X-RateLimit-Limit":"20","X-RateLimit-Remaining":"0","X-RateLimit-Reset":"1741305600000"}}}}"#
        assertError(mapOR(429, body, headers: ["retry-after": "20"]), .rateLimited, status: 429, retryable: true,
                    upstream: "Rate limit exceeded: free-models-per-min.", retryAfter: 20, provider: "openrouter",
                    messageContains: ["OpenRouter is rate-limiting requests (HTTP 429)", "free-models-per-min"])
    }

    func testOpenRouter429FromProviderWithRawAsNestedJSON() {
        // Seen in the wild: metadata.raw an object whose `data` is the upstream's JSON error as text.
        let body = #"{"error":{"message":"Provider returned error","code":429,"metadata":{"raw":{"__kind":"OK","data":"{\"error\":{\"code\":null,\"message\":\"Rate limit exceeded\",\"param\":null,\"type\":\"rate_limit_exceeded\"}}\n"},"provider_name":"SambaNova"}},"code":429}"#
        assertError(mapOR(429, body), .rateLimited, status: 429, retryable: true, upstream: "Provider returned error",
                    provider: "openrouter",
                    messageContains: ["Provider returned error (provider: SambaNova): Rate limit exceeded"])
    }

    func testOpenRouter502NamesTheProvider() {
        let body = #"{"error":{"code":502,"message":"Provider returned error","metadata":{"provider_name":"Together","raw":"upstream connect error or disconnect/reset before headers. reset reason: connection termination"}}}"#
        assertError(mapOR(502, body), .unavailable, status: 502, retryable: true, upstream: "Provider returned error",
                    provider: "openrouter",
                    messageContains: ["(HTTP 502)", "(provider: Together)", "upstream connect error"])
        let plain = #"{"error":{"code":502,"message":"anthropic/claude-sonnet-4 is temporarily unavailable","metadata":{"provider_name":"Anthropic"}}}"#
        assertError(mapOR(502, plain), .unavailable, status: 502, retryable: true, provider: "openrouter",
                    messageContains: ["temporarily unavailable (provider: Anthropic)"])
    }

    func testOpenRouter503() {
        let body = #"{"error":{"code":503,"message":"No allowed providers are available for the selected model."}}"#
        assertError(mapOR(503, body, headers: ["retry-after": "5"]), .unavailable, status: 503, retryable: true,
                    retryAfter: 5, provider: "openrouter", messageContains: ["No allowed providers", "routing"])
    }

    func testOpenRouterProviderErrorWithRawAndTopLevelUserID() {
        let body = #"{"error":{"message":"Provider returned error","code":400,"metadata":{"raw":"ERROR","provider_name":"Stealth"}},"user_id":"user_xxx"}"#
        let error = mapOR(400, body)
        // "ERROR" adds nothing to "Provider returned error", so it is not repeated.
        XCTAssertEqual(error.message, "OpenRouter rejected the request (HTTP 400): Provider returned error (provider: Stealth).")
        assertError(error, .badRequest, status: 400, retryable: false, upstream: "Provider returned error",
                    provider: "openrouter")
        XCTAssertFalse(error.message.contains("user_xxx"))
        // A raw text that does say more is added.
        let informative = #"{"error":{"message":"Provider returned error","code":400,"metadata":{"raw":"Invalid 'tools[0].function.name': string too long","provider_name":"Azure"}},"user_id":"user_xxx"}"#
        assertError(mapOR(400, informative), .badRequest, status: 400, retryable: false, provider: "openrouter",
                    messageContains: ["Provider returned error (provider: Azure): Invalid 'tools[0].function.name': string too long."])
    }

    func testOpenRouterRawThatRepeatsTheMessageIsNotRepeated() {
        let body = #"{"error":{"message":"Upstream said: overloaded","code":502,"metadata":{"raw":"overloaded","provider_name":"X"}}}"#
        let error = mapOR(502, body)
        XCTAssertEqual(error.message.components(separatedBy: "overloaded").count, 2, error.message)
    }

    func testOpenRouterRawGoogleErrorTextSaysContextExceeded() {
        let raw = #"{\n  \"error\": {\n    \"code\": 400,\n    \"message\": \"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).\",\n    \"status\": \"INVALID_ARGUMENT\"\n  }\n}\n"#
        let body = #"{"error":{"message":"Provider returned error","code":400,"metadata":{"raw":"\#(raw)","provider_name":"Google AI Studio"}}}"#
        assertError(mapOR(400, body), .contextLength, status: 400, retryable: false, provider: "openrouter",
                    messageContains: ["(provider: Google AI Studio): The input token count (1200000)"])
    }

    func testOpenRouterMidStreamErrorChunkWithStringCode() {
        let chunk = #"{"id":"cmpl-abc123","object":"chat.completion.chunk","created":1234567890,"model":"gpt-3.5-turbo","provider":"openai","error":{"code":"server_error","message":"Provider disconnected"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}"#
        assertError(embedded(chunk, dialect: .openRouter, provider: .openrouter), .upstreamError, status: nil,
                    retryable: true, upstream: "Provider disconnected", provider: "openrouter",
                    messageContains: ["Provider disconnected (provider: openai)"])
    }

    func testOpenRouterMidStreamErrorChunkWithNumericCode() {
        let chunk = #"{"id":"gen-1","object":"chat.completion.chunk","model":"anthropic/claude-sonnet-4","provider":"Anthropic","error":{"code":502,"message":"Overloaded"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error","native_finish_reason":"error"}]}"#
        assertError(embedded(chunk, dialect: .openRouter, provider: .openrouter), .unavailable, status: 502,
                    retryable: true, upstream: "Overloaded", provider: "openrouter",
                    messageContains: ["(error code 502)", "Overloaded (provider: Anthropic)"])
    }

    func testOpenRouterErrorInsideAChoiceAndBareErrorFinish() {
        let answer = #"{"id":"gen-2","model":"x/y","provider":"DeepInfra","choices":[{"index":0,"finish_reason":"error","message":{"role":"assistant","content":"Partial"},"error":{"code":429,"message":"Rate limited upstream"}}]}"#
        assertError(embedded(answer, dialect: .openRouter, provider: .openrouter), .rateLimited, status: 429,
                    retryable: true, upstream: "Rate limited upstream", provider: "openrouter")
        let bare = #"{"id":"gen-3","provider":"Fireworks","choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}"#
        assertError(embedded(bare, dialect: .openRouter, provider: .openrouter), .upstreamError, status: nil,
                    retryable: true, upstream: .some(nil), provider: "openrouter", messageContains: ["Fireworks"])
    }

    // MARK: - vLLM

    func testVLLMOldFlatErrorContextLength() {
        let body = #"{"object":"error","message":"This model's maximum context length is 16384 tokens. However, you requested 122946 tokens (112946 in the messages, 10000 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400}"#
        assertError(map(400, body), .contextLength, status: 400, retryable: false,
                    messageContains: ["maximum context length is 16384 tokens"])
        // The same object as a 2xx body or SSE event maps by its code.
        assertError(embedded(body), .contextLength, status: 400, retryable: false,
                    messageContains: ["(error code 400)"])
    }

    func testVLLMNewNestedErrors() {
        let notFound = #"{"error":{"message":"The model `Qwen/Qwen3-9B` does not exist.","type":"NotFoundError","param":null,"code":404}}"#
        assertError(map(404, notFound), .notFound, status: 404, retryable: false,
                    upstream: "The model `Qwen/Qwen3-9B` does not exist.")
        let tools = #"{"error":{"message":"\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set","type":"BadRequestError","param":null,"code":400}}"#
        assertError(map(400, tools), .badRequest, status: 400, retryable: false,
                    messageContains: ["--enable-auto-tool-choice"])
        // A proposed future string code.
        let future = #"{"error":{"message":"Prompt too long for this model.","type":"BadRequestError","param":null,"code":"context_length_exceeded"}}"#
        assertError(map(400, future), .contextLength, status: 400, retryable: false)
    }

    // MARK: - llama.cpp

    func testLlamaCppContextSizeError() {
        let body = #"{"error":{"code":400,"message":"the request exceeds the available context size. try increasing the context size or enable context shift","type":"exceed_context_size_error","n_prompt_tokens":14429,"n_ctx":8192}}"#
        assertError(map(400, body, headers: ["connection": "close"]), .contextLength, status: 400, retryable: false,
                    upstream: "the request exceeds the available context size. try increasing the context size or enable context shift")
        // The type decides even when the text does not say it.
        let typeOnly = #"{"error":{"code":400,"message":"request rejected","type":"exceed_context_size_error"}}"#
        assertError(map(400, typeOnly), .contextLength, status: 400, retryable: false)
    }

    func testLlamaCppLoadingAndParseErrors() {
        let loading = #"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#
        assertError(map(503, loading), .unavailable, status: 503, retryable: true, upstream: "Loading model",
                    messageContains: ["loading the model"])
        let parse = #"{"error":{"code":500,"message":"[json.exception.parse_error.101] parse error at line 1, column 10: syntax error while parsing value","type":"server_error"}}"#
        assertError(map(500, parse), .upstreamError, status: 500, retryable: true)
    }

    // MARK: - Ollama

    func testOllamaErrorsWithNullCode() {
        let notFound = #"{"error":{"message":"model \"llama9\" not found, try pulling it first","type":"not_found_error","param":null,"code":null}}"#
        assertError(map(404, notFound), .notFound, status: 404, retryable: false,
                    upstream: "model \"llama9\" not found, try pulling it first")
        let bad = #"{"error":{"message":"[] is too short - 'messages'","type":"invalid_request_error","param":null,"code":null}}"#
        assertError(map(400, bad), .badRequest, status: 400, retryable: false, upstream: "[] is too short - 'messages'")
        let api = #"{"error":{"message":"llama runner process has terminated: exit status 2","type":"api_error","param":null,"code":null}}"#
        assertError(map(500, api), .upstreamError, status: 500, retryable: true)
        // Ollama's native 404 page when /v1 is missing from base_url.
        assertError(map(404, "404 page not found"), .notFound, status: 404, retryable: false,
                    upstream: "404 page not found", messageContains: ["base_url"])
    }

    // MARK: - LiteLLM

    func testLiteLLMStringCodeAndNoneStrings() {
        let body = #"{"error":{"message":"litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached for gpt-4o in organization org-xxx on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 2s.","type":"throttling_error","param":"None","code":"429"}}"#
        assertError(map(429, body), .rateLimited, status: 429, retryable: true, retryAfter: nil,
                    messageContains: ["OpenAIException"])
        // The same error as an in-stream event maps by the string code.
        assertError(embedded(body), .rateLimited, status: 429, retryable: true,
                    messageContains: ["(error code 429)"])
        let unknownModel = #"{"error":{"message":"{'error': '/chat/completions: Invalid model name passed in model=gpt-9. Call `/v1/models` to view available models for your key.'}","type":"None","param":"None","code":"400"}}"#
        let error = map(400, unknownModel)
        assertError(error, .badRequest, status: 400, retryable: false, messageContains: ["Invalid model name"])
        XCTAssertFalse(error.message.contains("None"), error.message)
    }

    func testLiteLLMMidStreamServerError() {
        let event = #"{"error":{"message":"litellm.APIConnectionError: APIConnectionError: OpenAIException - Connection error.","type":"None","param":"None","code":"500"}}"#
        assertError(embedded(event), .upstreamError, status: 500, retryable: true, messageContains: ["Connection error."])
    }

    // MARK: - LM Studio

    func testLMStudioStringErrorWith200() {
        let body = #"{"error":"Unexpected endpoint or method. (POST /chat/completions)"}"#
        assertError(embedded(body), .upstreamError, status: nil, retryable: true,
                    upstream: "Unexpected endpoint or method. (POST /chat/completions)",
                    messageContains: ["Unexpected endpoint or method.", "base_url", "/v1"])
        // Through map() with the 200 it came with.
        assertError(map(200, body), .upstreamError, status: nil, retryable: true,
                    upstream: "Unexpected endpoint or method. (POST /chat/completions)")
        // And with an error status.
        assertError(map(404, body), .notFound, status: 404, retryable: false,
                    messageContains: ["Unexpected endpoint"])
    }

    func testLMStudioMLXContextErrorAsString() {
        assertError(embedded(#"{"error":"Context size has been exceeded."}"#), .upstreamError, status: nil,
                    retryable: true, upstream: "Context size has been exceeded.")
        assertError(map(400, #"{"error":"Context size has been exceeded."}"#), .contextLength, status: 400,
                    retryable: false)
    }

    // MARK: - Bodies that are not JSON

    func testHTML502PageQuotesTheTitle() {
        let page = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0 (Ubuntu)</center>\r\n</body>\r\n</html>\r\n"
        let error = map(502, page)
        assertError(error, .unavailable, status: 502, retryable: true, upstream: "502 Bad Gateway",
                    messageContains: ["unavailable (HTTP 502): 502 Bad Gateway."])
        XCTAssertFalse(error.message.contains("<"))
        let openRouter = mapOR(502, page)
        assertError(openRouter, .unavailable, status: 502, retryable: true, upstream: "502 Bad Gateway",
                    provider: "openrouter")
    }

    func testCloudflarePageKeepsTheStatusKind() {
        let page = """
        <!DOCTYPE html>
        <!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
        <html lang="en-US"><head><title>openrouter.ai | 524: A timeout occurred</title>
        <meta charset="UTF-8" /><style>body{color:red}</style></head><body><h1>A timeout occurred</h1></body></html>
        """
        assertError(map(524, page), .upstreamError, status: 524, retryable: true,
                    upstream: "openrouter.ai | 524: A timeout occurred")
        assertError(map(401, page), .auth, status: 401, retryable: false)
    }

    func testHTMLWithoutTitleIsStrippedOfTagsScriptsAndEntities() {
        let page = "<html><head><script>var x = '<b>';</script><style>p{}</style></head><body><h1>Service   Unavailable</h1>\n<p>The server is down for maintenance &amp; will be back &lt;soon&gt;.</p></body></html>"
        let error = map(503, page)
        XCTAssertEqual(error.upstreamMessage, "Service Unavailable The server is down for maintenance & will be back <soon>.")
        XCTAssertEqual(error.kind, .unavailable)
    }

    func testOtherMarkupAndAngleBracketText() {
        let xml = #"<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"#
        XCTAssertEqual(map(403, xml).upstreamMessage, "AccessDenied Access Denied")
        // Text that merely starts with "<" and has no text outside tags is quoted as it is.
        XCTAssertEqual(map(500, "<no response from backend>").upstreamMessage, "<no response from backend>")
        let bigPage = "<html><body><p>" + String(repeating: "Something went wrong on our side. ", count: 50) + "</p></body></html>"
        let quoted = map(500, bigPage).upstreamMessage ?? ""
        XCTAssertLessThanOrEqual(quoted.count, 200)
        XCTAssertTrue(quoted.hasPrefix("Something went wrong on our side. Something"), quoted)
    }

    func testPlainTextBodyIsQuotedCollapsedAndShortened() {
        assertError(map(500, "Internal Server Error\n"), .upstreamError, status: 500, retryable: true,
                    upstream: "Internal Server Error")
        let long = "Traceback (most recent call last):\n\t" + String(repeating: "frame  line\n", count: 100)
        let error = map(500, long)
        let quoted = error.upstreamMessage ?? ""
        XCTAssertLessThanOrEqual(quoted.count, 200)
        XCTAssertTrue(quoted.hasSuffix("…"), quoted)
        XCTAssertTrue(quoted.hasPrefix("Traceback (most recent call last): frame line frame line"), quoted)
        XCTAssertFalse(quoted.contains("\n") || quoted.contains("\t") || quoted.contains("  "))
    }

    func testEmptyBodySaysSo() {
        for body in ["", "  \r\n\t "] {
            let error = map(503, body)
            assertError(error, .unavailable, status: 503, retryable: true, upstream: .some(nil),
                        messageContains: ["(HTTP 503) with an empty response body."])
        }
        assertError(map(401, ""), .auth, status: 401, retryable: false, upstream: .some(nil),
                    messageContains: ["empty response body", "OPENAI_API_KEY"])
        assertError(mapOR(429, ""), .rateLimited, status: 429, retryable: true, provider: "openrouter",
                    messageContains: ["empty response body"])
    }

    func testInvalidUTF8NeverCrashes() {
        var bytes = Data([0xFF, 0xFE, 0xC3])
        bytes.append(Data("Bad gateway".utf8))
        bytes.append(contentsOf: [0xE2, 0x82])
        let error = UpstreamErrorMapper.map(status: 502, headers: [:], body: bytes, dialect: .openAICompatible,
                                            provider: .openaiCompatible)
        XCTAssertEqual(error.kind, .unavailable)
        XCTAssertTrue(error.upstreamMessage?.contains("Bad gateway") ?? false, "\(error)")
        XCTAssertTrue(error.upstreamMessage?.contains("\u{FFFD}") ?? false)

        // JSON whose message holds an invalid byte is still read as JSON.
        var json = Data(#"{"error":{"message":"caf"#.utf8)
        json.append(0xE9)
        json.append(Data(#" not found","type":"not_found_error","code":null}}"#.utf8))
        let parsed = UpstreamErrorMapper.map(status: 404, headers: [:], body: json, dialect: .openAICompatible,
                                             provider: .openaiCompatible)
        XCTAssertEqual(parsed.kind, .notFound)
        XCTAssertEqual(parsed.upstreamMessage, "caf\u{FFFD} not found")

        // Random bytes at every status: always an error, never a crash.
        var generator = SplitMix64(seed: 42)
        for status in [200, 400, 401, 403, 404, 429, 500, 502] {
            for length in [1, 2, 7, 64, 300] {
                let random = Data((0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) })
                let error = UpstreamErrorMapper.map(status: status, headers: [:], body: random, dialect: .openRouter,
                                                    provider: .openrouter)
                XCTAssertFalse(error.message.isEmpty)
            }
        }
    }

    func testJSONThatIsNotAnErrorObjectIsQuoted() {
        let error = map(500, #"{"status":"fail","reason":"disk full"}"#)
        XCTAssertEqual(error.kind, .upstreamError)
        XCTAssertEqual(error.upstreamMessage, #"{"reason":"disk full","status":"fail"}"#)
        // Frameworks and gateways: {"message": …}, FastAPI's {"detail": …}.
        XCTAssertEqual(map(401, #"{"message":"Invalid authentication credentials"}"#).upstreamMessage,
                       "Invalid authentication credentials")
        XCTAssertEqual(map(404, #"{"detail":"Not Found"}"#).upstreamMessage, "Not Found")
        let validation = #"{"detail":[{"loc":["body","messages"],"msg":"field required","type":"value_error.missing"},{"loc":["body","model"],"msg":"str type expected","type":"type_error.str"}]}"#
        XCTAssertEqual(map(422, validation).upstreamMessage, "field required; str type expected")
        XCTAssertEqual(map(500, "[1,2]").upstreamMessage, "[1,2]")
        XCTAssertEqual(map(500, #""just a string""#).upstreamMessage, "just a string")
        // An error object without any text.
        let empty = map(500, #"{"error":{}}"#)
        XCTAssertEqual(empty.kind, .upstreamError)
        XCTAssertNil(empty.upstreamMessage)
        XCTAssertTrue(empty.message.contains("with an empty response body") == false)
    }

    func testNon2xxNonErrorStatuses() {
        let ok = map(200, #"{"id":"chatcmpl-1","object":"chat.completion","choices":[]}"#)
        assertError(ok, .invalidResponse, status: 200, retryable: false, messageContains: ["(HTTP 200)"])
        let html = map(200, "<html><title>Login required</title></html>")
        assertError(html, .invalidResponse, status: 200, retryable: false, upstream: "Login required")
        let empty = map(204, "")
        assertError(empty, .invalidResponse, status: 204, retryable: false, upstream: .some(nil))
        let redirect = map(301, "<html><title>301 Moved Permanently</title></html>")
        assertError(redirect, .upstreamError, status: 301, retryable: false, messageContains: ["base_url"])
    }

    // MARK: - Secrets

    func testEchoedKeysAreRedacted() {
        let key = "sk-or-v1-" + String(repeating: "0123456789abcdef", count: 2)
        let body = #"{"error":{"message":"Invalid token: Bearer \#(key) was rejected","code":401}}"#
        let error = mapOR(401, body)
        XCTAssertFalse(error.message.contains("0123456789abcdef"), error.message)
        XCTAssertFalse(error.upstreamMessage?.contains("0123456789abcdef") ?? true)
        XCTAssertTrue(error.upstreamMessage?.contains("[redacted]") ?? false)
        let text = map(401, "Unauthorized: key sk-live-abcdefghijklmnop is invalid")
        XCTAssertFalse(text.upstreamMessage?.contains("abcdefghijklmnop") ?? true)
    }

    // MARK: - Embedded errors

    func testNoErrorGivesNil() {
        let chunks = [
            #"{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
            #"{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#,
            #"{"error":null,"choices":[{"index":0,"delta":{"content":"x"}}]}"#,
            #"{"error":"","choices":[]}"#,
            #"{"error":false}"#,
            #"{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}"#,
            #"{}"#,
        ]
        for chunk in chunks {
            XCTAssertNil(embedded(chunk), chunk)
            XCTAssertNil(embedded(chunk, dialect: .openRouter, provider: .openrouter), chunk)
        }
        // finish_reason "error" without an error object only means an error on OpenRouter.
        let bare = #"{"choices":[{"index":0,"delta":{},"finish_reason":"error"}]}"#
        XCTAssertNil(embedded(bare))
        XCTAssertNotNil(embedded(bare, dialect: .openRouter, provider: .openrouter))
    }

    func testEmbeddedCodesThatAreNotHTTPStatusesAreUpstreamErrors() {
        for code in [#""server_error""#, "200", "1", "99999", #""42x""#, "null", #""None""#, "1.5"] {
            let json = #"{"error":{"message":"boom","code":\#(code)}}"#
            assertError(embedded(json), .upstreamError, status: nil, retryable: true, upstream: "boom")
        }
        assertError(embedded(#"{"error":{"message":"slow down","code":429.0}}"#), .rateLimited, status: 429,
                    retryable: true)
        assertError(embedded(#"{"error":{"message":"who are you","code":" 401 "}}"#), .auth, status: 401,
                    retryable: false)
    }

    func testEmbeddedErrorFromMapKeepsRetryAfterWhenRetryable() {
        let body = #"{"error":{"message":"busy","code":"503"}}"#
        let error = map(200, body, headers: ["retry-after": "4"])
        assertError(error, .unavailable, status: 503, retryable: true, retryAfter: 4)
    }

    // MARK: - Retry-After

    func testRetryAfterParsing() {
        let now = Date(timeIntervalSince1970: 1_445_412_000) // Wed, 21 Oct 2015 07:20:00 GMT
        func parse(_ headers: [String: String]) -> Double? {
            UpstreamErrorMapper.retryAfterSeconds(headers: headers, now: now)
        }
        XCTAssertNil(parse([:]))
        XCTAssertEqual(parse(["retry-after": "30"]), 30)
        XCTAssertEqual(parse(["retry-after": " 2.5 "]), 2.5)
        XCTAssertEqual(parse(["retry-after": "0"]), 0)
        XCTAssertEqual(parse(["retry-after-ms": "1500"]), 1.5)
        XCTAssertEqual(parse(["retry-after-ms": "250", "retry-after": "9"]), 0.25)
        XCTAssertEqual(parse(["retry-after-ms": "soon", "retry-after": "9"]), 9)
        XCTAssertEqual(parse(["retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"]), 480)
        XCTAssertEqual(parse(["retry-after": "Wednesday, 21-Oct-15 07:28:00 GMT"]), 480)
        XCTAssertEqual(parse(["retry-after": "Wed Oct 21 07:28:00 2015"]), 480)
        XCTAssertEqual(parse(["retry-after": "Wed, 21 Oct 2015 07:00:00 GMT"]), 0, "a date in the past: now")
        for garbage in ["", "soon", "-1", "inf", "nan", "1e3", "0x10", "30s", ".", "Wed, 99 Foo 2015"] {
            XCTAssertNil(parse(["retry-after": garbage]), garbage)
        }
        XCTAssertEqual(parse(["Retry-After": "7"]), 7, "keys are lowercased by the caller, but tolerate others")
    }

    // MARK: - Contract shape

    func testRPCErrorCarriesTheContractFields() {
        let body = #"{"error":{"message":"Rate limit exceeded: free-models-per-min","code":429}}"#
        let error = mapOR(429, body, headers: ["retry-after": "20"])
        let rpc = error.rpcError
        XCTAssertEqual(rpc.code, -32002)
        guard case .object(let data)? = rpc.data else { return XCTFail("no data") }
        XCTAssertEqual(data["kind"], .string("rate_limited"))
        XCTAssertEqual(data["status"], .int(429))
        XCTAssertEqual(data["retryable"], .bool(true))
        XCTAssertEqual(data["retry_after_s"], .double(20))
        XCTAssertEqual(data["upstream_message"], .string("Rate limit exceeded: free-models-per-min"))
        XCTAssertEqual(data["provider"], .string("openrouter"))
    }

    func testLongServerMessagesAreClipped() {
        let long = String(repeating: "word ", count: 1000)
        let error = map(400, #"{"error":{"message":"\#(long)"}}"#)
        XCTAssertLessThan(error.message.count, 700)
        XCTAssertLessThanOrEqual(error.upstreamMessage?.count ?? 0, 2000)
    }
}
