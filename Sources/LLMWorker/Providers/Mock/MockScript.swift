import Foundation

/// What the mock provider does for one request: the `mock` object of `configure`, overridden field by field
/// by the request's `extra.mock`.
struct MockScript: Sendable {
    struct ScriptedToolCall: Sendable {
        var id: String?
        var name: String
        var arguments: String
    }

    struct ScriptedError: Sendable {
        var kind: ErrorKind
        var message: String?
        var status: Int?
        var afterDeltas: Int
    }

    var text: String?
    var reasoning: String?
    var toolCalls: [ScriptedToolCall] = []
    var chunkChars = 4
    var delay: Double = 0
    var firstTokenDelay: Double = 0
    var error: ScriptedError?
    var finishReason: String?
    var usage: Usage?

    init(defaults: [String: JSONValue]?, overrides: [String: JSONValue]?) throws(InvalidParams) {
        let merged = (defaults ?? [:]).merging(overrides ?? [:]) { _, request in request }
        let field = overrides == nil ? "mock" : "extra.mock"
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            try apply(key: key, value: value, field: "\(field).\(key)")
        }
    }

    private mutating func apply(key: String, value: JSONValue, field: String) throws(InvalidParams) {
        switch key {
        case "text": text = try Self.string(value, field)
        case "reasoning": reasoning = try Self.string(value, field)
        case "chunk_chars": chunkChars = try Self.count(value, field)
        case "delay_ms": delay = try Self.milliseconds(value, field)
        case "first_token_delay_ms": firstTokenDelay = try Self.milliseconds(value, field)
        case "finish_reason": finishReason = try Self.string(value, field)
        case "tool_calls": toolCalls = try Self.toolCalls(value, field)
        case "error": error = try Self.error(value, field)
        case "usage":
            guard let object = value.objectValue else { throw InvalidParams(field: field, "must be an object") }
            // Bounded so that the total the result reports cannot overflow.
            let limit = 1 << 40
            usage = Usage(promptTokens: try Self.count(object["prompt_tokens"] ?? .int(0), "\(field).prompt_tokens", max: limit),
                          completionTokens: try Self.count(object["completion_tokens"] ?? .int(0), "\(field).completion_tokens", max: limit))
        default:
            throw InvalidParams(field: field, "is not a mock setting (text, reasoning, tool_calls, chunk_chars, delay_ms, first_token_delay_ms, error, finish_reason, usage)")
        }
    }

    private static func string(_ value: JSONValue, _ field: String) throws(InvalidParams) -> String {
        guard let text = value.stringValue else { throw InvalidParams(field: field, "must be a string, got \(value.typeName)") }
        return text
    }

    private static func count(_ value: JSONValue, _ field: String, max: Int = Int(Int32.max)) throws(InvalidParams) -> Int {
        guard let number = value.intValue, number >= 0, number <= max else {
            throw InvalidParams(field: field, "must be an integer from 0 to \(max)")
        }
        return number
    }

    private static func optionalString(_ value: JSONValue?, _ field: String) throws(InvalidParams) -> String? {
        guard let value, value != .null else { return nil }
        return try string(value, field)
    }

    private static func milliseconds(_ value: JSONValue, _ field: String) throws(InvalidParams) -> Double {
        guard let number = value.doubleValue, number >= 0, number <= 600_000 else {
            throw InvalidParams(field: field, "must be a number of milliseconds from 0 to 600000")
        }
        return number / 1000
    }

    private static func toolCalls(_ value: JSONValue, _ field: String) throws(InvalidParams) -> [ScriptedToolCall] {
        guard let items = value.arrayValue else { throw InvalidParams(field: field, "must be an array") }
        var calls: [ScriptedToolCall] = []
        for (index, item) in items.enumerated() {
            guard let name = item["name"]?.stringValue else {
                throw InvalidParams(field: "\(field)[\(index)].name", "is required and must be a string")
            }
            let arguments: String
            switch item["arguments"] {
            case .string(let text)?: arguments = text
            case nil, .null?: arguments = "{}"
            case let other?:
                arguments = ToolCallAssembler.argumentsText(other)
            }
            calls.append(ScriptedToolCall(id: try optionalString(item["id"], "\(field)[\(index)].id"), name: name, arguments: arguments))
        }
        return calls
    }

    private static func error(_ value: JSONValue, _ field: String) throws(InvalidParams) -> ScriptedError {
        guard let kindName = value["kind"]?.stringValue else {
            throw InvalidParams(field: "\(field).kind", "is required: one of the error kinds, e.g. 'rate_limited'")
        }
        guard let kind = ErrorKind(rawValue: kindName) else {
            throw InvalidParams(field: "\(field).kind", "'\(kindName)' is not an error kind")
        }
        var status: Int?
        if let statusValue = value["status"], statusValue != .null {
            guard let code = statusValue.intValue, (100...599).contains(code) else {
                throw InvalidParams(field: "\(field).status", "must be an HTTP status code from 100 to 599")
            }
            status = code
        }
        return ScriptedError(kind: kind, message: try optionalString(value["message"], "\(field).message"), status: status,
                             afterDeltas: try count(value["after_deltas"] ?? .int(0), "\(field).after_deltas"))
    }
}
