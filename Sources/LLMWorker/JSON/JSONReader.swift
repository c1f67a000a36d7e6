import Foundation

/// A byte-level JSON parser into `JSONValue`, for the hot path: every streamed chunk of an answer is one JSON
/// object, and going through `JSONDecoder` + `Decodable` for each costs more than everything else the worker
/// does per token.
///
/// It accepts exactly what Foundation's `JSONDecoder` accepts (checked against it by `JSONReaderTests`), so the
/// answer to any input is the same as `JSONDecoder`'s: RFC 8259 plus a leading UTF-8 BOM and trailing commas; strings
/// must be valid UTF-8 without raw control characters or lone surrogate escapes; when a key repeats, its first
/// value wins; numbers that are whole and fit in `Int64` are `.int` (also when written `1.0` or `1e2`), others
/// `.double`; numbers beyond Double's range are refused (and, when asked, non-zero numbers too small for it,
/// which `JSONDecoder` reads as 0). Nesting deeper than `maxDepth` is refused.
enum JSONReader {
    struct Failure: Error, CustomStringConvertible {
        let message: String
        let offset: Int
        var description: String { "\(message) at byte \(offset)" }
    }

    static let maxDepth = 512

    /// - Parameter refusingUnderflow: also refuse a non-zero number too small for a Double. The protocol input is
    /// read this way (such an id could pass for 0); a server's answer is not (a tiny logprob must not fail a chunk).
    static func parse(_ data: Data, refusingUnderflow: Bool = false) throws -> JSONValue {
        try data.withUnsafeBytes { raw in try parse(raw.bindMemory(to: UInt8.self), refusingUnderflow: refusingUnderflow) }
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, refusingUnderflow: Bool = false) throws -> JSONValue {
        var parser = Parser(bytes: bytes, refusingUnderflow: refusingUnderflow)
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { parser.index = 3 }
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.failure("unexpected text after the JSON value") }
        return value
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        let refusingUnderflow: Bool
        var index = 0
        /// Scratch space for strings with escapes, reused across strings.
        var scratch: [UInt8] = []

        init(bytes: UnsafeBufferPointer<UInt8>, refusingUnderflow: Bool) {
            self.bytes = bytes
            self.refusingUnderflow = refusingUnderflow
        }

        func failure(_ message: String) -> Failure {
            Failure(message: message, offset: index)
        }

        @inline(__always)
        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x0A, 0x0D, 0x09: index += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws -> JSONValue {
            skipWhitespace()
            guard index < bytes.count else { throw failure("unexpected end of JSON") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw failure("unexpected character")
            }
        }

        mutating func literal(_ word: StaticString) throws {
            let count = word.utf8CodeUnitCount
            guard bytes.count - index >= count,
                  memcmp(bytes.baseAddress! + index, word.utf8Start, count) == 0 else { throw failure("invalid literal") }
            index += count
        }

