import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The debug lines of one upstream attempt, under its request's tag: what was sent where, the response head and how
/// long it took, the first keep-alive comment, a "still waiting" line whenever the answer makes no progress for a
/// while (what explains a hang), and how the attempt ended with what it received. Exists only at `debug`.
final class ExchangeTrace: Sendable {
    /// What came from the server: one attempt's, or a request's summed over its attempts (`RequestTally`).
    struct Received: Sendable, CustomStringConvertible {
        var bytes = 0
        var events = 0
        var comments = 0
        var deltas = 0

        mutating func add(_ other: Received) {
            bytes += other.bytes
            events += other.events
            comments += other.comments
            deltas += other.deltas
        }

        var description: String { "\(bytes) bytes, \(events) events, \(comments) keep-alive comments" }
    }

    private let log: RequestLog
    private let attempt: Int
    private let exchange: any TransportExchange
    private let timeouts: Timeouts
    private let streaming: Bool
    private let start = DispatchTime.now().uptimeNanoseconds
    private struct State {
        var received = Received()
        var headSeen = false
        var ended = false
        var ending: String?
        var lastDeltaAt: UInt64 = 0
        /// The deltas of a stream, or the bytes of a whole answer, at the last tick: no change, no progress.
        var progressAtLastTick = 0
        var timer: DispatchTimer?
    }

    private let state = Locked(State())

    /// The longest the worker stays quiet about an attempt that makes no progress.
    static let maxWaitingInterval = 5.0

    /// A trace for an attempt made by the request running in this task, if it logs at `debug`; logs its first line.
    static func begin(attempt: Int, request: URLRequest, via transport: TransportKind, exchange: any TransportExchange, timeouts: Timeouts, streaming: Bool) -> ExchangeTrace? {
        guard let log = RequestLog.current, log.isDebug else { return nil }
        let trace = ExchangeTrace(log: log, attempt: attempt, exchange: exchange, timeouts: timeouts, streaming: streaming)
        let what = streaming ? "stream" : "whole answer"
        log.debug("attempt \(attempt): \(request.httpMethod ?? "GET") \(request.url?.absoluteString ?? "?") (\(what), \(transport.rawValue))")
        log.tally?.update { $0.attempts += 1 }
        exchange.whenResent { reason in
            log.debug("attempt \(attempt): \(reason) The request is sent again on a new connection.")
        }
        trace.startWaitingReports()
        return trace
    }

    private init(log: RequestLog, attempt: Int, exchange: any TransportExchange, timeouts: Timeouts, streaming: Bool) {
        self.log = log
        self.attempt = attempt
        self.exchange = exchange
        self.timeouts = timeouts
        self.streaming = streaming
    }

    /// How often an attempt without progress is reported: every 5 s, or more often when a limit is shorter (a third
    /// of it), so that a line comes before the limit ends the attempt.
    var waitingInterval: Double {
        let limit = streaming ? min(timeouts.firstToken, timeouts.idle, timeouts.total) : timeouts.total
        return min(Self.maxWaitingInterval, max(0.05, limit / 3))
    }

    private var elapsedMs: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 }

    func receivedHead(status: Int, contentType: String) {
        state.withLock { $0.headSeen = true }
        log.debug(String(format: "attempt %d: HTTP %d (%@) after %.1f ms", attempt, status, contentType.isEmpty ? "no content type" : contentType, elapsedMs))
    }

    /// What the reader has taken so far (totals); the first keep-alive comment is logged, the others only counted.
    func update(_ now: Received) {
        let firstComment = state.withLock { state in
            let first = state.received.comments == 0 && now.comments > 0
            if now.deltas > state.received.deltas { state.lastDeltaAt = DispatchTime.now().uptimeNanoseconds }
            state.received = now
            return first
        }
        if firstComment {
            log.debug(String(format: "attempt %d: keep-alive comment after %.1f ms (the server is there; later ones are only counted)", attempt, elapsedMs))
        }
    }

    /// Bytes of a body read whole.
    func updateBody(bytes: Int) {
        state.withLock { $0.received.bytes = bytes }
    }

    /// Why the stream ended, when it ended without an error: `[DONE]`, the end of the body…
    func noteEnding(_ reason: String) {
        state.withLock { $0.ending = reason }
    }

    /// The attempt is over: `failure` is nil when it brought its answer.
    func end(failure: String?) {
        let (first, totals, ending) = state.withLock { state in
            let first = !state.ended
            state.ended = true
            return (first, state.received, state.ending)
        }
        stop()
        guard first else { return }
        log.tally?.update { $0.upstream.add(totals) }
        let how = failure ?? "answered" + (ending.map { " (\($0))" } ?? "")
        log.debug(String(format: "attempt %d: %@ after %.1f ms; received %@", attempt, how, elapsedMs, Self.describe(totals, streaming: streaming)))
    }

    func stop() {
        state.withLock { $0.timer.take() }?.cancel()
    }

    private static func describe(_ received: Received, streaming: Bool) -> String {
        streaming ? received.description : "\(received.bytes) bytes"
    }

    private static let queue = DispatchQueue(label: "exchange-trace")

    private func startWaitingReports() {
        let interval = waitingInterval
        let timer = DispatchTimer(queue: Self.queue) { [weak self] in self?.reportIfWaiting() }
        timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(10))
        state.withLock { $0.timer = timer }
        timer.resume()
    }

    /// At each tick: a line if the answer made no progress since the previous one (no delta in a stream, no byte
    /// of a whole answer), saying what the attempt waits for and what came so far.
    private func reportIfWaiting() {
        let now = DispatchTime.now().uptimeNanoseconds
        let lastByteAt = exchange.received.lastAt
        let (report, counts, headSeen, lastDeltaAt) = state.withLock { state in
            let progress = streaming ? state.received.deltas : state.received.bytes
            let report = !state.ended && progress == state.progressAtLastTick
            state.progressAtLastTick = progress
            return (report, state.received, state.headSeen, state.lastDeltaAt)
        }
        guard report else { return }
        func seconds(since time: UInt64) -> String { String(format: "%.1f s", Double(now - time) / 1e9) }
        var state: String
        if !headSeen {
            state = "no response head yet (connect_timeout_s \(Self.format(timeouts.connect)), timeout_s \(Self.format(timeouts.total)))"
        } else if !streaming {
            state = "the answer is not complete (timeout_s \(Self.format(timeouts.total)))"
        } else if lastDeltaAt == 0 {
            state = "no delta yet (first_token_timeout_s \(Self.format(timeouts.firstToken)))"
        } else {
            state = "no delta for \(seconds(since: lastDeltaAt)) (idle_timeout_s \(Self.format(timeouts.idle)))"
        }
        state += lastByteAt == 0 ? "; no byte received yet" : "; last byte \(seconds(since: lastByteAt)) ago, \(Self.describe(counts, streaming: streaming)) so far"
        log.debug("attempt \(attempt): still waiting, \(seconds(since: start)) in: \(state)")
    }

    private static func format(_ seconds: Double) -> String { String(format: "%g s", seconds) }
}
