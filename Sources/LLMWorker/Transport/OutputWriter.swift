import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one owner of the protocol output. Every message is queued as a whole line and written by one writer
/// at a time with blocking writes, so two messages can never interleave (the MCP Swift SDK's bug), and lines
/// already waiting are written together in one `write`.
/// A slow reader makes senders wait once `highWaterBytes` are queued, instead of buffering without bound.
///
/// The writer is normally the "stdout-writer" thread. When it is idle and the output is a pipe with room for
/// the line, the sender writes the line itself instead (a pipe write of at most one page into a pipe that is
/// not full never blocks): this saves a thread wake-up per delta, which on a busy machine is most of the
/// cost of getting a token to the client.
///
/// Thread safety: every `var` is read and written only while holding `condition` (an `NSCondition` rather than
/// `Locked`: the writer thread and the stdin reader sleep on it), except the batch being written, which only whoever
/// set `writing` touches, outside the lock, until `finishWrite` clears it (checked there in debug builds).
public final class OutputWriter: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [UInt8] = []
    private var queuedBytes = 0
    private var blockedSenders: [CheckedContinuation<Void, Never>] = []
    private var drainWaiters: [CheckedContinuation<Void, Never>] = []
    /// Someone (the writer thread or a sender writing in place) is writing; only they touch the bytes being written.
    private var writing = false
    private var broken = false
    private var brokenReported = false
    /// The stdin reader waits in `waitForRoom` (it shares `condition` with the writer thread, hence `broadcast`).
    private var inputWaiting = false
    /// A sender's batch when it writes in place (only while it holds `writing`).
    private var inPlaceBatch: [UInt8] = []

    private let fd: Int32
    private let highWaterBytes: Int
    private let onBroken: @Sendable () -> Void
    /// Told after every write (the stdin reader may be waiting for the backlog to shrink).
    private let progress: ProgressSignal?
    /// Only a pipe gives the guarantee that makes writing in place safe (see the type's comment).
    private let writesInPlace: Bool
    /// PIPE_BUF: the most a write into a non-full pipe is sure to take without waiting.
    private static let inPlaceLimit = 4096

    /// - Parameter onBroken: called once, from whichever thread found out, when the reader has gone (EPIPE).
    public init(fd: Int32, highWaterBytes: Int = 4 << 20, progress: ProgressSignal? = nil,
                onBroken: @escaping @Sendable () -> Void) {
        self.fd = fd
        self.highWaterBytes = highWaterBytes
        self.progress = progress
        self.onBroken = onBroken
        var status = stat()
        writesInPlace = fstat(fd, &status) == 0 && (status.st_mode & S_IFMT) == S_IFIFO
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

    /// Blocks the calling thread (the stdin reader) while the reader of the output is far behind. Input is then
    /// not taken faster than answers can be delivered: a client that floods requests without reading its answers
    /// meets back-pressure on its own writes instead of growing the worker without bound.
    public func waitForRoom() {
        condition.lock()
        while queuedBytes > highWaterBytes && !broken {
            inputWaiting = true
            condition.wait()
        }
        inputWaiting = false
        condition.unlock()
    }

    /// Bytes waiting to be written.
    public var backlogBytes: Int {
        condition.lock()
        defer { condition.unlock() }
        return queuedBytes
    }

    /// The queue size at which a backlog counts as the client falling behind.
    public var highWater: Int { highWaterBytes }

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
        guard !broken else {
            condition.unlock()
            return false
        }
        let before = queue.count
        queue.append(contentsOf: line)
        queue.append(UInt8(ascii: "\n"))
        queuedBytes += queue.count - before
        if writesInPlace && !writing && queue.count <= Self.inPlaceLimit && pipeHasRoom() {
            writing = true
            swap(&inPlaceBatch, &queue)
            condition.unlock()
            let ok = writeAll(inPlaceBatch)
            let written = Self.clear(&inPlaceBatch)
            finishWrite(written, ok: ok)
            return false
        }
        condition.broadcast()
        let mustWait = queuedBytes > highWaterBytes
        condition.unlock()
        return mustWait
    }

    /// Whether the pipe can take one more page now (POLLOUT on a pipe means it is not full).
    private func pipeHasRoom() -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        return poll(&descriptor, 1, 0) == 1 && descriptor.revents == Int16(POLLOUT)
    }

    private func run() {
        var batch: [UInt8] = []
        while true {
            condition.lock()
            while (queue.isEmpty || writing) && !broken { condition.wait() }
            if broken {
                condition.unlock()
                return
            }
            swap(&batch, &queue)
            writing = true
            condition.unlock()

            let ok = writeAll(batch)
            let written = Self.clear(&batch)
            finishWrite(written, ok: ok)
        }
    }

    /// Empties a written batch (while its owner still holds `writing`); returns how many bytes it had.
    /// A modest buffer is kept for the next batch, not the largest one ever written.
    private static func clear(_ batch: inout [UInt8]) -> Int {
        let count = batch.count
        batch.removeAll(keepingCapacity: batch.capacity <= 1 << 20)
        return count
    }

    /// After a write, by the writer thread or in place: wakes whoever waited for it and hands lines queued in
    /// the meantime to the writer thread.
    private func finishWrite(_ written: Int, ok: Bool) {
        condition.lock()
        assert(writing, "a write finished that nobody had started")
        writing = false
        queuedBytes -= written
        if !ok { broken = true }
        let reportBroken = broken && !brokenReported
        if reportBroken { brokenReported = true }
        let resumeSenders = queuedBytes <= highWaterBytes / 2 || broken
        let senders = resumeSenders ? blockedSenders : []
        if resumeSenders { blockedSenders.removeAll() }
        let drained = (queue.isEmpty || broken) ? drainWaiters : []
        if queue.isEmpty || broken { drainWaiters.removeAll() }
        if !queue.isEmpty || broken || inputWaiting { condition.broadcast() }
        condition.unlock()

        senders.forEach { $0.resume() }
        drained.forEach { $0.resume() }
        progress?.signal()
        if reportBroken { onBroken() }
    }

    private func writeAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK {
                        // A non-blocking stdout that is full: wait until it takes more instead of spinning.
                        var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                        _ = poll(&ready, 1, -1)
                        continue
                    }
                    return false
                }
                offset += written
            }
            return true
        }
    }
}
