import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Finds where values are in JSON text already accepted by the decoder, without decoding them: the exact
/// spelling of a request's numeric `id` (which the decoder's Int64/Double would change) and the bytes of each
/// element of a batch. Strings are skipped with `memchr`, so a multi-megabyte message costs little.
struct JSONScanner {
    private let bytes: UnsafeRawBufferPointer

    private init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// The bytes of the value of the top-level member `name` of the object in `data` (its first occurrence).
    static func member(_ name: String, inObject data: Data) -> Range<Int>? {
        data.withUnsafeBytes { JSONScanner($0).member(Array(name.utf8)) }
    }

    /// The bytes of each element of the array in `data`, or nil if `data` is not a well-formed array.
    static func elements(ofArray data: Data) -> [Range<Int>]? {
        data.withUnsafeBytes { JSONScanner($0).elements() }
    }

    /// The index just after the JSON value that starts at `start` in `bytes` (strings and brackets matched, the
    /// value not validated), or nil when it does not end within them.
    static func endOfValue(in bytes: [UInt8], at start: Int) -> Int? {
        bytes.withUnsafeBytes { JSONScanner($0).skipValue(start) }
    }

    private func member(_ name: [UInt8]) -> Range<Int>? {
        var i = skipWhitespace(0)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return nil }
        i = skipWhitespace(i + 1)
        while i < bytes.count, bytes[i] == UInt8(ascii: "\"") {
            guard let keyEnd = skipString(i) else { return nil }
            let key = UnsafeRawBufferPointer(rebasing: bytes[(i + 1)..<(keyEnd - 1)])
            i = skipWhitespace(keyEnd)
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
            i = skipWhitespace(i + 1)
            guard let valueEnd = skipValue(i) else { return nil }
            if keyMatches(key, name) { return i..<valueEnd }
            i = skipWhitespace(valueEnd)
            guard i < bytes.count, bytes[i] == UInt8(ascii: ",") else { return nil }
            i = skipWhitespace(i + 1)
        }
        return nil
    }

    private func elements() -> [Range<Int>]? {
        var i = skipWhitespace(0)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "[") else { return nil }
        i = skipWhitespace(i + 1)
        var ranges: [Range<Int>] = []
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { return ranges }
        while i < bytes.count {
            guard let end = skipValue(i) else { return nil }
            ranges.append(i..<end)
            i = skipWhitespace(end)
            guard i < bytes.count else { return nil }
            if bytes[i] == UInt8(ascii: "]") { return ranges }
            guard bytes[i] == UInt8(ascii: ",") else { return nil }
            i = skipWhitespace(i + 1)
        }
        return nil
    }

    private func keyMatches(_ key: UnsafeRawBufferPointer, _ name: [UInt8]) -> Bool {
        guard key.contains(UInt8(ascii: "\\")) else { return key.elementsEqual(name) }
        // An escaped key ("\u0069d" is "id"): let the decoder read it.
        let quoted = [UInt8(ascii: "\"")] + Array(key) + [UInt8(ascii: "\"")]
        return (try? JSONDecoder().decode(String.self, from: Data(quoted))).map { Array($0.utf8) == name } ?? false
    }

    private func skipWhitespace(_ start: Int) -> Int {
        var i = start
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 }
        return i
    }

    /// `start` is at a value; returns the index just after it.
    private func skipValue(_ start: Int) -> Int? {
        guard start < bytes.count else { return nil }
        switch bytes[start] {
        case UInt8(ascii: "\""):
            return skipString(start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var i = start
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "\""):
                    guard let end = skipString(i) else { return nil }
                    i = end
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default:
                    break
                }
                i += 1
            }
            return nil
        default:
            var i = start
            while i < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) {
                i += 1
            }
            return i > start ? i : nil
        }
    }

    /// `start` is at an opening quote; returns the index just after the closing one.
    private func skipString(_ start: Int) -> Int? {
        var from = start + 1
        while from < bytes.count {
            guard let found = memchr(bytes.baseAddress! + from, 0x22, bytes.count - from) else { return nil }
            let quote = UnsafeRawPointer(found) - bytes.baseAddress!
            var backslashes = 0
            while quote - 1 - backslashes >= from, bytes[quote - 1 - backslashes] == 0x5C { backslashes += 1 }
            if backslashes % 2 == 0 { return quote + 1 }
            from = quote + 1
        }
        return nil
    }
}
