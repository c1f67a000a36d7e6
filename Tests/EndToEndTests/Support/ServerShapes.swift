import Foundation
@testable import LLMWorkerTestSupport

// What real OpenAI-compatible servers put on the wire, as fixtures for `MockHTTPServer`: the chunk shapes of
// OpenAI, vLLM (current and pre-2026), llama.cpp's llama-server, LM Studio, Ollama's /v1, the LiteLLM proxy and
// OpenRouter, with the quirks listed in ../shared/reference/wire-notes.md and wire-facts-sourced.md. Each fixture
// gives the exact bytes a test server sends, and the `ChatResult` the worker must make of them.

/// One piece of an SSE body as a server writes it.
enum SSEPiece: Sendable, Equatable {
    /// `data: <text>` then a blank line.
    case data(String)
    /// A comment line (`: keep-alive`, `: OPENROUTER PROCESSING`, or `:` alone), then a blank line.
    case comment(String)
    /// `data: [DONE]` then a blank line.
    case done
}

/// An SSE body: the pieces in order, sent as one HTTP chunk each (or rendered to bytes for byte-level tests).
struct SSEBody: Sendable {
    var pieces: [SSEPiece]

    init(_ pieces: [SSEPiece]) { self.pieces = pieces }

    /// The body's bytes. `dataPrefix` is `"data: "` or `"data:"`; `lineEnding` is `"\n"`, `"\r\n"` or `"\r"`.
    func bytes(dataPrefix: String = "data: ", lineEnding: String = "\n") -> Data {
        var text = ""
        for piece in pieces { text += Self.render(piece, dataPrefix: dataPrefix, lineEnding: lineEnding) }
        return Data(text.utf8)
    }

    static func render(_ piece: SSEPiece, dataPrefix: String = "data: ", lineEnding: String = "\n") -> String {
        switch piece {
        case .data(let text): return dataPrefix + text + lineEnding + lineEnding
        case .comment(let text): return ":" + text + lineEnding + lineEnding
        case .done: return dataPrefix + "[DONE]" + lineEnding + lineEnding
        }
    }

    /// `200 text/event-stream`, chunked, one chunk per piece, `delay` between pieces, then the end of the body.
    /// `close` ends with a close of the connection instead of the terminating chunk (a server that drops the stream).
    func response(delay: TimeInterval = 0, close: Bool = false, headers: [String: String] = [:]) -> MockResponse {
        var all = ["Content-Type": "text/event-stream", "Cache-Control": "no-cache"]
        for (name, value) in headers { all[name] = value }
        var actions: [MockAction] = [.status(200, headers: all)]
        for (i, piece) in pieces.enumerated() {
            if i > 0 && delay > 0 { actions.append(.sleep(delay)) }
            actions.append(.chunkText(Self.render(piece)))
        }
        actions.append(close ? .close : .end)
        return MockResponse(actions)
    }

    /// The data events' texts (without `[DONE]` and comments).
    var dataEvents: [String] {
        pieces.compactMap { if case .data(let text) = $0 { return text } else { return nil } }
    }
}

/// A tool call a fixture sends: `arguments` in the pieces the server streams (their concatenation is the whole text).
struct FixtureToolCall: Sendable {
    var id: String
    var name: String
    var argumentPieces: [String]

    var arguments: String { argumentPieces.joined() }
}

/// Token counts a fixture reports.
struct FixtureUsage: Sendable {
    var prompt: Int
    var completion: Int

    var total: Int { prompt + completion }

    var expected: JSON {
        ["prompt_tokens": .number(String(prompt)), "completion_tokens": .number(String(completion)),
         "total_tokens": .number(String(total))]
    }
}

