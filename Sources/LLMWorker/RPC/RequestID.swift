import Foundation

/// A JSON-RPC id, echoed back with the JSON type and value it came with.
/// Two ids are the same id when they are the same string, both null, or numbers of the same value.
public enum RequestID: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case int(Int64)
    case double(Double)
    /// A number written back exactly as the client spelled it, because `int` or `double` would change it: an
    /// integer outside Int64 (it would come back rounded, as a fraction), or an integral value written as a fraction
    /// or with an exponent (`1.0`, `1e3`: a client would get an integer back).
    case number(String)
    case null

    /// The id of a number spelled `text` in the request.
    init?(numberSpelling text: String) {
        let looksIntegral = !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
        if looksIntegral, let value = Int64(text) {
            // `-0` reads as 0 but must come back as the client spelled it.
            self = value == 0 && text.hasPrefix("-") ? .number(text) : .int(value)
        } else if let value = Double(text), value.isFinite {
            self = !looksIntegral && value.rounded() != value ? .double(value) : .number(text)
        } else {
            return nil
        }
    }

    /// The id as JSON text, for the envelope of every answer and delta.
    var jsonBytes: Data {
        var bytes: [UInt8] = []
        switch self {
        case .number(let text): return Data(text.utf8)
        case .string(let text): JSONText.appendString(text, to: &bytes)
        case .int(let value): JSONText.appendInt(Int(value), to: &bytes)
        case .null: JSONText.append("null", to: &bytes)
        case .double: return (try? OutgoingMessage.encoder().encode(self)) ?? Data("null".utf8)
        }
        return Data(bytes)
    }

    var isNumber: Bool {
        switch self {
        case .int, .double, .number: return true
        case .string, .null: return false
        }
    }

    /// Numbers compare by value (a `cancel` naming `1.0` reaches the request `1.0`, whose params decode to 1).
    private enum Identity: Hashable {
        case string(String)
        case integer(String)
        case fraction(Double)
        case null
    }

    private var identity: Identity {
        func ofDouble(_ value: Double) -> Identity {
            if let integer = Int64(exactly: value) { return .integer(String(integer)) }
            return value.rounded() == value && value.isFinite ? .integer(String(format: "%.0f", value)) : .fraction(value)
        }
        switch self {
        case .string(let text): return .string(text)
        case .int(let value): return .integer(String(value))
        case .double(let value): return ofDouble(value)
        case .number(let text):
            let looksIntegral = !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
            if looksIntegral { return .integer(text.hasPrefix("-") && text.dropFirst().allSatisfy { $0 == "0" } ? "0" : text) }
            return ofDouble(Double(text) ?? .nan)
        case .null: return .null
        }
    }

    public static func == (lhs: RequestID, rhs: RequestID) -> Bool {
        lhs.identity == rhs.identity
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(identity)
    }

    init?(_ value: JSONValue) {
        switch value {
        case .string(let text): self = .string(text)
        case .int(let number): self = .int(number)
        case .double(let number): self = .double(number)
        case .null: self = .null
        default: return nil
        }
    }

    public var jsonValue: JSONValue {
        switch self {
        case .string(let text): return .string(text)
        case .int(let number): return .int(number)
        case .double(let number): return .double(number)
        case .number(let text): return Int64(text).map(JSONValue.int) ?? .double(Double(text) ?? 0)
        case .null: return .null
        }
    }

    public var description: String {
        switch self {
        case .string(let text): return "\"\(text)\""
        case .int(let number): return String(number)
        case .double(let number): return String(number)
        case .number(let text): return text
        case .null: return "null"
        }
    }
}

extension RequestID: Codable {
    public init(from decoder: Decoder) throws {
        let value = try JSONValue(from: decoder)
        guard let id = RequestID(value) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "an id must be a string, a number or null"))
        }
        self = id
    }

    public func encode(to encoder: Encoder) throws {
        try jsonValue.encode(to: encoder)
    }
}
