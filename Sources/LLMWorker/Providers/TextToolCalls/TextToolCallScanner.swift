/// Follows a tool call written as text byte by byte, from its opener on, to tell as early as possible where it ends
/// or that it cannot be one (so the text can be released to the listener). It checks the shape only: brackets,
/// strings, markers and the first key of a call object; `TextToolCallParser` reads the finished text.
///
/// Shapes, after the opener:
/// - `<tool_call>`: whitespace, then a JSON object or `<function=NAME>…</function>`, whitespace, `</tool_call>`.
/// - `<function=`: `NAME>…</function>`.
/// - `[TOOL_CALLS]`: whitespace, then a JSON array, a JSON object, or `NAME` (optionally `NAME[ARGS]`) and a JSON object.
/// - `<|python_tag|>` and bare JSON: call objects separated by `;` or whitespace. Where the sequence ends is known
///   only from the first byte after it that cannot continue it, or from the end of the text. Or one JSON array whose
///   first element is a call object (Mistral's list, from a server that dropped the `[TOOL_CALLS]` token).
/// A call object must begin with one of `TextToolCallForm.callKeys`.
struct TextToolCallScanner: Sendable {
    enum Verdict: Equatable, Sendable {
        case needMore
        case notACall
        /// The form is the first `length` bytes from its opener (a byte fed after them is not part of it).
        case ends(length: Int)
    }

    private enum Next: Sendable {
        case end, closeToolCall, sequence, functionName(wrapped: Bool), mistralArguments
    }

    private enum Step: Sendable {
        case toolCallBody, closeToolCall, mistralHead, mistralArguments, sequenceStart, sequence, sequenceSeparated
        case mistralName(length: Int)
        case arrayOpen(JSONExtent)
        case literal([UInt8], matched: Int, then: Next)
        case functionName(length: Int, wrapped: Bool)
        case seek([UInt8], matched: Int, then: Next)
        case json(JSONExtent, head: CallKeyHead?, then: Next)
    }

    private var step: Step
    /// Bytes of the form so far, opener included.
    private var length: Int
    /// For call sequences: the length of the form up to the end of its last whole call object.
    private var lastWhole: Int?

    private static let maxNameLength = 256

    /// Starts after `opener` (for bare JSON, before its `{`, with an opener length of 0).
    init(form: TextToolCallForm, openerLength: Int) {
        length = openerLength
        switch form {
        case .hermes: step = .toolCallBody
        case .qwenXML: step = .functionName(length: 0, wrapped: false)
        case .mistral: step = .mistralHead
        case .pythonTag, .bareJSON: step = .sequenceStart
        }
    }

    mutating func feed(_ byte: UInt8) -> Verdict {
        length += 1
        let verdict = advance(byte)
        if verdict == .notACall, let lastWhole { return .ends(length: lastWhole) }
        return verdict
    }

    /// No more text: a call sequence ends after its last whole call; any other unfinished form is not a call.
    func finish() -> Verdict {
        lastWhole.map { .ends(length: $0) } ?? .notACall
    }