/// The servers whose wire shapes the worker must absorb.
enum ServerShape: String, CaseIterable, Sendable {
    /// api.openai.com: first delta with role, `content: ""` and `refusal: null`; `usage: null` on every chunk;
    /// the usage chunk has `choices: []`; tool-call ids `call_…`, `arguments: ""` in the first fragment.
    case openAI
    /// vLLM ≥ 0.16 with a reasoning parser: `delta.reasoning`; tool-call ids `chatcmpl-tool-…`, the first fragment
    /// with `arguments: null`; a finish chunk with `delta.content: ""` and `stop_reason`.
    case vLLM
    /// vLLM before the 2026 rename: `delta.reasoning_content`.
    case vLLMLegacy
    /// llama-server: a role chunk with `content: null`; the finish chunk carries `timings`; the usage chunk has
    /// `choices: []`; tool-call ids without a `call_` prefix; the first tool delta holds id, name and the first
    /// argument piece together; several events per network read and a bare `:` keep-alive before the first event.
    case llamaCpp
    /// LM Studio with a thinking model and no reasoning separation: `<think>` inline in `content`, the tags split
    /// across chunks; numeric tool-call ids.
    case lmStudio
    /// Ollama's /v1: `role: "assistant"` and `content` in every delta, reasoning in `reasoning`, each tool call whole
    /// in one chunk (with `index`), usage chunk with `choices: []`.
    case ollama
    /// LiteLLM proxy: `finish_reason` absent (not null) until the last chunk; the usage chunk has
    /// `choices: [{"index": 0, "delta": {}}]`; reasoning in `reasoning_content`.
    case liteLLM
    /// OpenRouter (as seen by a generic OpenAI-compatible client, e.g. through a proxy): `: OPENROUTER PROCESSING`
    /// comments, a top-level `provider`, `native_finish_reason`, usage with `cost` on the last chunk (which keeps
    /// its `choices`), and two consecutive `finish_reason: "tool_calls"` chunks after tool calls.
    case openRouter

    /// The model name the server reports in its answers.
    var model: String {
        switch self {
        case .openAI: return "gpt-4.1-2025-04-14"
        case .vLLM: return "Qwen/Qwen3-8B"
        case .vLLMLegacy: return "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
        case .llamaCpp: return "qwen2.5-7b-instruct-q4_k_m.gguf"
        case .lmStudio: return "qwen3-8b-mlx"
        case .ollama: return "llama3.2:3b"
        case .liteLLM: return "gpt-4o-mini"
        case .openRouter: return "openai/gpt-4o-mini"
        }
    }

    /// `upstream_provider` in the result: only OpenRouter names who served the request.
    var upstreamProvider: JSON {
        self == .openRouter ? "OpenAI" : .null
    }

    /// `usage` in the result for `usage` reported by this server (OpenRouter adds its `cost`).
    func expectedUsage(_ usage: FixtureUsage) -> JSON {
        guard self == .openRouter, var object = usage.expected.object else { return usage.expected }
        object["cost"] = 0.0000213
        return .object(object)
    }

    /// A tool-call id in this server's style, for call number `n`.
    func toolCallID(_ n: Int) -> String {
        switch self {
        case .openAI, .liteLLM: return "call_\(["k3Jd9", "Xq2Lp", "Zt7Wm"][n % 3])Rv8sTn1bQe4Yh"
        case .vLLM, .vLLMLegacy: return "chatcmpl-tool-\(["5b2e", "91ac", "e07f"][n % 3])c1d4a8f64f0b9e3d27a6c5f1"
        case .llamaCpp: return ["f8Kq2PzXwLmN0bT4vY7cR1sD9hJ3gA6e", "M2nB7vC4xZ1aS8dF5gH3jK6lQ9wE0rT", "p0OiUyTrEwQ1aSdFgHjKlZxCvBnM2345"][n % 3]
        case .lmStudio: return ["365174485", "871294032", "120938475"][n % 3]
        case .ollama: return "call_\(["a1b2c3d4", "e5f6a7b8", "c9d0e1f2"][n % 3])"
        case .openRouter: return "call_\(["OR1", "OR2", "OR3"][n % 3])abc123def456"
        }
    }

    // MARK: Streams

    /// A streamed text answer: reasoning pieces first (in the server's reasoning field, or inline `<think>` for
    /// LM Studio), then content pieces, a finish chunk with `finishReason`, usage, and `[DONE]`.
    func textStream(reasoning: [String] = [], content: [String], finishReason: String = "stop",
                    usage: FixtureUsage = FixtureUsage(prompt: 12, completion: 5)) -> SSEBody {
        var pieces: [SSEPiece] = leadingComments
        pieces.append(.data(chunk(firstDelta(), finishReason: .null)))
        if self == .lmStudio, !reasoning.isEmpty {
            // The tags are ordinary tokens, split across chunks like any other.
            for text in ["<th", "ink>"] + reasoning + ["</th", "ink>\n\n"] {
                pieces.append(.data(chunk(contentDelta(text), finishReason: .null)))
            }
        } else {
            for text in reasoning { pieces.append(.data(chunk(reasoningDelta(text), finishReason: .null))) }
        }
        for text in content { pieces.append(.data(chunk(contentDelta(text), finishReason: .null))) }
        pieces += finishAndUsage(finishReason: finishReason, usage: usage)
        pieces.append(.done)
        return SSEBody(pieces)
    }

