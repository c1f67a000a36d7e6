import Dispatch
import Foundation

/// A block of memory a connection reads into and lends, whole, to the consumer of its exchange.
///
/// Thread safety: the loop thread writes it only while it is not lent, the consumer reads it only while it is; the
/// hand-over both ways goes through `SocketExchange`'s `Locked` state or the event loop's queue, which order them.
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
/// Thread safety: the state both sides share is in `state`; a waiting consumer is resumed after the lock is
/// released. At most one read is lent at a time (the connection reads no further until `readBody` has handed it
/// back), which is the back-pressure.
final class SocketExchange: TransportExchange, Sendable {
    let id: Int
    private let loop: EventLoop<SocketEngine>
    private let connection = FirstTimeAction()
    private let state = Locked(State())

    private struct State {
        var head: TransportResponseHead?
        var lent: (buffer: ReadBuffer, count: Int)?
        var bodyEnded = false
        var failure: Error?
        /// Bumped by every change a consumer may wait for.
        var version = 0
        var waiter: CheckedContinuation<Void, Never>?
        var lastReceived: UInt64 = 0
        var anyResponseByte = false
        var reused: Bool?
        /// The consumer is reading bytes taken from `lent`; they go back to the connection when it is done.
        var consumerHolds = false
        var resentBecause: String?
        var onResend: (@Sendable (String) -> Void)?

        /// Marks a change; returns the waiter to resume once the lock is released.
        mutating func changed() -> CheckedContinuation<Void, Never>? {
            version += 1
            defer { waiter = nil }
            return waiter
        }
    }

    init(id: Int, loop: EventLoop<SocketEngine>) {
        self.id = id
        self.loop = loop
    }

    // MARK: Consumer side

    func responseHead() async throws -> TransportResponseHead {
        while true {
            let (head, failure, version) = state.withLock { ($0.head, $0.failure, $0.version) }
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
                    state.withLock { $0.consumerHolds = false }
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
        state.withLock { state in
            if let lent = state.lent {
                state.lent = nil
                state.consumerHolds = true
                return .lent(lent.buffer, lent.count)
            }
            if let failure = state.failure { return .failed(failure) }
            return state.bodyEnded ? .ended : .wait(version: state.version)
        }
    }

    func fail(_ error: Error) {
        let (failed, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            guard state.failure == nil, !state.bodyEnded else { return (false, nil) }
            state.failure = error
            return (true, state.changed())
        }
        guard failed else { return }
        waiter?.resume()
        loop.execute { [id] engine in engine.abort(id) }
    }

    func whenConnected(_ action: @escaping @Sendable () -> Void) {
        connection.whenItHappens(action)
    }

    /// While bytes are lent and not yet handed back, the connection reads nothing: whatever the server sends meanwhile
    /// waits in the kernel, so a slow consumer must not make a busy server look silent. Those moments count as now.
    var received: (lastAt: UInt64, all: Bool) {
        state.withLock { state in
            (state.lent != nil || state.consumerHolds ? DispatchTime.now().uptimeNanoseconds : state.lastReceived, state.bodyEnded)
        }
    }

    var reusedConnection: Bool? {
        state.withLock { $0.reused }
    }

    var receivedResponseBytes: Bool {
        state.withLock { $0.anyResponseByte }
    }

    /// Suspends until something changes after `version`; a cancelled task fails the exchange, which is a change.
    private func waitForChange(after version: Int) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let waiting = state.withLock { state in
                    guard state.version == version else { return false }
                    precondition(state.waiter == nil, "SocketExchange has one consumer")
                    state.waiter = continuation
                    return true
                }
                if !waiting { continuation.resume() }
            }
        } onCancel: {
            cancel()
        }
    }

    // MARK: Loop side

    func receivedBytes() {
        state.withLock { state in
            state.lastReceived = DispatchTime.now().uptimeNanoseconds
            state.anyResponseByte = true
        }
        markConnected()
    }

    func sentRequest() {
        markConnected()
    }

    func whenResent(_ action: @escaping @Sendable (String) -> Void) {
        let reason = state.withLock { state in
            if state.resentBecause == nil { state.onResend = action }
            return state.resentBecause
        }
        if let reason { action(reason) }
    }

    /// The driver sends the request again on a new connection, because of `reason`.
    func resending(because reason: String) {
        let action = state.withLock { state in
            state.resentBecause = reason
            defer { state.onResend = nil }
            return state.onResend
        }
        action?(reason)
    }

    /// The request goes out on a connection that carried `requestsBefore` requests before it.
    func carried(onConnectionWith requestsBefore: Int) {
        state.withLock { $0.reused = requestsBefore > 0 }
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

    private func report(_ change: (inout State) -> Void) {
        state.withLock { state in
            change(&state)
            return state.changed()
        }?.resume()
    }

    private func markConnected() {
        connection.happen()
    }
}
