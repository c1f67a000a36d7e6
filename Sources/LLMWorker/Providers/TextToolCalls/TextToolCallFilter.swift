/// Takes tool calls that a model wrote as text out of the content, streaming-safe (PROTOCOL.md §7.1).
///
/// Content passes through at once except what could still be the start of a tool call:
/// - a suffix that is a proper prefix of an opener (`<tool_call>`, `<function=`, `[TOOL_CALLS]`, `<|python_tag|>`),
///   until the next fragment shows whether it is one (at most 13 bytes);
/// - from a whole opener on (or from a `{` that begins the content, for bare JSON), the text of the form, until
///   `TextToolCallScanner` finds its end or that it cannot be a call (a `[` that begins the content may be a bare
///   list of call objects too);
/// - white space at the start of the content (inaudible), until the first other character.
/// Held text never exceeds `holdLimit` bytes: a form still open at that size is cut off there.
/// A whole form whose calls are all to offered tools becomes those calls; any other text is released, in order.
/// When calls were recovered and the content is otherwise only white space, that white space is dropped.
///
/// Works on UTF-8 bytes: every marker byte is ASCII, so cuts fall on character boundaries.
struct TextToolCallFilter: Sendable {
    struct Output: Sendable, Equatable {
        var content = ""
        var calls: [TextToolCallParser.Call] = []
        var warnings: [String] = []
    }

    /// Most bytes of content held back at once.
    static let holdLimit = 16_384

    private let tools: OfferedTools?
    /// Content not released yet; `buffer[..<scanned]` has been looked at.
    private var buffer: [UInt8] = []
    private var scanned = 0
    /// The form being followed: its scanner, where it starts in `buffer`, and how long its opener is.
    private var form: (scanner: TextToolCallScanner, start: Int, opener: TextToolCallForm, openerLength: Int)?
    /// Whether any content other than white space was released (a `{` then no longer starts the content).
    private var spoke = false
    private var recovered = false

    /// `tools` nil: recovery off, everything is content and nothing is held back.
    init(tools: OfferedTools?) {
        self.tools = tools
    }

    var isEnabled: Bool { tools != nil }

    /// The content held back, not yet released.
    var heldText: String { String(decoding: buffer, as: UTF8.self) }

    mutating func feed(_ fragment: String) -> Output {
        guard tools != nil else { return Output(content: fragment) }
        if buffer.isEmpty, spoke, !fragment.utf8.contains(where: Self.mayOpen) { return Output(content: fragment) }
        buffer.append(contentsOf: fragment.utf8)
        return process(atEnd: false)
    }

    /// End of the content: decides whatever is held back.
    mutating func finish() -> Output {
        guard tools != nil else { return Output() }
        var output = process(atEnd: true)
        // Only white space is left: around recovered calls it is dropped, otherwise it is the content.
        if !(recovered && !spoke) { output.content += heldText }
        buffer = []
        return output
    }

    private static func mayOpen(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "<") || byte == UInt8(ascii: "[")
    }

    private mutating func process(atEnd: Bool) -> Output {
        var output = Output()
        var released = 0
        var index = scanned
        scanning: while true {
            if let current = form {
                var scanner = current.scanner
                var verdict = TextToolCallScanner.Verdict.needMore
                while verdict == .needMore, index < buffer.count {
                    if index - released >= Self.holdLimit {
                        verdict = scanner.finish()
                        break
                    }
                    verdict = scanner.feed(buffer[index])
                    index += 1
                }
                if verdict == .needMore {
                    guard atEnd else {
                        form?.scanner = scanner
                        break scanning
                    }
                    verdict = scanner.finish()
                }
                form = nil
                if case .ends(let length) = verdict, let calls = take(current.start, length, current.opener, &output) {
                    output.calls += calls
                    index = current.start
                } else {
                    // Not a call: the opener is content; what follows it is looked at again.
                    index = current.start + current.openerLength
                    released = index
                    spoke = true
                }
                continue scanning
            }
            while index < buffer.count {
                let byte = buffer[index]
                if !spoke, TextToolCallScanner.isSpace(byte) {
                    index += 1
                    if index - released > Self.holdLimit { released = index }
                    continue
                }
                if Self.mayOpen(byte) {
                    switch Self.opener(in: buffer, at: index) {
                    case .whole(let opener):
                        form = (TextToolCallScanner(form: opener.form, openerLength: opener.bytes.count), index, opener.form,
                                opener.bytes.count)
                        index += opener.bytes.count
                        continue scanning
                    case .partial where !atEnd:
                        if buffer.count - released > Self.holdLimit { released = index }
                        break scanning
                    case .partial, .none:
                        break
                    }
                }
                if !spoke, byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
                    form = (TextToolCallScanner(form: .bareJSON, openerLength: 0), index, .bareJSON, 1)
                    continue scanning
                }
                spoke = true
                index += 1
                released = index
            }
            break
        }
        output.content = String(decoding: buffer[..<released], as: UTF8.self)
        buffer.removeFirst(released)
        scanned = index - released
        form?.start -= released
        return output
    }

    /// The calls of the form at `start`, removed from the buffer; nil (and a warning) when it is not a valid call.
    private mutating func take(_ start: Int, _ length: Int, _ opener: TextToolCallForm, _ output: inout Output) -> [TextToolCallParser.Call]? {
        guard let tools else { return nil }
        let range = start..<(start + length)
        switch TextToolCallParser.parse(Array(buffer[range]), opener: opener, tools: tools) {
        case .calls(let calls, let form):
            buffer.removeSubrange(range)
            recovered = true
            Self.addOnce(form.recoveredWarning, to: &output.warnings)
            return calls
        case .rejected(let form, let reason):
            Self.addOnce(form.rejectedWarning(reason), to: &output.warnings)
            return nil
        }
    }

    private static func addOnce(_ warning: String, to warnings: inout [String]) {
        if !warnings.contains(warning) { warnings.append(warning) }
    }

    private enum OpenerMatch {
        case whole(TextToolCallForm.Opener)
        case partial
        case none
    }

    private static func opener(in buffer: [UInt8], at start: Int) -> OpenerMatch {
        let available = buffer.count - start
        var partial = false
        for opener in TextToolCallForm.openers {
            let length = min(available, opener.bytes.count)
            guard buffer[start..<(start + length)].elementsEqual(opener.bytes[..<length]) else { continue }
            if length == opener.bytes.count { return .whole(opener) }
            partial = true
        }
        return partial ? .partial : .none
    }
}