    /// A streamed tool-call answer, fragmented the way this server fragments calls.
    func toolStream(_ calls: [FixtureToolCall], content: [String] = [],
                    usage: FixtureUsage = FixtureUsage(prompt: 40, completion: 18)) -> SSEBody {
        var pieces: [SSEPiece] = leadingComments
        pieces.append(.data(chunk(firstDelta(), finishReason: .null)))
        for text in content { pieces.append(.data(chunk(contentDelta(text), finishReason: .null))) }
        for (n, call) in calls.enumerated() {
            for fragment in toolFragments(call, index: n) {
                pieces.append(.data(chunk(toolDelta([fragment]), finishReason: .null)))
            }
        }
        pieces += finishAndUsage(finishReason: "tool_calls", usage: usage)
        if self == .openRouter {
            // OpenRouter can send a second, empty finish chunk (QwenLM/qwen-code#2402): the calls must survive it.
            pieces.insert(.data(chunk(["content": ""], finishReason: "tool_calls", extra: ["native_finish_reason": "tool_calls"])),
                          at: pieces.count - 1)
        }
        pieces.append(.done)
        return SSEBody(pieces)
    }

    private var leadingComments: [SSEPiece] {
        switch self {
        case .llamaCpp: return [.comment("")]
        case .openRouter: return [.comment(" OPENROUTER PROCESSING"), .comment(" OPENROUTER PROCESSING")]
        default: return []
        }
    }

    private func firstDelta() -> JSON {
        switch self {
        case .openAI: return ["role": "assistant", "content": "", "refusal": nil]
        case .vLLM, .vLLMLegacy, .lmStudio, .ollama, .openRouter: return ["role": "assistant", "content": ""]
        case .llamaCpp: return ["role": "assistant", "content": nil]
        case .liteLLM: return ["role": "assistant"]
        }
    }

    private func contentDelta(_ text: String) -> JSON {
        self == .ollama ? ["role": "assistant", "content": .string(text)] : ["content": .string(text)]
    }

    private func reasoningDelta(_ text: String) -> JSON {
        switch self {
        case .vLLM, .openRouter: return ["reasoning": .string(text)]
        case .ollama: return ["role": "assistant", "content": "", "reasoning": .string(text)]
        case .vLLMLegacy, .llamaCpp, .liteLLM, .lmStudio, .openAI: return ["reasoning_content": .string(text)]
        }
    }

    private func toolDelta(_ fragments: [JSON]) -> JSON {
        switch self {
        case .ollama: return ["role": "assistant", "content": "", "tool_calls": .array(fragments)]
        default: return ["tool_calls": .array(fragments)]
        }
    }

    /// The `tool_calls` fragments this server streams for one call.
    func toolFragments(_ call: FixtureToolCall, index: Int) -> [JSON] {
        let n: JSON = .number(String(index))
        func piece(_ text: String) -> JSON { ["index": n, "function": ["arguments": .string(text)]] }
        switch self {
        case .openAI, .lmStudio, .liteLLM, .openRouter:
            let first: JSON = ["index": n, "id": .string(call.id), "type": "function",
                               "function": ["name": .string(call.name), "arguments": ""]]
            return [first] + call.argumentPieces.map(piece)
        case .vLLM, .vLLMLegacy:
            // Name first with arguments null, then the pieces; a stray null-arguments fragment in the middle.
            let first: JSON = ["index": n, "id": .string(call.id), "type": "function",
                               "function": ["name": .string(call.name), "arguments": nil]]
            var rest = call.argumentPieces.map(piece)
            rest.insert(["index": n, "function": ["arguments": nil]], at: min(1, rest.count))
            return [first] + rest
        case .llamaCpp:
            // The first delta carries id, name and the first argument piece together.
            let firstPiece = call.argumentPieces.first ?? ""
            let first: JSON = ["index": n, "id": .string(call.id), "type": "function",
                               "function": ["name": .string(call.name), "arguments": .string(firstPiece)]]
            return [first] + call.argumentPieces.dropFirst().map(piece)
        case .ollama:
            return [["id": .string(call.id), "index": n, "type": "function",
                     "function": ["name": .string(call.name), "arguments": .string(call.arguments)]]]
        }
    }

