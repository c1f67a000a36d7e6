import Foundation

/// A value shared between threads and tasks, reached only through `withLock`: the worker's one lock-protected box,
/// so that the classes holding their state in one are checked `Sendable` instead of each claiming
/// `@unchecked Sendable` for its own lock and `var`s.
///
/// Thread safety: `state` is read and written only inside `withLock`, while holding `lock`; that is the whole
/// reason for the `@unchecked` below. The closure runs under the lock: keep it short, and call nothing from it that
/// could take the same lock again (resume continuations and run callbacks after it returns instead).
///
/// The shape of `Synchronization.Mutex` (which `Package.swift`'s macOS 13 floor does not have): when that floor
/// reaches macOS 15, a `Mutex` can replace this class without changing its callers.
final class Locked<State>: @unchecked Sendable {
    private let lock = NSLock()
    private var state: State

    init(_ initial: sending State) {
        state = initial
    }

    func withLock<Result, Failure: Error>(_ body: (inout sending State) throws(Failure) -> sending Result) throws(Failure) -> sending Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&state)
    }
}

extension Locked {
    /// What is stored, else what `make` returns, stored for next time: made at most once, under the lock (for a
    /// value that is costly to make and may never be needed).
    func storedOrMade<Value>(_ make: () -> sending Value) -> sending Value where State == Value? {
        withLock { stored in
            if let stored { return stored }
            let value = make()
            stored = value
            return value
        }
    }
}
