import Foundation

/// Cuts the protocol input into lines, with no I/O of its own (`LineReader` feeds it from stdin; the fuzzer
/// and the tests feed it bytes directly). `\n` ends a line, a `\r` before it is dropped (and not counted
/// against the limit), blank lines are skipped. A line longer than `maxLineBytes` is never held in memory:
/// its bytes are discarded up to the next newline and reported once as `.oversized`.
public struct LineFramer: Sendable {
    private let maxLineBytes: Int
    private var pending: [UInt8] = []
    private var discarding = false
    private var discardedBytes = 0

    public init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    /// Frames the next bytes of the input; `handle` gets each complete line (or oversized line) in order.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ handle: (LineReader.Event) -> Void) {
        let count = bytes.count
        var start = 0
        while start < count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[start..<count])
            guard let found = memchr(rest.baseAddress!, 0x0A, rest.count) else {
                if discarding {
                    discardedBytes += rest.count
                } else if pending.count + rest.count > maxLineBytes + 1 {
                    discarding = true
                    discardedBytes = pending.count + rest.count
                    pending = []
                } else {
                    pending.append(contentsOf: rest)
                }
                break
            }
            let length = UnsafeRawPointer(found) - UnsafeRawPointer(rest.baseAddress!)
            let endsWithCR = length > 0 ? rest[length - 1] == 0x0D : pending.last == 0x0D
            if discarding {
                handle(.oversized(bytes: discardedBytes + length))
                discarding = false
            } else if pending.count + length - (endsWithCR ? 1 : 0) > maxLineBytes {
                handle(.oversized(bytes: pending.count + length))
                pending = []
            } else {
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[0..<length]))
                emit(pending, handle)
                // A huge line leaves a huge buffer behind: give the memory back.
                if pending.capacity > 1 << 20 { pending = [] } else { pending.removeAll(keepingCapacity: true) }
            }
            start += length + 1
        }
    }

    /// End of input: a last line without a newline still counts. Does not report `.endOfInput` itself.
    public mutating func finish(_ handle: (LineReader.Event) -> Void) {
        if discarding {
            handle(.oversized(bytes: discardedBytes))
        } else if pending.count - (pending.last == 0x0D ? 1 : 0) > maxLineBytes {
            handle(.oversized(bytes: pending.count))
        } else if !pending.isEmpty {
            emit(pending, handle)
        }
        pending = []
        discarding = false
        discardedBytes = 0
    }

    private func emit(_ line: [UInt8], _ handle: (LineReader.Event) -> Void) {
        var end = line.count
        if end > 0 && line[end - 1] == 0x0D { end -= 1 }
        let isBlank = line[0..<end].allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
        if !isBlank { handle(.line(Data(line[0..<end]))) }
    }
}
