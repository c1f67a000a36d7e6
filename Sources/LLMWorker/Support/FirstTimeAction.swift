import Foundation

/// One action to run when something first happens (an exchange's connection is up), whether it is registered
/// before or after that: registered before, it runs on the thread that reports the event; after, at once.
/// The action always runs outside the lock.
final class FirstTimeAction: Sendable {
    private struct State {
        var happened = false
        var action: (@Sendable () -> Void)?
    }

    private let state = Locked(State())

    func whenItHappens(_ action: @escaping @Sendable () -> Void) {
        let happened = state.withLock { state in
            if !state.happened { state.action = action }
            return state.happened
        }
        if happened { action() }
    }

    /// Reports the event; only the first report runs the action.
    func happen() {
        let pending = state.withLock { state -> (@Sendable () -> Void)? in
            guard !state.happened else { return nil }
            state.happened = true
            defer { state.action = nil }
            return state.action
        }
        pending?()
    }
}
