import Foundation

/// Something that happens once, which any number of tasks can wait for. A waiting task that is cancelled stops
/// waiting at once. Lock-based rather than an actor so that it can be made and handed out synchronously (on the
/// reader thread, before the next input line is read).
final class OneShotSignal: Sendable {
    private struct State {
        var fired = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = Locked(State())

    func fire() {
        let waiting = state.withLock { state in
            state.fired = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiting { waiter.resume() }
    }

    /// Returns once the signal has fired, or once the calling task is cancelled.
    func wait() async {
        let waiter = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let waiting = state.withLock { state in
                    guard !state.fired && !Task.isCancelled else { return false }
                    state.waiters[waiter] = continuation
                    return true
                }
                if !waiting { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: waiter) }?.resume()
        }
    }
}
