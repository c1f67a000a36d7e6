import Foundation

/// Lets one thread sleep until something it waits for may have changed, instead of polling: the stdin reader,
/// held back while the worker is overloaded, is woken when an answer is decided, a request ends or a write is
/// done. A waiter takes a ticket before it checks its condition, so a signal given between the check and the
/// wait is never lost.
///
/// Thread safety: `generation` and `waiters` are read and written only while holding `condition`. An `NSCondition`
/// rather than `Locked`, because a waiter blocks its thread on it.
public final class ProgressSignal: @unchecked Sendable {
    private let condition = NSCondition()
    private var generation: UInt64 = 0
    private var waiters = 0

    public init() {}

    public struct Ticket: Sendable {
        fileprivate let generation: UInt64
    }

    /// Cheap when nobody waits: one lock, no wake-up.
    public func signal() {
        condition.lock()
        if waiters > 0 {
            generation &+= 1
            condition.broadcast()
        }
        condition.unlock()
    }

    /// Marks the caller as waiting from now on; check the condition after this, then call `wait`.
    public func ticket() -> Ticket {
        condition.lock()
        defer { condition.unlock() }
        waiters += 1
        return Ticket(generation: generation)
    }

    /// Returns after a signal given since `ticket` was taken, or after `timeout` seconds at the most.
    public func wait(_ ticket: Ticket, timeout: Double) {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        while generation == ticket.generation, condition.wait(until: deadline) {}
        waiters -= 1
        condition.unlock()
    }

    /// Gives back a ticket that is not going to be waited on.
    public func cancel(_ ticket: Ticket) {
        condition.lock()
        waiters -= 1
        condition.unlock()
    }
}
