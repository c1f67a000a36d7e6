import Dispatch
import Foundation

/// A block of memory a connection reads into and lends, whole, to the consumer of its exchange.
///
/// `@unchecked Sendable`: the loop thread writes it only while it is not lent, the consumer reads it only while it
/// is; the hand-over both ways goes through `SocketExchange`'s lock or the event loop's queue, which order them.
final class ReadBuffer: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer

    init(capacity: Int) {
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { bytes.deallocate() }
}

/// The socket transport's side of one request that the consumer's task sees: the head, the body bytes lent one
/// read at a time, the end or the failure. The loop thread reports into it; the consumer pulls from it.
///
/// Lock invariant: every `var` below is read and written only while holding `lock`; a waiting consumer is
/// resumed after the lock is released. At most one read is lent at a time (the connection reads no further
/// until `readBody` has handed it back), which is the back-pressure.
final class SocketExchange: TransportExchange, @unchecked Sendable {
    let id: Int
    private let loop: EventLoop<SocketEngine>
    private let lock = NSLock()
    private var head: TransportResponseHead?
    private var lent: (buffer: ReadBuffer, count: Int)?
    private var bodyEnded = false
    private var failure: Error?
    /// Bumped by every change a consumer may wait for.
    private var version = 0
    private var waiter: CheckedContinuation<Void, Never>?
    private let connection = FirstTimeAction()
    private var lastReceived: UInt64 = 0
    private var anyResponseByte = false
    private var reused: Bool?
    /// The consumer is reading bytes taken from `lent`; they go back to the connection when it is done.
    private var consumerHolds = false
    private var resentBecause: String?
    private var onResend: (@Sendable (String) -> Void)?

    init(id: Int, loop: EventLoop<SocketEngine>) {
        self.id = id
        self.loop = loop
    }

    // MARK: Consumer side

    func responseHead() async throws -> TransportResponseHead {
        while true {
            let (head, failure, version) = lock.withLock { (self.head, self.failure, self.version) }
            if let head { return head }
            if let failure { throw failure }
            await waitForChange(after: version)
        }
    }

    func readBody(_ consume: (UnsafeRawBufferPointer) throws -> Void) async throws -> Bool {
        while true {
            switch nextBodyStep() {
            case .lent(let buffer, let count):
                defer {
                    lock.withLock { consumerHolds = false }
                    loop.execute { [id] engine in engine.resume(id) }
                }
                try consume(UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<count]))
                return true
            case .failed(let failure):
                throw failure
            case .ended:
                return false
            case .wait(let version):
                await waitForChange(after: version)
            }
        }
    }

    private enum BodyStep {
        case lent(ReadBuffer, Int)
        case failed(Error)
        case ended
        case wait(version: Int)
    }

    /// Lent bytes come before the end or a failure: what arrived before a fault still reaches the consumer.
    private func nextBodyStep() -> BodyStep {
        lock.withLock {
            if let lent {
                self.lent = nil
                consumerHolds = true
                return .lent(lent.buffer, lent.count)
            }
            if let failure { return .failed(failure) }
            return bodyEnded ? .ended : .wait(version: version)
        }
    }

    func fail(_ error: Error) {
        lock.lock()
        guard failure == nil, !bodyEnded else {
            lock.unlock()
            return
        }
        failure = error
        let waiter = changed()
        lock.unlock()
        waiter?.resume()
        loop.execute { [id] engine in engine.abort(id) }
    }

    func whenConnected(_ action: @escaping @Sendable () -> Void) {
        connection.whenItHappens(action)
    }

    /// While bytes are lent and not yet handed back, the connection reads nothing: whatever the server sends meanwhile
    /// waits in the kernel, so a slow consumer must not make a busy server look silent. Those moments count as now.
    var received: (lastAt: UInt64, all: Bool) {
        lock.lock()
        defer { lock.unlock() }
        return (lent != nil || consumerHolds ? DispatchTime.now().uptimeNanoseconds : lastReceived, bodyEnded)
    }

    var reusedConnection: Bool? {
        lock.withLock { reused }
    }

    var receivedResponseBytes: Bool {
        lock.lock()
        defer { lock.unlock() }
        return anyResponseByte
    }

    /// Suspends until something changes after `version`; a cancelled task fails the exchange, which is a change.
    private func waitForChange(after version: Int) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                lock.lock()
                if self.version != version {
                    lock.unlock()
                    continuation.resume()
                    return
                }
                precondition(waiter == nil, "SocketExchange has one consumer")
                waiter = continuation
                lock.unlock()
            }
        } onCancel: {
            cancel()
        }
    }

    /// Marks a change; the caller holds the lock and resumes the returned waiter after releasing it.
    private func changed() -> CheckedContinuation<Void, Never>? {
        version += 1
        let waiter = self.waiter
        self.waiter = nil
        return waiter
    }

    // MARK: Loop side

    func receivedBytes() {
        lock.lock()
        lastReceived = DispatchTime.now().uptimeNanoseconds
        anyResponseByte = true
        lock.unlock()
        markConnected()
    }

    func sentRequest() {
        markConnected()
    }

    func whenResent(_ action: @escaping @Sendable (String) -> Void) {
        let reason: String? = lock.withLock {
            if resentBecause == nil { onResend = action }
            return resentBecause
        }
        if let reason { action(reason) }
    }

    /// The driver sends the request again on a new connection, because of `reason`.
    func resending(because reason: String) {
        let action = lock.withLock {
            resentBecause = reason
            defer { onResend = nil }
            return onResend
        }
        action?(reason)
    }

    /// The request goes out on a connection that carried `requestsBefore` requests before it.
    func carried(onConnectionWith requestsBefore: Int) {
        lock.withLock { reused = requestsBefore > 0 }
    }

    func deliver(head: TransportResponseHead) {
        report { $0.head = head }
    }

    /// Lends `count` bytes at the start of `buffer` until the consumer hands them back (`SocketEngine.resume`).
    func lend(_ buffer: ReadBuffer, count: Int) {
        report {
            precondition($0.lent == nil, "a second read lent before the first was handed back")
            $0.lent = (buffer, count)
        }
    }

    func endBody() {
        report { $0.bodyEnded = true }
    }

    func transportFailed(_ error: TransportError) {
        report { exchange in
            if exchange.failure == nil && !exchange.bodyEnded { exchange.failure = error }
        }
    }

    private func report(_ change: (SocketExchange) -> Void) {
        lock.lock()
        change(self)
        let waiter = changed()
        lock.unlock()
        waiter?.resume()
    }

    private func markConnected() {
        connection.happen()
    }
}
