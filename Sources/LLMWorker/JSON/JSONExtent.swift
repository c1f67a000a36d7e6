/// Where a JSON value that began with `{` or `[` ends: brackets counted outside strings. Not a validation.
struct JSONExtent: Sendable {
    private var depth = 0
    private var inString = false
    private var escaped = false

    /// Feeds the next byte; true when it closes the value.
    mutating func feed(_ byte: UInt8) -> Bool {
        if inString {
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inString = false
            }
            return false
        }
        switch byte {
        case UInt8(ascii: "\""): inString = true
        case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            depth -= 1
            return depth == 0
        default: break
        }
        return false
    }
}
