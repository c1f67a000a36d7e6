import Foundation

/// One dispatched Server-Sent Event.
///
/// - `event`: the value of the last `event:` field of the event, or nil when there was none or it was empty
///   (the WHATWG default type "message").
/// - `data`: the `data:` lines of the event joined with "\n", as raw bytes (no UTF-8 validation here).
/// - `id`: the last event ID, which per WHATWG persists from one event to the next until another `id:` field
///   changes it; nil while it is empty.
public struct SSEEvent: Sendable, Equatable {
    public var event: String?
    public var data: Data
    public var id: String?

    public init(event: String? = nil, data: Data, id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }
}

/// What the parser hands to its caller: an event, or a comment line (a line starting with ':', used by servers
/// as keep-alive, e.g. OpenRouter's `: OPENROUTER PROCESSING`). Comments carry no payload; callers use them to
/// reset idle timers.
public enum SSEItem: Sendable, Equatable {
    case event(SSEEvent)
    case comment
}

/// Thrown when one line (excluding its line ending), or the joined data of one event, is longer than the limit.
public struct SSEParserError: Error, Equatable {
    public let limit: Int

    public init(limit: Int) {
        self.limit = limit
    }
}

/// A byte-level `text/event-stream` parser following the WHATWG "event stream interpretation" rules, with two
/// deliberate differences at end of body (see `finish`).
///
/// Pure: no I/O, no clocks. Feed it bytes as they arrive; it calls `emit` for each complete item, in order.
///
/// Performance: line endings are found with memchr (one linear pass over each read for LF and one for CR); a line
/// that is complete within one read is interpreted in place without copying; only a line split across reads is carried in a reused buffer. Data lines are appended to a
/// reused buffer and copied once into the event's `Data` at dispatch.
///
/// Memory is bounded: a line longer than `maxLineBytes` throws `SSEParserError` as soon as that is known, so the
/// parser never carries more than `maxLineBytes` of a partial line (plus the read being scanned, which the caller
/// owns). The joined data of one event is bounded by the same limit.
///
/// After an error (a `SSEParserError`, or an error thrown by `emit`), the rest of that read is not processed; after
/// an `SSEParserError` every further `feed`/`finish` throws it again. `finish` resets the parser, so one value can
/// parse successive streams.
public struct SSEParser: Sendable {
    /// The longest line (in bytes, excluding its line ending) the parser accepts.
    public let maxLineBytes: Int

    /// Bytes of a line whose end has not arrived yet. Kept empty (capacity reused) between lines.
    private var lineBuffer: [UInt8] = []
    /// The data lines of the event being built, joined with LF.
    private var dataBuffer: [UInt8] = []
    /// Whether the event being built has at least one data line (the data itself may be empty: `data:`).
    private var hasData = false
    private var eventType: String?
    private var lastEventID: String?
    /// The previous read ended with CR: an LF at the start of the next read belongs to the same line ending.
    private var skipLeadingLF = false
    /// How many bytes of a UTF-8 BOM have been seen at the very start of the stream.
    private var bomMatched = 0
    /// The start of the stream has been checked for a BOM.
    private var bomChecked = false
    private var failure: SSEParserError?

    private static let lf: UInt8 = 0x0A
    private static let cr: UInt8 = 0x0D
    private static let colon: UInt8 = 0x3A
    private static let space: UInt8 = 0x20
    private static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// - Parameter maxLineBytes: the longest accepted line; values below 1 are treated as 1.
    public init(maxLineBytes: Int = 8 * 1024 * 1024) {
        self.maxLineBytes = max(1, maxLineBytes)
    }

