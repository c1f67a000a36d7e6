import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads the protocol input on its own thread with blocking reads and cuts it into lines.
/// `\n` ends a line, a `\r` before it is dropped, blank lines are skipped. A line longer than `maxLineBytes`
/// is never held in memory: its bytes are discarded up to the next newline and `onOversized` is called.
public final class LineReader: @unchecked Sendable {
    public enum Event {
        case line(Data)
        case oversized(bytes: Int)
        case endOfInput
    }

    private let fd: Int32
    private let maxLineBytes: Int
    private let handle: (Event) -> Void

    /// `handle` runs on the reader thread, in input order.
    public init(fd: Int32, maxLineBytes: Int, handle: @escaping (Event) -> Void) {
        self.fd = fd
        self.maxLineBytes = maxLineBytes
        self.handle = handle
    }

    public func start() {
        let thread = Thread { [self] in run() }
        thread.name = "stdin-reader"
        thread.stackSize = 8 << 20
        thread.start()
    }

    private func run() {
        let chunkSize = 1 << 16
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 1)
        defer { chunk.deallocate() }
        var pending: [UInt8] = []
        var discarding = false
        var discardedBytes = 0

        while true {
            let count = read(fd, chunk.baseAddress, chunkSize)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            let bytes = UnsafeRawBufferPointer(rebasing: chunk[0..<count])
            var start = 0
            while start < count {
                let rest = UnsafeRawBufferPointer(rebasing: bytes[start..<count])
                guard let found = memchr(rest.baseAddress!, 0x0A, rest.count) else {
                    if discarding {
                        discardedBytes += rest.count
                    } else if pending.count + rest.count > maxLineBytes {
                        discarding = true
                        discardedBytes = pending.count + rest.count
                        pending = []
                    } else {
                        pending.append(contentsOf: rest)
                    }
                    break
                }
                let length = UnsafeRawPointer(found) - UnsafeRawPointer(rest.baseAddress!)
                if discarding {
                    handle(.oversized(bytes: discardedBytes + length))
                    discarding = false
                } else if pending.count + length > maxLineBytes {
                    handle(.oversized(bytes: pending.count + length))
                    pending = []
                } else {
                    pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[0..<length]))
                    emit(pending)
                    // A huge line leaves a huge buffer behind: give the memory back.
                    if pending.capacity > 1 << 20 { pending = [] } else { pending.removeAll(keepingCapacity: true) }
                }
                start += length + 1
            }
        }
        if discarding {
            handle(.oversized(bytes: discardedBytes))
        } else if !pending.isEmpty {
            emit(pending)
        }
        handle(.endOfInput)
    }

    private func emit(_ line: [UInt8]) {
        var end = line.count
        if end > 0 && line[end - 1] == 0x0D { end -= 1 }
        let isBlank = line[0..<end].allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
        if !isBlank { handle(.line(Data(line[0..<end]))) }
    }
}
