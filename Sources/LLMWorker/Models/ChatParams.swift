import Foundation

/// Params of `chat` and `chatStream`, decoded once at the edge and then validated.
/// Messages and tools stay as raw JSON: they are forwarded to the server as the client wrote them.
public struct ChatParams: Decodable, Sendable {
    public var messages: [JSONValue]
    public var tools: [JSONValue]?
    public var toolChoice: JSONValue?
    public var model: String?
    public var temperature: Double?
    public var maxTokens: Int?
    public var extra: [String: JSONValue]?

    enum CodingKeys: String, CodingKey {
        case messages, tools, model, temperature, extra
        case toolChoice = "tool_choice"
        case maxTokens = "max_tokens"
    }

    public init(messages: [JSONValue], tools: [JSONValue]? = nil, toolChoice: JSONValue? = nil, model: String? = nil,
                temperature: Double? = nil, maxTokens: Int? = nil, extra: [String: JSONValue]? = nil) {
        self.messages = messages
        self.tools = tools
        self.toolChoice = toolChoice
        self.model = model
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.extra = extra
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        messages = try c.decode([JSONValue].self, forKey: .messages)
        tools = try c.decodeIfPresent([JSONValue].self, forKey: .tools)
        toolChoice = try c.decodeIfPresent(JSONValue.self, forKey: .toolChoice)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature)
        maxTokens = try c.decodeIntegerIfPresent(forKey: .maxTokens)
        extra = try c.decodeIfPresent([String: JSONValue].self, forKey: .extra)
    }

    /// Keys of `extra` that would silently break the request the worker builds.
    public static let reservedExtraKeys: Set<String> = ["model", "messages", "stream", "stream_options", "tools"]

    public func validate() throws(InvalidParams) {
        guard !messages.isEmpty else { throw InvalidParams(field: "messages", "must be a non-empty array of messages") }
        for (index, message) in messages.enumerated() {
            guard let object = message.objectValue else {
                throw InvalidParams(field: "messages[\(index)]", "must be an object, got \(message.typeName)")
            }
            guard let role = object["role"] else {
                throw InvalidParams(field: "messages[\(index)].role", "is required")
            }
            guard role.stringValue != nil else {
                throw InvalidParams(field: "messages[\(index)].role", "must be a string, got \(role.typeName)")
            }
            if let calls = object["tool_calls"] {
                _ = try HistoryToolCalls.wireShape(calls, field: "messages[\(index)].tool_calls")
            }
        }
        for (index, tool) in (tools ?? []).enumerated() where tool.objectValue == nil {
            throw InvalidParams(field: "tools[\(index)]", "must be an object, got \(tool.typeName)")
        }
        try ParamRules.checkTemperature(temperature, field: "temperature")
        try ParamRules.checkMaxTokens(maxTokens, field: "max_tokens")
        for key in (extra ?? [:]).keys.sorted() where Self.reservedExtraKeys.contains(key) {
            throw InvalidParams(field: "extra.\(key)", "may not be set through extra: the worker builds it (use the dedicated param)")
        }
    }
}

/// Range rules shared by `configure` and the per-request params.
public enum ParamRules {
    public static func checkTemperature(_ value: Double?, field: String) throws(InvalidParams) {
        if let value, !(0...2).contains(value) {
            throw InvalidParams(field: field, "must be between 0 and 2, got \(value)")
        }
    }

    public static func checkMaxTokens(_ value: Int?, field: String) throws(InvalidParams) {
        if let value, value < 1 {
            throw InvalidParams(field: field, "must be a positive integer, got \(value)")
        }
    }

    public static func checkPositive(_ value: Double?, field: String) throws(InvalidParams) {
        if let value, !(value > 0 && value.isFinite) {
            throw InvalidParams(field: field, "must be a positive number of seconds, got \(value)")
        }
    }
}