    private mutating func advance(_ byte: UInt8) -> Verdict {
        let space = Self.isSpace(byte)
        switch step {
        case .toolCallBody:
            if space { return .needMore }
            if byte == UInt8(ascii: "{") { return startObject(byte, head: true, then: .closeToolCall) }
            if byte == UInt8(ascii: "<") { return startLiteral("<function=", then: .functionName(wrapped: true)) }
            return .notACall
        case .closeToolCall:
            if space { return .needMore }
            return byte == UInt8(ascii: "<") ? startLiteral("</tool_call>", then: .end) : .notACall
        case .literal(let literal, let matched, let next):
            guard byte == literal[matched] else { return .notACall }
            if matched + 1 == literal.count { return enter(next) }
            step = .literal(literal, matched: matched + 1, then: next)
            return .needMore
        case .functionName(let count, let wrapped):
            if byte == UInt8(ascii: ">"), count > 0 {
                step = .seek(Array("</function>".utf8), matched: 0, then: wrapped ? .closeToolCall : .end)
                return .needMore
            }
            guard Self.isNameByte(byte), count < Self.maxNameLength else { return .notACall }
            step = .functionName(length: count + 1, wrapped: wrapped)
            return .needMore
        case .seek(let literal, let matched, let next):
            if byte == literal[matched] {
                if matched + 1 == literal.count { return enter(next) }
                step = .seek(literal, matched: matched + 1, then: next)
            } else {
                // The closers begin with a byte they do not contain again, so a mismatch restarts the match here.
                step = .seek(literal, matched: byte == literal[0] ? 1 : 0, then: next)
            }
            return .needMore
        case .mistralHead:
            if space { return .needMore }
            if byte == UInt8(ascii: "[") { return startValue(byte, head: nil, then: .end) }
            if byte == UInt8(ascii: "{") { return startObject(byte, head: true, then: .end) }
            guard Self.isNameByte(byte) else { return .notACall }
            step = .mistralName(length: 1)
            return .needMore
        case .mistralName(let count):
            if byte == UInt8(ascii: "{") { return startObject(byte, head: false, then: .end) }
            if byte == UInt8(ascii: "[") { return startLiteral("[ARGS]", then: .mistralArguments) }
            guard Self.isNameByte(byte), count < Self.maxNameLength else { return .notACall }
            step = .mistralName(length: count + 1)
            return .needMore
        case .mistralArguments:
            return byte == UInt8(ascii: "{") ? startObject(byte, head: false, then: .end) : .notACall
        case .sequenceStart:
            if space { return .needMore }
            if byte == UInt8(ascii: "[") {
                var extent = JSONExtent()
                _ = extent.feed(byte)
                step = .arrayOpen(extent)
                return .needMore
            }
            return byte == UInt8(ascii: "{") ? startObject(byte, head: true, then: .sequence) : .notACall
        case .arrayOpen(var extent):
            _ = extent.feed(byte)
            if space {
                step = .arrayOpen(extent)
                return .needMore
            }
            guard byte == UInt8(ascii: "{") else { return .notACall }
            step = .json(extent, head: CallKeyHead(), then: .end)
            return .needMore
        case .sequenceSeparated:
            if space { return .needMore }
            return byte == UInt8(ascii: "{") ? startObject(byte, head: true, then: .sequence) : .notACall
        case .sequence:
            if space { return .needMore }
            if byte == UInt8(ascii: ";") {
                step = .sequenceSeparated
                return .needMore
            }
            return byte == UInt8(ascii: "{") ? startObject(byte, head: true, then: .sequence) : .notACall
        case .json(var extent, var head, let next):
            if head != nil {
                switch head?.feed(byte) {
                case .notACall?: return .notACall
                case .passed?: head = nil
                default: break
                }
            }
            if extent.feed(byte) { return enter(next) }
            step = .json(extent, head: head, then: next)
            return .needMore
        }
    }

    private mutating func enter(_ next: Next) -> Verdict {
        switch next {
        case .end:
            return .ends(length: length)
        case .closeToolCall:
            step = .closeToolCall
        case .sequence:
            lastWhole = length
            step = .sequence
        case .functionName(let wrapped):
            step = .functionName(length: 0, wrapped: wrapped)
        case .mistralArguments:
            step = .mistralArguments
        }
        return .needMore
    }

    /// `byte` (already matched) is the first byte of `literal`.
    private mutating func startLiteral(_ literal: String, then next: Next) -> Verdict {
        step = .literal(Array(literal.utf8), matched: 1, then: next)
        return .needMore
    }

    private mutating func startObject(_ byte: UInt8, head: Bool, then next: Next) -> Verdict {
        startValue(byte, head: head ? CallKeyHead() : nil, then: next)
    }

    private mutating func startValue(_ byte: UInt8, head: CallKeyHead?, then next: Next) -> Verdict {
        var extent = JSONExtent()
        _ = extent.feed(byte)
        step = .json(extent, head: head, then: next)
        return .needMore
    }

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    /// Tool names: ASCII letters, digits, `_`, `-`, `.` and `:`.
    static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ":"):
            return true
        default:
            return false
        }
    }
}

/// The start of a call object, from the byte after its `{`: whitespace, then a key from `TextToolCallForm.callKeys`.
struct CallKeyHead: Sendable {
    enum State: Equatable, Sendable { case reading, passed, notACall }

    private var key: [UInt8]?

    mutating func feed(_ byte: UInt8) -> State {
        guard var read = key else {
            if TextToolCallScanner.isSpace(byte) { return .reading }
            guard byte == UInt8(ascii: "\"") else { return .notACall }
            key = []
            return .reading
        }
        if byte == UInt8(ascii: "\"") {
            return TextToolCallForm.callKeys.contains(read) ? .passed : .notACall
        }
        read.append(byte)
        key = read
        return TextToolCallForm.callKeys.contains { $0.starts(with: read) } ? .reading : .notACall
    }
}
