import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads the protocol input on its own thread with blocking reads and cuts it into lines with a `LineFramer`
/// (`\n` ends a line, a `\r` before it is dropped, blank lines are skipped, a line longer than `maxLineBytes`
/// is discarded without being held in memory and reported as `.oversized`).
///
/// Thread safety: immutable. `handle` need not be `Sendable`: it runs only on the one reader thread that `start`
/// makes (call `start` once), in input order.
public final class LineReader: @unchecked Sendable {
    public enum Event: Equatable, Sendable {
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
        var framer = LineFramer(maxLineBytes: maxLineBytes)
        while true {
            let count = read(fd, chunk.baseAddress, chunkSize)
            if count < 0 && errno == EINTR { continue }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                // A parent may hand over its end of a pipe in non-blocking mode: wait for input, it is not the end.
                var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                _ = poll(&ready, 1, -1)
                continue
            }
            if count <= 0 { break }
            framer.feed(UnsafeRawBufferPointer(rebasing: chunk[0..<count]), handle)
        }
        framer.finish(handle)
        handle(.endOfInput)
    }
}
