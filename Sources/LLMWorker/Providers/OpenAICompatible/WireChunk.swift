import Foundation

/// A Chat Completions response or stream chunk as servers really send it. Every field is decoded leniently:
/// a field of an unexpected type is treated as absent rather than failing the whole chunk, because one
/// server's quirk (an empty-string finish_reason, content as parts, arguments as an object) must not silence the answer.
struct WireChunk: Decodable {
    var choices: [WireChoice] = []
    var model: String?
    var provider: String?
    var usage: WireUsage?
    /// Set when the body or event may carry an error (an `error` member, vLLM's flat `"object": "error"`, or
    /// OpenRouter's `finish_reason: "error"`): the whole object is then handed to `UpstreamErrorMapper`.
    var mayCarryError = false

    enum CodingKeys: String, CodingKey { case choices, model, provider, usage, error, object }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        choices = (try? c.decode([WireChoice].self, forKey: .choices)) ?? []
        model = try? c.decode(String.self, forKey: .model)
        provider = try? c.decode(String.self, forKey: .provider)
        usage = try? c.decode(WireUsage.self, forKey: .usage)
        let errorPresent = c.contains(.error) && !((try? c.decodeNil(forKey: .error)) ?? true)
        mayCarryError = errorPresent || (try? c.decode(String.self, forKey: .object)) == "error"
            || choices.contains { $0.finishReason == "error" }
    }

    /// The first choice as a `CompletionChunk` (`n` is never above 1 here).
    var completionChunk: CompletionChunk {
        var chunk = CompletionChunk(model: model, upstreamProvider: provider)
        chunk.usage = usage?.usage
        if let choice = choices.first {
            let message = choice.delta ?? choice.message
            chunk.content = message?.content
            chunk.reasoning = message?.reasoning
            chunk.toolCalls = message?.toolCalls ?? []
            chunk.finishReason = choice.finishReason
        }
        return chunk
    }
}

struct WireChoice: Decodable {
    var delta: WireMessage?
    var message: WireMessage?
    var finishReason: String?

    enum CodingKeys: String, CodingKey {
        case delta, message
        case finishReason = "finish_reason"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        delta = try? c.decode(WireMessage.self, forKey: .delta)
        message = try? c.decode(WireMessage.self, forKey: .message)
        // LocalAI sends "" where others send null.
        if let reason = try? c.decode(String.self, forKey: .finishReason), !reason.isEmpty { finishReason = reason }
    }
}

struct WireMessage: Decodable {
    var content: String?
    var reasoning: String?
    var toolCalls: [ToolCallFragment] = []

    enum CodingKeys: String, CodingKey {
        case content, reasoning
        case reasoningContent = "reasoning_content"
        case reasoningDetails = "reasoning_details"
        case toolCalls = "tool_calls"
    }

    private struct Part: Decodable {
        var text: String?
        var summary: String?
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let text = try? c.decode(String.self, forKey: .content) {
            content = text
        } else if let parts = try? c.decode([Part].self, forKey: .content) {
            content = parts.compactMap(\.text).joined()
        }
        // Three names for the same thing (vLLM renamed reasoning_content to reasoning; OpenRouter adds details).
        // Only one is used, so a server sending several does not repeat the reasoning.
        if let text = try? c.decode(String.self, forKey: .reasoning), !text.isEmpty {
            reasoning = text
        } else if let text = try? c.decode(String.self, forKey: .reasoningContent), !text.isEmpty {
            reasoning = text
        } else if let details = try? c.decode([Part].self, forKey: .reasoningDetails) {
            let text = details.compactMap { $0.text ?? $0.summary }.joined()
            if !text.isEmpty { reasoning = text }
        }
        if let calls = try? c.decode([WireToolCall].self, forKey: .toolCalls) {
            toolCalls = calls.map(\.fragment)
        }
    }
}

struct WireToolCall: Decodable {
    var fragment: ToolCallFragment

    enum CodingKeys: String, CodingKey { case index, id, function, name, arguments }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        fragment = ToolCallFragment()
        fragment.index = try? c.decode(Int.self, forKey: .index)
        fragment.id = try? c.decode(String.self, forKey: .id)
        // OpenAI nests name and arguments under `function`; a few servers put them at the top level.
        let function = (try? c.nestedContainer(keyedBy: CodingKeys.self, forKey: .function)) ?? c
        fragment.name = try? function.decode(String.self, forKey: .name)
        if let text = try? function.decode(String.self, forKey: .arguments) {
            fragment.arguments = text
        } else if let object = try? function.decode(JSONValue.self, forKey: .arguments), !object.isNull {
            let data = (try? OutgoingMessage.encoder().encode(object)) ?? Data()
            fragment.arguments = String(decoding: data, as: UTF8.self)
        }
    }
}

struct WireUsage: Decodable {
    var usage: Usage?

    enum CodingKeys: String, CodingKey {
        case cost
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func count(_ key: CodingKeys) -> Int? {
            // A count that does not fit an Int (a server's garbage) is no count, not a crash.
            (try? c.decode(Int.self, forKey: key)) ?? (try? c.decode(Double.self, forKey: key)).flatMap { Int(exactly: $0.rounded(.towardZero)) }
        }
        guard let prompt = count(.promptTokens), let completion = count(.completionTokens) else { return }
        usage = Usage(promptTokens: prompt, completionTokens: completion, totalTokens: count(.totalTokens),
                      cost: try? c.decode(Double.self, forKey: .cost))
    }
}
