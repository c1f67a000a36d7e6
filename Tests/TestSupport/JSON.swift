import Foundation

/// JSON as the tests see the worker's output: parsed by this file, independently of the worker's own JSON code,
/// with numbers kept as written so an integer id and a fractional one are told apart (as Python's json would).
/// Equality compares objects as sets of keys (an extra or missing key makes two objects different), integers by
/// their digits (exactly, whatever their size) and fractional numbers by value; an integer never equals a
/// fractional number.
enum JSON: Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    /// The number exactly as written.
    case number(String)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ text: String) throws -> JSON {
        try parse(Array(text.utf8))
    }

    static func parse(_ bytes: [UInt8]) throws -> JSON {
        var parser = JSONParser(bytes: bytes)
        return try parser.parseDocument()
    }

    static func == (lhs: JSON, rhs: JSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)): return a == b
        case let (.number(a), .number(b)): return JSON.numbersEqual(a, b)
        default: return false
        }
    }

    static func isInteger(_ lexeme: String) -> Bool {
        !lexeme.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
    }

    private static func numbersEqual(_ a: String, _ b: String) -> Bool {
        switch (isInteger(a), isInteger(b)) {
        case (true, true):
            func canonical(_ s: String) -> String { s == "-0" ? "0" : s }
            return canonical(a) == canonical(b)
        case (false, false):
            return Double(a) == Double(b)
        default:
            return false
        }
    }

    // MARK: Access

    subscript(key: String) -> JSON? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    subscript(index: Int) -> JSON? {
        if case .array(let array) = self, array.indices.contains(index) { return array[index] }
        return nil
    }

    var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The value of an integer written without fraction or exponent.
    var int: Int? {
        if case .number(let lexeme) = self, JSON.isInteger(lexeme) { return Int(lexeme) }
        return nil
    }

    var double: Double? {
        if case .number(let lexeme) = self { return Double(lexeme) }
        return nil
    }

    var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    var array: [JSON]? {
        if case .array(let value) = self { return value }
        return nil
    }

    var object: [String: JSON]? {
        if case .object(let value) = self { return value }
        return nil
    }

    var keys: Set<String> { Set(object?.keys ?? [:].keys) }

    /// This object without the given keys (for comparing results that carry timings).
    func removing(_ names: String...) -> JSON {
        guard var object else { return self }
        for name in names { object[name] = nil }
        return .object(object)
    }

    // MARK: Output

    /// Compact JSON text, keys sorted.
    var text: String {
        var out: [UInt8] = []
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    var description: String { text }

    private func write(to out: inout [UInt8]) {
        switch self {
        case .null: out += Array("null".utf8)
        case .bool(let value): out += Array((value ? "true" : "false").utf8)
        case .number(let lexeme): out += Array(lexeme.utf8)
        case .string(let value): JSON.writeString(value, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSON.writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                members[key]!.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Foundation's encoder escapes strings (it is built optimized; a byte loop in a debug test build is slow
    /// for the megabyte strings some tests send). Only requests are written this way; answers are parsed above.
    private static func writeString(_ value: String, to out: inout [UInt8]) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        out += (try? encoder.encode(value)).map(Array.init) ?? Array("\"\"".utf8)
    }
}

extension JSON: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    init(nilLiteral: ()) { self = .null }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(integerLiteral value: Int) { self = .number(String(value)) }
    init(floatLiteral value: Double) { self = .number("\(value)") }
    init(stringLiteral value: String) { self = .string(value) }
    init(arrayLiteral elements: JSON...) { self = .array(elements) }
    init(dictionaryLiteral elements: (String, JSON)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

/// A strict RFC 8259 parser: UTF-8 checked, no trailing garbage, surrogate pairs joined.
private struct JSONParser {
    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseDocument() throws -> JSON {
        let value = try parseValue()
        skipWhitespace()
        guard position == bytes.count else { throw fail("trailing characters") }
        return value
    }

    private func fail(_ problem: String) -> JSON.ParseError {
        let excerpt = String(decoding: bytes[position..<min(bytes.count, position + 40)], as: UTF8.self)
        return JSON.ParseError(description: "invalid JSON at byte \(position) (\(problem)): \(excerpt)")
    }

    private mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    private mutating func parseValue() throws -> JSON {
        skipWhitespace()
        guard position < bytes.count else { throw fail("unexpected end") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        default: return try parseNumber()
        }
    }

    private mutating func expect(_ word: String) throws {
        let literal = Array(word.utf8)
        guard bytes.count - position >= literal.count, Array(bytes[position..<position + literal.count]) == literal else {
            throw fail("expected \(word)")
        }
        position += literal.count
    }

    private mutating func parseObject() throws -> JSON {
        position += 1
        var members: [String: JSON] = [:]
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail("expected a key") }
            let key = try parseString()
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            position += 1
            guard members[key] == nil else { throw fail("duplicate key '\(key)'") }
            members[key] = try parseValue()
            skipWhitespace()
            guard position < bytes.count else { throw fail("unterminated object") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
            throw fail("expected ',' or '}'")
        }
    }

    private mutating func parseArray() throws -> JSON {
        position += 1
        var items: [JSON] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(items)
        }
        while true {
            items.append(try parseValue())
            skipWhitespace()
            guard position < bytes.count else { throw fail("unterminated array") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
            throw fail("expected ',' or ']'")
        }
    }

    private mutating func parseNumber() throws -> JSON {
        let start = position
        func digits() -> Int {
            let from = position
            while position < bytes.count, (0x30...0x39).contains(bytes[position]) { position += 1 }
            return position - from
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
        let intStart = position
        guard digits() > 0 else { throw fail("expected a value") }
        if bytes[intStart] == 0x30, position - intStart > 1 { throw fail("leading zero") }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits() > 0 else { throw fail("expected digits after '.'") }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard digits() > 0 else { throw fail("expected exponent digits") }
        }
        return .number(String(decoding: bytes[start..<position], as: UTF8.self))
    }

    private mutating func parseString() throws -> String {
        position += 1
        var raw: [UInt8] = []
        while true {
            // Copy the run of ordinary bytes at once: answers can hold megabytes of text.
            let runStart = position
            position = bytes.withUnsafeBufferPointer { buffer in
                var index = runStart
                while index < buffer.count, buffer[index] >= 0x20, buffer[index] != 0x22, buffer[index] != 0x5C { index += 1 }
                return index
            }
            raw += bytes[runStart..<position]
            guard position < bytes.count else { throw fail("unterminated string") }
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: raw, as: UTF8.self) else { throw fail("invalid UTF-8 in a string") }
                return text
            case UInt8(ascii: "\\"):
                try parseEscape(into: &raw)
            case 0..<0x20:
                throw fail("control character in a string")
            default:
                raw.append(byte)
            }
        }
    }

    private mutating func parseEscape(into raw: inout [UInt8]) throws {
        guard position < bytes.count else { throw fail("unterminated escape") }
        let byte = bytes[position]
        position += 1
        let simple: [UInt8: UInt8] = [0x22: 0x22, 0x5C: 0x5C, 0x2F: 0x2F, 0x62: 0x08, 0x66: 0x0C, 0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09]
        if let replacement = simple[byte] {
            raw.append(replacement)
            return
        }
        guard byte == UInt8(ascii: "u") else { throw fail("bad escape") }
        var code = try hex4()
        if (0xD800..<0xDC00).contains(code) {
            guard bytes.count - position >= 6, bytes[position] == 0x5C, bytes[position + 1] == UInt8(ascii: "u") else {
                throw fail("lone high surrogate")
            }
            position += 2
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw fail("bad low surrogate") }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00..<0xE000).contains(code) {
            throw fail("lone low surrogate")
        }
        guard let scalar = Unicode.Scalar(code) else { throw fail("bad code point") }
        raw.append(contentsOf: Array(String(Character(scalar)).utf8))
    }

    private mutating func hex4() throws -> UInt32 {
        guard bytes.count - position >= 4,
              bytes[position..<position + 4].allSatisfy({ UInt8(ascii: "0") <= $0 && $0 <= UInt8(ascii: "9") || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0 | 0x20) }),
              let value = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16) else {
            throw fail("bad \\u escape")
        }
        position += 4
        return value
    }
}