    private func finishAndUsage(finishReason: String, usage: FixtureUsage) -> [SSEPiece] {
        let usageObject: JSON = ["prompt_tokens": .number(String(usage.prompt)),
                                 "completion_tokens": .number(String(usage.completion)),
                                 "total_tokens": .number(String(usage.total))]
        let reason = JSON.string(finishReason)
        switch self {
        case .openAI:
            var detailed = usageObject.object!
            detailed["prompt_tokens_details"] = ["cached_tokens": 0, "audio_tokens": 0]
            detailed["completion_tokens_details"] = ["reasoning_tokens": 0, "audio_tokens": 0]
            return [.data(chunk([:], finishReason: reason)),
                    .data(envelope(choices: [], extra: ["usage": .object(detailed)]))]
        case .vLLM, .vLLMLegacy:
            return [.data(chunk(["content": ""], finishReason: reason, extra: ["stop_reason": nil])),
                    .data(envelope(choices: [], extra: ["usage": usageObject]))]
        case .llamaCpp:
            let timings: JSON = ["prompt_n": .number(String(usage.prompt)), "prompt_ms": 35.2, "prompt_per_token_ms": 2.93,
                                 "prompt_per_second": 340.9, "predicted_n": .number(String(usage.completion)),
                                 "predicted_ms": 61.7, "predicted_per_token_ms": 12.34, "predicted_per_second": 81.03]
            return [.data(chunk([:], finishReason: reason, topLevel: ["timings": timings])),
                    .data(envelope(choices: [], extra: ["usage": usageObject, "timings": timings]))]
        case .lmStudio:
            return [.data(chunk([:], finishReason: reason)),
                    .data(envelope(choices: [], extra: ["usage": usageObject]))]
        case .ollama:
            return [.data(chunk(["role": "assistant", "content": ""], finishReason: reason)),
                    .data(envelope(choices: [], extra: ["usage": usageObject]))]
        case .liteLLM:
            return [.data(chunk([:], finishReason: reason)),
                    .data(envelope(choices: [["index": 0, "delta": [:]]], extra: ["usage": usageObject]))]
        case .openRouter:
            var withCost = usageObject.object!
            withCost["cost"] = 0.0000213
            withCost["is_byok"] = false
            return [.data(chunk([:], finishReason: reason, extra: ["native_finish_reason": reason])),
                    .data(envelope(choices: [["index": 0, "delta": ["role": "assistant", "content": ""],
                                              "finish_reason": nil, "native_finish_reason": nil, "logprobs": nil]],
                                   extra: ["usage": .object(withCost)]))]
        }
    }

    /// One chunk with one choice. `extra` goes into the choice, `topLevel` into the chunk.
    func chunk(_ delta: JSON, finishReason: JSON, extra: [String: JSON] = [:], topLevel: [String: JSON] = [:]) -> String {
        var choice: [String: JSON] = ["index": 0, "delta": delta]
        // LiteLLM omits finish_reason until the last chunk; everyone else sends null.
        if !(self == .liteLLM && finishReason == .null) { choice["finish_reason"] = finishReason }
        if self == .openAI || self == .lmStudio || self == .openRouter { choice["logprobs"] = .null }
        if self == .openRouter, choice["native_finish_reason"] == nil { choice["native_finish_reason"] = .null }
        for (key, value) in extra { choice[key] = value }
        return envelope(choices: [.object(choice)], extra: topLevel)
    }

    /// The chunk envelope with this server's top-level fields.
    func envelope(choices: [JSON], extra: [String: JSON] = [:]) -> String {
        var object: [String: JSON] = ["object": "chat.completion.chunk", "created": 1_767_225_600,
                                      "model": .string(model), "choices": .array(choices)]
        switch self {
        case .openAI:
            object["id"] = "chatcmpl-BzT9aQx3"
            object["service_tier"] = "default"
            object["system_fingerprint"] = "fp_51e1070cf2"
            object["usage"] = .null
        case .vLLM, .vLLMLegacy: object["id"] = "chatcmpl-8f1c0a2e9d7b4c36"
        case .llamaCpp:
            object["id"] = "chatcmpl-Tq2w8LmZkR0pV4xN"
            object["system_fingerprint"] = "b6600-1d2f3e4a"
        case .lmStudio:
            object["id"] = "chatcmpl-mz5c9dq1l0x6a3"
            object["system_fingerprint"] = .string(model)
        case .ollama:
            object["id"] = "chatcmpl-417"
            object["system_fingerprint"] = "fp_ollama"
        case .liteLLM:
            object["id"] = "chatcmpl-4c1d2b5e-7f1a-4c9e-8d3b-2a6f0e9c1b7d"
            object["system_fingerprint"] = .null
        case .openRouter:
            object["id"] = "gen-1767225600-AbCdEfGhIjKlMnOp"
            object["provider"] = "OpenAI"
        }
        for (key, value) in extra { object[key] = value }
        return JSON.object(object).text
    }