        mutating func object(depth: Int) throws -> JSONValue {
            guard depth <= JSONReader.maxDepth else { throw failure("nesting too deep") }
            index += 1  // {
            var members: [String: JSONValue] = [:]
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw failure("expected a member name") }
                let key = try string()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure("expected ':'") }
                index += 1
                let member = try value(depth: depth)
                if members[key] == nil { members[key] = member }  // the first of repeated keys wins
                skipWhitespace()
                guard index < bytes.count else { throw failure("unexpected end of JSON") }
                let separator = bytes[index]
                index += 1
                if separator == UInt8(ascii: "}") { return .object(members) }
                guard separator == UInt8(ascii: ",") else { throw failure("expected ',' or '}'") }
                skipWhitespace()
                // A trailing comma before the closing brace is tolerated.
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(members)
                }
            }
        }

        mutating func array(depth: Int) throws -> JSONValue {
            guard depth <= JSONReader.maxDepth else { throw failure("nesting too deep") }
            index += 1  // [
            var elements: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                elements.append(try value(depth: depth))
                skipWhitespace()
                guard index < bytes.count else { throw failure("unexpected end of JSON") }
                let separator = bytes[index]
                index += 1
                if separator == UInt8(ascii: "]") { return .array(elements) }
                guard separator == UInt8(ascii: ",") else { throw failure("expected ',' or ']'") }
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(elements)
                }
            }
        }

        /// A string literal starting at the opening quote; the text between quotes is copied once when it has no
        /// escapes (the usual case), else decoded through `scratch`.
        mutating func string() throws -> String {
            index += 1  // "
            let start = index
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let text = try Self.utf8(UnsafeBufferPointer(rebasing: bytes[start..<index]), at: start)
                    index += 1
                    return text
                }
                if byte == UInt8(ascii: "\\") { return try escapedString(from: start) }
                if byte < 0x20 { throw failure("control character in a string") }
                index += 1
            }
            throw failure("unterminated string")
        }

        mutating func escapedString(from start: Int) throws -> String {
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return try scratch.withUnsafeBufferPointer { try Self.utf8($0, at: start) }
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { throw failure("unterminated string") }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(escape)
                    case UInt8(ascii: "b"): scratch.append(0x08)
                    case UInt8(ascii: "f"): scratch.append(0x0C)
                    case UInt8(ascii: "n"): scratch.append(0x0A)
                    case UInt8(ascii: "r"): scratch.append(0x0D)
                    case UInt8(ascii: "t"): scratch.append(0x09)
                    case UInt8(ascii: "u"): try unicodeEscape()
                    default: throw failure("invalid escape")
                    }
                case 0..<0x20:
                    throw failure("control character in a string")
                default:
                    scratch.append(byte)
                }
            }
            throw failure("unterminated string")
        }

        /// `\uXXXX` (the `\u` already read), a surrogate pair as one character; a lone surrogate is an error.
        mutating func unicodeEscape() throws {
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar) {
                guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw failure("lone surrogate escape")
                }
                index += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw failure("lone surrogate escape") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw failure("lone surrogate escape")
            }
            scratch.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
        }

        mutating func hex4() throws -> UInt32 {
            guard bytes.count - index >= 4 else { throw failure("invalid unicode escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw failure("invalid unicode escape")
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }

        static func utf8(_ buffer: UnsafeBufferPointer<UInt8>, at offset: Int) throws -> String {
            guard let text = String(validating: buffer, as: UTF8.self) else {
                throw Failure(message: "a string is not valid UTF-8", offset: offset)
            }
            return text
        }

        /// RFC 8259 number grammar; whole values that fit in Int64 become `.int`, as `JSONDecoder` gives them.
        mutating func number() throws -> JSONValue {
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw failure("invalid number") }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
                if index < bytes.count, isDigit(bytes[index]) { throw failure("leading zero in a number") }
            } else {
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            var integral = true
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                integral = false
                index += 1
                guard index < bytes.count, isDigit(bytes[index]) else { throw failure("invalid number") }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                integral = false
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard index < bytes.count, isDigit(bytes[index]) else { throw failure("invalid number") }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            let text = UnsafeBufferPointer(rebasing: bytes[start..<index])
            if integral, let value = Self.int64(text) { return .int(value) }
            // Like JSONDecoder, a number too large for a Double is refused rather than read as infinity.
            guard let double = Double(String(decoding: text, as: UTF8.self)), double.isFinite,
                  double != 0 || !refusingUnderflow || !Self.hasNonZeroDigit(beforeExponentIn: text) else {
                throw failure("number out of range")
            }
            if let whole = Int64(exactly: double) { return .int(whole) }
            return .double(double)
        }

        @inline(__always)
        func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

        /// Whether the significand of a number's text has a digit other than 0: then a value of zero is an
        /// underflow (`1e-400`), refused like an overflow so that it cannot pass for a real 0.
        static func hasNonZeroDigit(beforeExponentIn text: UnsafeBufferPointer<UInt8>) -> Bool {
            for byte in text {
                if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") { return false }
                if byte >= UInt8(ascii: "1") && byte <= UInt8(ascii: "9") { return true }
            }
            return false
        }

        /// Decimal digits (optionally after '-') as Int64, or nil when they overflow it.
        static func int64(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
            let negative = text[0] == UInt8(ascii: "-")
            var value: Int64 = 0
            for byte in text.dropFirst(negative ? 1 : 0) {
                let digit = Int64(byte &- UInt8(ascii: "0"))
                let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (next, overflow2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
                if overflow1 || overflow2 { return nil }
                value = next
            }
            return value
        }
    }
}
