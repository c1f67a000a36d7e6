import Foundation

/// Hand-written JSON output for the hot path (one `chatStream.delta` per token), where going through
/// `JSONEncoder` for every delta would cost more than everything else the worker does.
enum JSONText {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `text` as a JSON string literal, quotes included.
    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            var runStart = 0
            for (offset, byte) in bytes.enumerated() where byte < 0x20 || byte == 0x22 || byte == 0x5C {
                if runStart < offset { out.append(contentsOf: bytes[runStart..<offset]) }
                switch byte {
                case 0x22: out.append(contentsOf: [0x5C, 0x22])
                case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                default:
                    out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                }
                runStart = offset + 1
            }
            if runStart < bytes.count { out.append(contentsOf: bytes[runStart..<bytes.count]) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Appends `value` as compact JSON with sorted object keys, the way `OutgoingMessage.encoder()` writes it
    /// (whole doubles without ".0"), without JSONEncoder's per-value machinery: a request body is built once per
    /// request, on the way to the first token. Throws for NaN and infinity, which JSON cannot hold.
    static func appendValue(_ value: JSONValue, to out: inout [UInt8]) throws {
        switch value {
        case .null: append("null", to: &out)
        case .bool(let flag): flag ? append("true", to: &out) : append("false", to: &out)
        case .int(let number): out.append(contentsOf: String(number).utf8)
        case .double(let number):
            guard number.isFinite else {
                throw EncodingError.invalidValue(number, .init(codingPath: [], debugDescription: "\(number) is not a JSON number"))
            }
            var text = number.description
            if text.hasSuffix(".0") { text.removeLast(2) }
            out.append(contentsOf: text.utf8)
        case .string(let text): appendString(text, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                try appendValue(element, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (position, key) in members.keys.sorted().enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                appendString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                try appendValue(members[key]!, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func append(_ literal: StaticString, to out: inout [UInt8]) {
        literal.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    static func appendInt(_ value: Int, to out: inout [UInt8]) {
        out.append(contentsOf: String(value).utf8)
    }
}
