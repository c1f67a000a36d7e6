import Foundation

/// The grammar of single response lines (RFC 9112): the status line, a field line, a chunk-size line.
enum HTTPResponseLine {
    /// `HTTP/1.x SP 3DIGIT [SP reason]`; the reason may be missing or empty. Codes outside 100-599 are refused.
    static func statusLine(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPResponseError) -> (minor: Int, status: Int, reason: String) {
        let prefix = Array("HTTP/1.".utf8)
        guard line.count >= 12, line.starts(with: prefix), isDigit(line[7]), line[8] == 0x20 else {
            throw HTTPResponseError(kind: .malformed, message: "The server's answer does not start with an HTTP/1.x status line: \(quote(line)).", notHTTP: true)
        }
        let digits = line[9..<12]
        guard digits.allSatisfy(isDigit), line.count == 12 || line[12] == 0x20 else {
            throw .malformed("The server sent a status line without a three-digit status code: \(quote(line)).")
        }
        let status = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        guard (100...599).contains(status) else {
            throw .malformed("The server sent an invalid status code \(status).")
        }
        if line.count > 13, memchr(line.baseAddress! + 13, 0, line.count - 13) != nil {
            throw .malformed("The server sent a NUL byte in its status line.")
        }
        let reason = line.count > 13 ? String(decoding: UnsafeBufferPointer(rebasing: line[13...]), as: UTF8.self) : ""
        return (Int(line[7] - 0x30), status, reason)
    }

    /// `name: value` with no white space before the colon; the value trimmed of surrounding spaces and tabs.
    static func field(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPResponseError) -> (name: String, value: ArraySlice<UInt8>) {
        guard let colon = line.firstIndex(of: 0x3A), colon > 0 else {
            throw .malformed("The server sent a header line that is not a field: \(quote(line)).")
        }
        let name = line[0..<colon]
        guard name.allSatisfy(isTokenByte) else {
            throw .malformed("The server sent an invalid header field name: \(quote(UnsafeBufferPointer(rebasing: name))).")
        }
        let value = trimmed(UnsafeBufferPointer(rebasing: line[(colon + 1)...]))
        if value.contains(0) { throw .malformed("The server sent a NUL byte in a header field.") }
        return (String(decoding: UnsafeBufferPointer(rebasing: name), as: UTF8.self), value)
    }

    /// `1*HEXDIG [BWS ";" extension]`: at most 16 hex digits and a size that fits an Int; extensions are ignored.
    static func chunkSize(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPResponseError) -> Int {
        var size = 0
        var digits = 0
        var index = 0
        while index < line.count, let value = hexValue(line[index]) {
            digits += 1
            guard digits <= 16, size <= (Int.max - value) >> 4 else {
                throw .malformed("The server sent a chunk size that is too large: \(quote(line)).")
            }
            size = size << 4 | value
            index += 1
        }
        guard digits > 0 else { throw .malformed("The server sent an invalid chunk size line: \(quote(line)).") }
        while index < line.count, line[index] == 0x20 || line[index] == 0x09 { index += 1 }
        guard index == line.count || line[index] == 0x3B else {
            throw .malformed("The server sent an invalid chunk size line: \(quote(line)).")
        }
        return size
    }

    static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>) -> ArraySlice<UInt8> {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return Array(bytes[start..<end])[...]
    }

    /// The start of a line for an error message: printable ASCII kept, anything else escaped.
    static func quote(_ line: UnsafeBufferPointer<UInt8>) -> String {
        var text = "\""
        for byte in line.prefix(80) {
            if byte >= 0x20 && byte < 0x7F && byte != 0x22 && byte != 0x5C { text.unicodeScalars.append(UnicodeScalar(byte)) }
            else { text += String(format: "\\x%02X", byte) }
        }
        return text + (line.count > 80 ? "…\"" : "\"")
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: return Int(byte - 0x30)
        case 0x41...0x46: return Int(byte - 0x41 + 10)
        case 0x61...0x66: return Int(byte - 0x61 + 10)
        default: return nil
        }
    }

    /// RFC 9110 tchar.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: return true
        default: return false
        }
    }
}
