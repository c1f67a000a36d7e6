import Foundation

/// The answer of `chat`, and the final response of `chatStream`.
/// Fields documented as "or null" are always written, as `null` when empty.
public struct ChatResult: Encodable, Sendable, Equatable {
    public var content: String?
    public var reasoning: String?
    public var toolCalls: [ToolCall]
    public var finishReason: String?
    public var usage: Usage?
    public var model: String?
    public var provider: String
    public var upstreamProvider: String?
    public var timing: Timing
    public var warnings: [String]

    enum CodingKeys: String, CodingKey {
        case content, reasoning, usage, model, provider, timing, warnings
        case toolCalls = "tool_calls"
        case finishReason = "finish_reason"
        case upstreamProvider = "upstream_provider"
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeNullable(content, forKey: .content)
        try container.encodeNullable(reasoning, forKey: .reasoning)
        try container.encode(toolCalls, forKey: .toolCalls)
        try container.encodeNullable(finishReason, forKey: .finishReason)
        try container.encodeNullable(usage, forKey: .usage)
        try container.encodeNullable(model, forKey: .model)
        try container.encode(provider, forKey: .provider)
        try container.encodeNullable(upstreamProvider, forKey: .upstreamProvider)
        try container.encode(timing, forKey: .timing)
        try container.encode(warnings, forKey: .warnings)
    }
}

public struct ToolCall: Encodable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// Always a JSON object, whatever the server sent.
    public var arguments: [String: JSONValue]
    /// The arguments exactly as the server sent them (an object is serialized), for debugging bad tool JSON.
    public var argumentsRaw: String

    enum CodingKeys: String, CodingKey {
        case id, name, arguments
        case argumentsRaw = "arguments_raw"
    }
}

public struct Usage: Codable, Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int
    /// OpenRouter's cost in credits; absent elsewhere.
    public var cost: Double?

    public init(promptTokens: Int, completionTokens: Int, totalTokens: Int? = nil, cost: Double? = nil) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        let (sum, overflow) = promptTokens.addingReportingOverflow(completionTokens)
        self.totalTokens = totalTokens ?? (overflow ? Int.max : sum)
        self.cost = cost
    }

    enum CodingKeys: String, CodingKey {
        case cost
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
    }
}

public struct Timing: Encodable, Sendable, Equatable {
    public var ttftMs: Double?
    public var totalMs: Double

    enum CodingKeys: String, CodingKey {
        case ttftMs = "ttft_ms"
        case totalMs = "total_ms"
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeNullable(ttftMs, forKey: .ttftMs)
        try container.encode(totalMs, forKey: .totalMs)
    }
}

extension KeyedEncodingContainer {
    /// Writes `null` for nil, where the contract says a field is always present.
    mutating func encodeNullable<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
}