    /// Feeds bytes as they arrive from the network; calls `emit` for each complete item, in order.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (SSEItem) throws -> Void) throws {
        if let failure { throw failure }
        guard !bytes.isEmpty else { return }
        try bytes.withMemoryRebound(to: UInt8.self) { buffer in
            try scan(buffer, emit)
        }
    }

    /// Convenience for `feed(_: UnsafeRawBufferPointer, _:)`.
    public mutating func feed(_ data: Data, _ emit: (SSEItem) throws -> Void) throws {
        try data.withUnsafeBytes { raw in
            try feed(raw, emit)
        }
    }

    /// End of body. Unlike a browser's EventSource (which discards an unterminated event), this dispatches an event
    /// whose data lines arrived but whose terminating blank line did not (servers that close right after
    /// `data: {...}\n`), and treats a partial last line without any line ending as a complete line.
    /// Resets the parser for a new stream afterwards.
    public mutating func finish(_ emit: (SSEItem) throws -> Void) throws {
        if let failure { throw failure }
        if !bomChecked {
            // The stream ended inside what could have been a BOM: those bytes were ordinary text.
            lineBuffer.append(contentsOf: Self.bom[0..<bomMatched])
            bomChecked = true
        }
        defer { reset() }
        if !lineBuffer.isEmpty {
            try processCarriedLine(emit)
        }
        try dispatch(emit)
    }

    // MARK: - Scanning

    private mutating func scan(_ buffer: UnsafeBufferPointer<UInt8>, _ emit: (SSEItem) throws -> Void) throws {
        let count = buffer.count
        var index = 0

        // A UTF-8 BOM at the very start of the stream is skipped, even when it is split across reads.
        while !bomChecked && index < count {
            if buffer[index] == Self.bom[bomMatched] {
                bomMatched += 1
                index += 1
                if bomMatched == Self.bom.count { bomChecked = true }
            } else {
                // Not a BOM after all: the bytes matched so far are the start of the first line.
                lineBuffer.append(contentsOf: Self.bom[0..<bomMatched])
                bomChecked = true
            }
        }

        if skipLeadingLF && index < count {
            skipLeadingLF = false
            if buffer[index] == Self.lf { index += 1 }
        }

        // Positions of the next LF and the next CR at or after `index` (or `count`), each found by memchr and
        // searched again only once `index` has passed it, so each is a single linear pass over the read whatever
        // the line endings are.
        var nextLF = -1
        var nextCR = -1
        var lineStart = index
        while index < count {
            if nextLF < index { nextLF = Self.find(Self.lf, in: buffer, from: index) }
            if nextCR < index { nextCR = Self.find(Self.cr, in: buffer, from: index) }
            index = min(nextLF, nextCR)
            guard index < count else { break }
            let byte = buffer[index]
            try completeLine(UnsafeBufferPointer(rebasing: buffer[lineStart..<index]), emit)
            index += 1
            if byte == Self.cr {
                if index < count {
                    if buffer[index] == Self.lf { index += 1 }
                } else {
                    skipLeadingLF = true
                }
            }
            lineStart = index
        }

        // Carry the unfinished line to the next read, within the limit.
        let remainder = count - lineStart
        if remainder > 0 {
            guard lineBuffer.count + remainder <= maxLineBytes else { throw fail() }
            lineBuffer.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[lineStart..<count]))
        }
    }

    /// A line ending was found; `tail` is the part of the line in the current read.
    private mutating func completeLine(_ tail: UnsafeBufferPointer<UInt8>, _ emit: (SSEItem) throws -> Void) throws {
        if lineBuffer.isEmpty {
            guard tail.count <= maxLineBytes else { throw fail() }
            try processLine(tail, emit)
        } else {
            guard lineBuffer.count + tail.count <= maxLineBytes else { throw fail() }
            lineBuffer.append(contentsOf: tail)
            try processCarriedLine(emit)
        }
    }

    /// Interprets the line held in `lineBuffer`, then empties it (keeping its capacity).
    private mutating func processCarriedLine(_ emit: (SSEItem) throws -> Void) throws {
        // Move the buffer out so that reading it does not overlap with mutating `self`; moved back afterwards,
        // still uniquely referenced, so its storage is reused rather than copied.
        var line: [UInt8] = []
        swap(&line, &lineBuffer)
        defer {
            line.removeAll(keepingCapacity: true)
            swap(&line, &lineBuffer)
        }
        try line.withUnsafeBufferPointer { buffer in
            try processLine(buffer, emit)
        }
    }

    // MARK: - Interpreting lines

    private mutating func processLine(_ line: UnsafeBufferPointer<UInt8>, _ emit: (SSEItem) throws -> Void) throws {
        guard let first = line.first else {
            try dispatch(emit)
            return
        }
        if first == Self.colon {
            try emit(.comment)
            return
        }

        var colonIndex = line.count
        var i = 0
        while i < line.count {
            if line[i] == Self.colon {
                colonIndex = i
                break
            }
            i += 1
        }
        let name = UnsafeBufferPointer(rebasing: line[0..<colonIndex])
        var valueStart = colonIndex < line.count ? colonIndex + 1 : line.count
        if valueStart < line.count && line[valueStart] == Self.space {
            valueStart += 1
        }
        let value = UnsafeBufferPointer(rebasing: line[valueStart..<line.count])

        switch Self.field(name) {
        case .data:
            let added = (hasData ? 1 : 0) + value.count
            guard dataBuffer.count + added <= maxLineBytes else { throw fail() }
            if hasData { dataBuffer.append(Self.lf) }
            dataBuffer.append(contentsOf: value)
            hasData = true
        case .event:
            eventType = value.isEmpty ? nil : String(decoding: value, as: UTF8.self)
        case .id:
            if !value.contains(0) {
                lastEventID = value.isEmpty ? nil : String(decoding: value, as: UTF8.self)
            }
        case .other:
            break
        }
        // `retry` and unknown fields are ignored.
    }

    /// A blank line: dispatch the event being built, if it has data; either way start a new one.
    private mutating func dispatch(_ emit: (SSEItem) throws -> Void) throws {
        guard hasData else {
            eventType = nil
            return
        }
        let event = SSEEvent(event: eventType, data: Data(dataBuffer), id: lastEventID)
        dataBuffer.removeAll(keepingCapacity: true)
        hasData = false
        eventType = nil
        try emit(.event(event))
    }

    // MARK: - Helpers

    /// The index of the first `byte` at or after `start`, or `buffer.count`; memchr is vectorised in libc.
    @inline(__always)
    private static func find(_ byte: UInt8, in buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard let base = buffer.baseAddress, start < buffer.count,
              let found = memchr(base + start, Int32(byte), buffer.count - start)
        else { return buffer.count }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }

    private enum Field { case data, event, id, other }

    /// Recognises a field name by comparing bytes against the ASCII names directly (no lookups on the hot path).
    @inline(__always)
    private static func field(_ name: UnsafeBufferPointer<UInt8>) -> Field {
        switch name.count {
        case 4 where name[0] == 0x64 && name[1] == 0x61 && name[2] == 0x74 && name[3] == 0x61:  // "data"
            return .data
        case 5 where name[0] == 0x65 && name[1] == 0x76 && name[2] == 0x65 && name[3] == 0x6E && name[4] == 0x74:  // "event"
            return .event
        case 2 where name[0] == 0x69 && name[1] == 0x64:  // "id"
            return .id
        default:
            return .other
        }
    }

    private mutating func fail() -> SSEParserError {
        let error = SSEParserError(limit: maxLineBytes)
        failure = error
        lineBuffer = []
        dataBuffer = []
        return error
    }

    private mutating func reset() {
        lineBuffer.removeAll(keepingCapacity: true)
        dataBuffer.removeAll(keepingCapacity: true)
        hasData = false
        eventType = nil
        lastEventID = nil
        skipLeadingLF = false
        bomMatched = 0
        bomChecked = false
    }
}
