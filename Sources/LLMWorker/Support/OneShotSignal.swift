import Foundation

/// Something that happens once, which any number of tasks can wait for. A waiting task that is cancelled stops
/// waiting at once. Lock-based rather than an actor so that it can be made and handed out synchronously (on the
/// reader thread, before the next input line is read).
final class OneShotSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var fired = false
    private var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    private var nextWaiter: UInt64 = 0

    func fire() {
        lock.lock()
        fired = true
        let waiting = waiters.values
        waiters = [:]
        lock.unlock()
        for waiter in waiting { waiter.resume() }
    }

    /// Returns once the signal has fired, or once the calling task is cancelled.
    func wait() async {
        let waiter = lock.withLock {
            nextWaiter += 1
            return nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                lock.lock()
                if fired || Task.isCancelled {
                    lock.unlock()
                    continuation.resume()
                } else {
                    waiters[waiter] = continuation
                    lock.unlock()
                }
            }
        } onCancel: {
            lock.lock()
            let continuation = waiters.removeValue(forKey: waiter)
            lock.unlock()
            continuation?.resume()
        }
    }
}
