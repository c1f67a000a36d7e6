import Dispatch

/// A dispatch timer that the classes holding one (the exchange watchdog and trace) can keep in a `Locked` state and
/// move between threads.
///
/// Thread safety: a dispatch source may be scheduled, resumed and cancelled from any thread (libdispatch's own
/// contract); Linux's Dispatch module does not mark its sources `Sendable`, so this type says it, once. Its handler
/// runs on `queue`.
struct DispatchTimer: @unchecked Sendable {
    private let source: DispatchSourceTimer

    /// A suspended timer: nothing fires before `schedule` and `resume`.
    init(queue: DispatchQueue, handler: @escaping @Sendable () -> Void) {
        source = DispatchSource.makeTimerSource(queue: queue)
        source.setEventHandler(handler: handler)
    }

    func schedule(deadline: DispatchTime, leeway: DispatchTimeInterval) {
        source.schedule(deadline: deadline, leeway: leeway)
    }

    func schedule(deadline: DispatchTime, repeating seconds: Double, leeway: DispatchTimeInterval) {
        source.schedule(deadline: deadline, repeating: seconds, leeway: leeway)
    }

    func resume() { source.resume() }

    func cancel() { source.cancel() }
}