    // MARK: Non-streamed answers

    /// A `chat` (non-streaming) answer in this server's shape: text (and reasoning) or tool calls.
    func completion(content: String?, reasoning: String? = nil, toolCalls: [FixtureToolCall] = [],
                    finishReason: String? = nil, usage: FixtureUsage = FixtureUsage(prompt: 30, completion: 9)) -> MockResponse {
        var message: [String: JSON] = ["role": "assistant"]
        var text = content.map(JSON.string) ?? .null
        if self == .lmStudio, let reasoning {
            text = .string("<think>\(reasoning)</think>\n\n\(content ?? "")")
        } else if let reasoning {
            switch self {
            case .vLLM, .ollama, .openRouter: message["reasoning"] = .string(reasoning)
            default: message["reasoning_content"] = .string(reasoning)
            }
        }
        // llama.cpp and Ollama answer tool calls with `content: ""`, the others with null.
        if content == nil, !toolCalls.isEmpty, self == .llamaCpp || self == .ollama { text = "" }
        message["content"] = text
        if !toolCalls.isEmpty {
            message["tool_calls"] = .array(toolCalls.enumerated().map { n, call in
                var object: [String: JSON] = ["id": .string(call.id), "type": "function",
                                              "function": ["name": .string(call.name), "arguments": .string(call.arguments)]]
                if self == .ollama { object["index"] = .number(String(n)) }
                return .object(object)
            })
        }
        switch self {
        case .openAI: message["refusal"] = .null; message["annotations"] = []
        case .liteLLM: message["function_call"] = .null
        case .openRouter: message["refusal"] = .null
        default: break
        }
        let reason = JSON.string(finishReason ?? (toolCalls.isEmpty ? "stop" : "tool_calls"))
        var choice: [String: JSON] = ["index": 0, "message": .object(message), "finish_reason": reason]
        if self == .openAI || self == .openRouter { choice["logprobs"] = .null }
        if self == .vLLM || self == .vLLMLegacy { choice["stop_reason"] = .null }
        if self == .openRouter { choice["native_finish_reason"] = reason }
        var object: [String: JSON] = [
            "object": "chat.completion", "created": 1_767_225_600, "model": .string(model), "choices": [.object(choice)],
            "usage": ["prompt_tokens": .number(String(usage.prompt)), "completion_tokens": .number(String(usage.completion)),
                      "total_tokens": .number(String(usage.total))],
        ]
        switch self {
        case .openAI: object["id"] = "chatcmpl-BzT9aQx3"; object["system_fingerprint"] = "fp_51e1070cf2"
        case .vLLM, .vLLMLegacy: object["id"] = "chatcmpl-8f1c0a2e9d7b4c36"; object["prompt_logprobs"] = .null
        case .llamaCpp:
            object["id"] = "chatcmpl-Tq2w8LmZkR0pV4xN"
            object["timings"] = ["prompt_n": .number(String(usage.prompt)), "prompt_ms": 40.1,
                                 "predicted_n": .number(String(usage.completion)), "predicted_ms": 120.5]
        case .lmStudio: object["id"] = "chatcmpl-mz5c9dq1l0x6a3"; object["system_fingerprint"] = .string(model)
        case .ollama: object["id"] = "chatcmpl-417"; object["system_fingerprint"] = "fp_ollama"
        case .liteLLM: object["id"] = "chatcmpl-4c1d2b5e"; object["system_fingerprint"] = .null
        case .openRouter:
            object["id"] = "gen-1767225600-AbCdEfGhIjKlMnOp"
            object["provider"] = "OpenAI"
            var usageObject = object["usage"]!.object!
            usageObject["cost"] = 0.0000213
            object["usage"] = .object(usageObject)
        }
        var headers: [String: String] = [:]
        if self == .llamaCpp { headers["Server"] = "llama.cpp" }
        return .jsonText(JSON.object(object).text, headers: headers)
    }
}
