/// Separates `<think>…</think>` spans that thinking models (Qwen3, DeepSeek-R1 served without a reasoning parser)
/// write into `content`, streaming-safe.
///
/// Rules:
/// - Opening tags `<think>` and `<thinking>`; each span is closed by its matching closing tag (`</think>` or
///   `</thinking>`). Tags are matched exactly (lowercase). Text inside a span is reasoning; the tags themselves go
///   nowhere. Any number of spans is moved.
/// - Whitespace (space, tab, CR, LF) right after a closing tag is dropped from content: models emit "</think>\n\n".
///   Reasoning is passed on verbatim.
/// - A tag may be split across fragments at any character. Holding back is minimal: only a suffix of what has
///   arrived that is a proper prefix of a tag that could come next (e.g. a trailing "<th") is held, until the next
///   fragment (or `finish`) decides it. Everything else is returned from the `feed` call that brought it.
/// - A `<` that does not start a tag ("a < b", "<b>bold</b>") is ordinary text.
/// - Disabled: everything is content, nothing is held back.
///
/// Not handled, on purpose: output that starts *inside* a think block (chat templates that put `<think>` in the
/// prompt, so the reply is "reasoning…</think>answer"). Outside a span, `</think>` is ordinary content. Telling that
/// case apart needs the closing tag, which may come thousands of tokens later: the splitter would have to hold back
/// all content until it saw either `</think>` or the end of the stream, which would destroy streaming (no content
/// until the end for every ordinary answer) or need a guessed cut-off that misclassifies some answers. Predictable
/// behaviour is worth more here; a server-side reasoning parser is the right fix for such templates.
///
/// Works on UTF-8 bytes: tags are ASCII, and the bytes of `<` and `>` never occur inside a multi-byte character,
/// so every cut falls on a character boundary and the returned strings are exactly slices of the input.
public struct ThinkSplitter: Sendable {
    public let enabled: Bool

    /// Inside a span: the index in `Self.closeTags` of the tag that closes it.
    private var openSpan: Int?
    /// A suffix of the input that is a proper prefix of a tag, waiting for the next fragment.
    private var held: [UInt8] = []
    /// Set by a closing tag; cleared by the first content byte that is not whitespace.
    private var dropLeadingWhitespace = false

    private static let openTags: [[UInt8]] = [Array("<think>".utf8), Array("<thinking>".utf8)]
    private static let closeTags: [[UInt8]] = [Array("</think>".utf8), Array("</thinking>".utf8)]
    private static let lessThan: UInt8 = 0x3C

    public init(enabled: Bool = true) {
        self.enabled = enabled
    }

    /// Feed one content fragment; returns what of it is content and what is reasoning, possibly empty strings.
    /// Text that might be the start of a tag (e.g. a trailing "<th") is held back until the next fragment decides it.
    public mutating func feed(_ fragment: String) -> (content: String, reasoning: String) {
        guard enabled else { return (fragment, "") }
        // Fast paths: nothing held, no '<' in the fragment, no whitespace to drop.
        if held.isEmpty && !fragment.utf8.contains(Self.lessThan) {
            if openSpan != nil { return ("", fragment) }
            if !dropLeadingWhitespace { return (fragment, "") }
        }

        var input = held
        held = []
        input.append(contentsOf: fragment.utf8)
        var content: [UInt8] = []
        var reasoning: [UInt8] = []
        content.reserveCapacity(input.count)

        let count = input.count
        var index = 0
        var runStart = 0
        while index < count {
            guard input[index] == Self.lessThan else {
                index += 1
                continue
            }
            // Flush the text before the '<' to the side it belongs to.
            emit(input[runStart..<index], content: &content, reasoning: &reasoning)

            switch match(input, at: index) {
            case .tag(let length, let closes):
                if openSpan != nil {
                    openSpan = nil
                    dropLeadingWhitespace = true
                } else {
                    openSpan = closes
                }
                index += length
                runStart = index
            case .partial:
                held = Array(input[index..<count])
                runStart = count
                index = count
            case .none:
                runStart = index
                index += 1
            }
        }
        emit(input[runStart..<index], content: &content, reasoning: &reasoning)
        return (String(decoding: content, as: UTF8.self), String(decoding: reasoning, as: UTF8.self))
    }

    /// End of stream: releases anything held back (an unfinished "<thi" is content; an unclosed <think> span is
    /// reasoning). Resets the splitter for a new stream.
    public mutating func finish() -> (content: String, reasoning: String) {
        guard enabled else { return ("", "") }
        var content: [UInt8] = []
        var reasoning: [UInt8] = []
        emit(held[...], content: &content, reasoning: &reasoning)
        held = []
        openSpan = nil
        dropLeadingWhitespace = false
        return (String(decoding: content, as: UTF8.self), String(decoding: reasoning, as: UTF8.self))
    }

    // MARK: - Private

    private enum Match {
        /// A whole tag of `length` bytes; for an opening tag, `closes` is the index of its closing tag.
        case tag(length: Int, closes: Int)
        /// The input ends with a proper prefix of a tag.
        case partial
        case none
    }

    /// Whether a tag that can come next in the current state starts at `start` (which holds a '<').
    private func match(_ input: [UInt8], at start: Int) -> Match {
        let available = input.count - start
        var partial = false
        if let openSpan {
            let tag = Self.closeTags[openSpan]
            switch compare(input, at: start, available: available, with: tag) {
            case .whole: return .tag(length: tag.count, closes: openSpan)
            case .prefix: partial = true
            case .different: break
            }
        } else {
            for (which, tag) in Self.openTags.enumerated() {
                switch compare(input, at: start, available: available, with: tag) {
                case .whole: return .tag(length: tag.count, closes: which)
                case .prefix: partial = true
                case .different: break
                }
            }
        }
        return partial ? .partial : .none
    }

    private enum Comparison { case whole, prefix, different }

    private func compare(_ input: [UInt8], at start: Int, available: Int, with tag: [UInt8]) -> Comparison {
        let length = min(available, tag.count)
        var i = 0
        while i < length {
            if input[start + i] != tag[i] { return .different }
            i += 1
        }
        return length == tag.count ? .whole : .prefix
    }

    private mutating func emit(_ run: ArraySlice<UInt8>, content: inout [UInt8], reasoning: inout [UInt8]) {
        guard !run.isEmpty else { return }
        if openSpan != nil {
            reasoning.append(contentsOf: run)
            return
        }
        var slice = run
        if dropLeadingWhitespace {
            while let first = slice.first, first == 0x20 || first == 0x09 || first == 0x0A || first == 0x0D {
                slice = slice.dropFirst()
            }
            if slice.isEmpty { return }
            dropLeadingWhitespace = false
        }
        content.append(contentsOf: slice)
    }
}
