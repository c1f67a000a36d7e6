import Foundation

/// Why the worker gave up waiting on a server.
struct ExchangeTimeout: Error, Sendable, Equatable {
    enum Phase: String, Sendable {
        case connect = "connect_timeout_s"
        case firstToken = "first_token_timeout_s"
        case idle = "idle_timeout_s"
        case total = "timeout_s"
    }

    let phase: Phase
    let seconds: Double

    var message: String {
        let limit = String(format: "%g s", seconds)
        switch phase {
        case .connect: return "Could not connect to the server within \(limit) (\(phase.rawValue))."
        case .firstToken: return "The model sent nothing within \(limit) (\(phase.rawValue)); it may still be loading."
        case .idle: return "The stream went silent for \(limit) (\(phase.rawValue))."
        case .total: return "The request ran out of its time budget (\(phase.rawValue)); raise timeout_s in configure if the model needs longer."
        }
    }
}

/// The worker's own deadlines for one exchange: URLSession on Linux enforces neither a resource timeout
/// nor anything like a first-token limit. One timer fires at the nearest deadline and looks again; activity
/// only moves timestamps, so a busy stream costs no timer churn.
///
/// The few changes that can bring the nearest deadline earlier (connected, first delta, answer complete)
/// re-arm the timer, which would otherwise wait for the deadline it computed before (an idle or drain limit
/// shorter than the connect limit would fire late).
///
/// A dispatch timer rather than a sleeping task: a cancelled `Task.sleep` keeps its timer, and the memory it
/// holds, until the original deadline (up to `timeout_s`), so memory would grow with the requests made;
/// a cancelled dispatch timer is gone at once.
final class ExchangeWatchdog: Sendable {
    private struct State {
        var connected = false
        var sawDelta = false
        var lastActivity: UInt64
        var drainingAfterEnd = false
        var responseComplete = false
        /// When the answer was last known complete: the drain limit counts from here, not from later keep-alives.
        var answerCompleteAt: UInt64 = 0
        var timer: DispatchTimer?
    }

    private let start = DispatchTime.now().uptimeNanoseconds
    private let state: Locked<State>
    private let timeouts: Timeouts
    private let streaming: Bool

    /// How long a server may take to close a stream after `[DONE]` before the worker stops waiting.
    static let drainLimit = 1.0

    init(timeouts: Timeouts, streaming: Bool) {
        self.timeouts = timeouts
        self.streaming = streaming
        state = Locked(State(lastActivity: start))
    }

    /// All watchdogs' timers fire on this one queue: their handlers only compare timestamps.
    private static let queue = DispatchQueue(label: "exchange-watchdog")

    /// Starts watching; the exchange is failed at most once, with the deadline that passed.
    func watch(_ exchange: any TransportExchange) {
        exchange.whenConnected { [weak self] in self?.markConnected() }
        let timer = DispatchTimer(queue: Self.queue) { [weak self] in self?.check(exchange) }
        state.withLock { $0.timer = timer }
        timer.schedule(deadline: DispatchTime(uptimeNanoseconds: nearestDeadline().0), leeway: .milliseconds(1))
        timer.resume()
    }

    /// The timer fired: fail the exchange if a deadline has passed, else wait for the nearest one.
    private func check(_ exchange: any TransportExchange) {
        let received = exchange.received
        noteBytes(at: received.lastAt, complete: received.all)
        let (deadline, timeout) = nearestDeadline()
        if DispatchTime.now().uptimeNanoseconds >= deadline {
            stop()
            exchange.fail(timeout)
            return
        }
        rearm()
    }

    /// Moves the timer to the nearest deadline as it is now (a stopped watchdog has no timer to move).
    private func rearm() {
        let (deadline, _) = nearestDeadline()
        state.withLock { $0.timer?.schedule(deadline: DispatchTime(uptimeNanoseconds: deadline), leeway: .milliseconds(1)) }
    }

    func stop() {
        state.withLock { $0.timer.take() }?.cancel()
    }

    func markConnected() {
        let changed = state.withLock { state in
            defer { state.connected = true }
            return !state.connected
        }
        if changed { rearm() }
    }

    /// Bytes arrived from the server (keep-alive comments included) at `time`, as the exchange recorded them when
    /// they arrived; `complete`: the whole response is in, only a slow reader can still be at work, so no limit but
    /// the total applies. Only moves deadlines later, so no re-arming.
    private func noteBytes(at time: UInt64, complete: Bool) {
        state.withLock { state in
            state.lastActivity = max(state.lastActivity, time)
            if complete { state.responseComplete = true }
        }
    }

    /// Something the listener will get: ends the first-token wait (the idle limit takes over).
    func markDelta() {
        let changed = state.withLock { state in
            defer { state.sawDelta = true }
            return !state.sawDelta
        }
        if changed { rearm() }
    }

    /// The answer is complete (`[DONE]`, or a finish_reason and what came with or after it); only the end of the
    /// body is still awaited, briefly. Called again when more of the answer (a usage chunk) arrives.
    func markAnswerComplete() {
        let now = DispatchTime.now().uptimeNanoseconds
        let changed = state.withLock { state in
            defer {
                state.drainingAfterEnd = true
                state.answerCompleteAt = now
            }
            return !state.drainingAfterEnd
        }
        if changed { rearm() }
    }

    private func nearestDeadline() -> (UInt64, ExchangeTimeout) {
        let state = state.withLock { $0 }
        func at(_ base: UInt64, _ seconds: Double) -> UInt64 { base + Nanoseconds.from(seconds: seconds) }
        var candidates: [(UInt64, ExchangeTimeout)] = [(at(start, timeouts.total), ExchangeTimeout(phase: .total, seconds: timeouts.total))]
        if state.responseComplete {
            // Nothing more can come from the server: only the whole-request budget is left.
        } else if state.drainingAfterEnd {
            candidates.append((at(state.answerCompleteAt, Self.drainLimit), ExchangeTimeout(phase: .idle, seconds: Self.drainLimit)))
        } else {
            if !state.connected {
                candidates.append((at(start, timeouts.connect), ExchangeTimeout(phase: .connect, seconds: timeouts.connect)))
            }
            if streaming && !state.sawDelta {
                candidates.append((at(start, timeouts.firstToken), ExchangeTimeout(phase: .firstToken, seconds: timeouts.firstToken)))
            }
            if streaming && state.sawDelta {
                candidates.append((at(state.lastActivity, timeouts.idle), ExchangeTimeout(phase: .idle, seconds: timeouts.idle)))
            }
        }
        return candidates.min { $0.0 < $1.0 }!
    }
}
