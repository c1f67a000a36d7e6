/// One field of a `configure` call: left out (keep the current value), `null` (back to the default), or a value.
public enum Patch<Value: Sendable>: Sendable {
    case keep
    case reset
    case set(Value)

    func apply(to current: Value?) -> Value? {
        switch self {
        case .keep: return current
        case .reset: return nil
        case .set(let value): return value
        }
    }

    var value: Value? {
        if case .set(let value) = self { return value }
        return nil
    }
}

extension KeyedDecodingContainer {
    func decodePatch<T: Decodable & Sendable>(_ type: T.Type, forKey key: Key) throws -> Patch<T> {
        guard contains(key) else { return .keep }
        if try decodeNil(forKey: key) { return .reset }
        return .set(try decode(type, forKey: key))
    }

    func decodeIntegerPatch(forKey key: Key) throws -> Patch<Int> {
        guard contains(key) else { return .keep }
        return try decodeIntegerIfPresent(forKey: key).map(Patch.set) ?? .reset
    }

    /// Integers are read through `JSONValue`: Foundation reports a number that does not fit `Int` (such as 1.5)
    /// as corrupted data without a coding path, and -32602 could then not name the field.
    func decodeIntegerIfPresent(forKey key: Key) throws -> Int? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        let value = try decode(JSONValue.self, forKey: key)
        guard let integer = value.intValue else {
            throw DecodingError.typeMismatch(Int.self, .init(codingPath: codingPath + [key],
                                                             debugDescription: "expected an integer, got \(value.typeName)"))
        }
        return integer
    }
}
