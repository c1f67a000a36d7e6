import Foundation

/// One action to run when something first happens (an exchange's connection is up), whether it is registered
/// before or after that: registered before, it runs on the thread that reports the event; after, at once.
final class FirstTimeAction: @unchecked Sendable {
    // `happened` and `action` are guarded by `lock`; the action runs outside it.
    private let lock = NSLock()
    private var happened = false
    private var action: (@Sendable () -> Void)?

    func whenItHappens(_ action: @escaping @Sendable () -> Void) {
        lock.lock()
        if happened {
            lock.unlock()
            action()
        } else {
            self.action = action
            lock.unlock()
        }
    }

    /// Reports the event; only the first report runs the action.
    func happen() {
        lock.lock()
        guard !happened else {
            lock.unlock()
            return
        }
        happened = true
        let pending = action
        action = nil
        lock.unlock()
        pending?()
    }
}
