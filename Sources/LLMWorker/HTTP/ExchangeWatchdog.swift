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
/// nor anything like a first-token limit. One task sleeps until the nearest deadline; activity only moves
/// timestamps, so a busy stream costs no timer churn. The few changes that can bring the nearest deadline
/// earlier (connected, first delta, answer complete) re-arm the timer, which would otherwise sleep on until
/// the deadline it computed before (an idle or drain limit shorter than the connect limit would fire late).
final class ExchangeWatchdog: @unchecked Sendable {
    private let lock = NSLock()
    private let start = DispatchTime.now().uptimeNanoseconds
    private var connected = false
    private var sawDelta = false
    private var lastActivity: UInt64
    private var drainingAfterEnd = false
    private var stopped = false
    private var exchange: HTTPExchange?
    private var timer: Task<Void, Never>?
    private let timeouts: Timeouts
    private let streaming: Bool

    /// How long a server may take to close a stream after `[DONE]` before the worker stops waiting.
    static let drainLimit = 1.0

    init(timeouts: Timeouts, streaming: Bool) {
        self.timeouts = timeouts
        self.streaming = streaming
        lastActivity = start
    }

    /// Starts watching; the exchange is failed at most once, with the deadline that passed.
    func watch(_ exchange: HTTPExchange) {
        lock.lock()
        self.exchange = exchange
        lock.unlock()
        exchange.whenConnected { [weak self] in self?.markConnected() }
        rearm()
    }

    func stop() {
        lock.lock()
        stopped = true
        timer?.cancel()
        timer = nil
        exchange = nil
        lock.unlock()
    }

    /// Replaces the sleeping timer with one that sleeps until the nearest deadline as it is now.
    private func rearm() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped, let exchange else { return }
        timer?.cancel()
        timer = Task { [weak self] in
            while let self, !Task.isCancelled {
                let now = DispatchTime.now().uptimeNanoseconds
                let (deadline, timeout) = self.nearestDeadline()
                if now >= deadline {
                    exchange.fail(timeout)
                    return
                }
                try? await Task.sleep(nanoseconds: deadline - now)
            }
        }
    }

    func markConnected() {
        lock.lock()
        let changed = !connected
        connected = true
        lock.unlock()
        if changed { rearm() }
    }

    /// Any bytes from the server, keep-alive comments included. Only moves a deadline later: no re-arming.
    func markActivity() {
        let now = DispatchTime.now().uptimeNanoseconds
        lock.lock()
        lastActivity = now
        lock.unlock()
    }

    /// Something the listener will get: ends the first-token wait (the idle limit takes over).
    func markDelta() {
        lock.lock()
        let changed = !sawDelta
        sawDelta = true
        lock.unlock()
        if changed { rearm() }
    }

    /// The answer is complete (`[DONE]`); only the end of the body is still awaited, briefly.
    func markAnswerComplete() {
        let now = DispatchTime.now().uptimeNanoseconds
        lock.lock()
        let changed = !drainingAfterEnd
        drainingAfterEnd = true
        lastActivity = now
        lock.unlock()
        if changed { rearm() }
    }

    private func nearestDeadline() -> (UInt64, ExchangeTimeout) {
        lock.lock()
        defer { lock.unlock() }
        func at(_ base: UInt64, _ seconds: Double) -> UInt64 { base + Nanoseconds.from(seconds: seconds) }
        var candidates: [(UInt64, ExchangeTimeout)] = [(at(start, timeouts.total), ExchangeTimeout(phase: .total, seconds: timeouts.total))]
        if drainingAfterEnd {
            candidates.append((at(lastActivity, Self.drainLimit), ExchangeTimeout(phase: .idle, seconds: Self.drainLimit)))
        } else {
            if !connected {
                candidates.append((at(start, timeouts.connect), ExchangeTimeout(phase: .connect, seconds: timeouts.connect)))
            }
            if streaming && !sawDelta {
                candidates.append((at(start, timeouts.firstToken), ExchangeTimeout(phase: .firstToken, seconds: timeouts.firstToken)))
            }
            if streaming && sawDelta {
                candidates.append((at(lastActivity, timeouts.idle), ExchangeTimeout(phase: .idle, seconds: timeouts.idle)))
            }
        }
        return candidates.min { $0.0 < $1.0 }!
    }
}
