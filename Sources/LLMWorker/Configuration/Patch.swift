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
}
