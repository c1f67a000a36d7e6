import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one owner of the protocol output. Every message is queued as a whole line and written by a single
/// thread with blocking writes, so two messages can never interleave (the MCP Swift SDK's bug), and lines
/// already waiting are written together in one `write`.
/// A slow reader makes senders wait once `highWaterBytes` are queued, instead of buffering without bound.
public final class OutputWriter: @unchecked Sendable {
    // All mutable state below is guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [UInt8] = []
    private var queuedBytes = 0
    private var blockedSenders: [CheckedContinuation<Void, Never>] = []
    private var drainWaiters: [CheckedContinuation<Void, Never>] = []
    private var writing = false
    private var broken = false

    private let fd: Int32
    private let highWaterBytes: Int
    private let onBroken: @Sendable () -> Void

    /// - Parameter onBroken: called once, from the writer thread, when the reader has gone (EPIPE).
    public init(fd: Int32, highWaterBytes: Int = 4 << 20, onBroken: @escaping @Sendable () -> Void) {
        self.fd = fd
        self.highWaterBytes = highWaterBytes
        self.onBroken = onBroken
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "stdout-writer"
        thread.start()
    }

    /// Queues one line (the newline is added here) and waits only if the reader is far behind.
    public func send(_ line: some Sequence<UInt8>) async {
        guard enqueue(line) else { return }
        await withCheckedContinuation { continuation in
            condition.lock()
            if queuedBytes > highWaterBytes && !broken {
                blockedSenders.append(continuation)
                condition.unlock()
            } else {
                condition.unlock()
                continuation.resume()
            }
        }
    }

    /// Whether the reading end of the output is closed (the client has gone), found without writing anything.
    /// A pipe whose reader closed reports POLLERR to the writer.
    public var isReaderGone: Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&descriptor, 1, 0) > 0 else { return false }
        return descriptor.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0
    }

    /// Queues one line without ever waiting, for the few places that cannot suspend.
    public func sendNow(_ line: some Sequence<UInt8>) {
        _ = enqueue(line)
    }

    /// Returns once everything queued so far has been written (or the reader is gone).
    public func drain() async {
        await withCheckedContinuation { continuation in
            condition.lock()
            if (queue.isEmpty && !writing) || broken {
                condition.unlock()
                continuation.resume()
            } else {
                drainWaiters.append(continuation)
                condition.unlock()
            }
        }
    }

    /// Returns whether the sender should wait for the queue to shrink.
    private func enqueue(_ line: some Sequence<UInt8>) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !broken else { return false }
        let before = queue.count
        queue.append(contentsOf: line)
        queue.append(UInt8(ascii: "\n"))
        queuedBytes += queue.count - before
        condition.signal()
        return queuedBytes > highWaterBytes
    }

    private func run() {
        var batch: [UInt8] = []
        while true {
            condition.lock()
            while queue.isEmpty { condition.wait() }
            swap(&batch, &queue)
            writing = true
            condition.unlock()

            let ok = writeAll(batch)

            condition.lock()
            writing = false
            queuedBytes -= batch.count
            if !ok { broken = true }
            let resumeSenders = queuedBytes <= highWaterBytes / 2 || broken
            let senders = resumeSenders ? blockedSenders : []
            if resumeSenders { blockedSenders.removeAll() }
            let drained = (queue.isEmpty || broken) ? drainWaiters : []
            if queue.isEmpty || broken { drainWaiters.removeAll() }
            condition.unlock()

            senders.forEach { $0.resume() }
            drained.forEach { $0.resume() }
            // Keep a modest buffer around between batches, not the largest one ever written.
            batch.removeAll(keepingCapacity: batch.capacity <= 1 << 20)
            if !ok {
                onBroken()
                return
            }
        }
    }

    private func writeAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return false
                }
                offset += written
            }
            return true
        }
    }
}
