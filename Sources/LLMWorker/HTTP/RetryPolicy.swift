import Foundation

/// When to try a failed request again, as the official OpenAI SDKs do: connection failures, 408, 409, 429 and
/// 5xx, with exponential backoff and jitter, honouring Retry-After up to `maxRetryWait`. Never once the client
/// has been sent part of the answer (a repeated sentence is worse than an error), and never past `timeout_s`,
/// which bounds the whole request, retries and waits included.
struct RetryPolicy: Sendable {
    enum Decision: Equatable {
        /// The same attempt goes out again at once (an unanswered request on a reused connection).
        case resendNow
        case retry(afterSeconds: Double)
        /// `reportingAttempts`: how many attempts the error reports, nil when that says nothing.
        case fail(reportingAttempts: Int?)
    }

    /// One attempt's number and its share of the request's time budget.
    struct Attempt: Sendable {
        let number: Int
        let policy: RetryPolicy
        let clock: RequestClock

        /// The attempt's limits, its total being what is left of the request's budget now.
        var timeouts: Timeouts { policy.timeouts(elapsedSeconds: clock.elapsedMs / 1000) }
    }

    let settings: RetrySettings
    /// The request's limits; `total` is its whole time budget.
    let requestTimeouts: Timeouts
    static let initialBackoff = 0.5
    static let maxBackoff = 8.0

    init(_ settings: RetrySettings, timeouts: Timeouts) {
        self.settings = settings
        requestTimeouts = timeouts
    }

    /// The limits of an attempt that starts `elapsedSeconds` into the request.
    func timeouts(elapsedSeconds: Double) -> Timeouts {
        var timeouts = requestTimeouts
        timeouts.total = max(0.001, requestTimeouts.total - elapsedSeconds)
        return timeouts
    }

    /// - Parameters:
    ///   - error: how the attempt failed, and where (`origin`).
    ///   - attempt: how many attempts were made so far (1 after the first); a resend does not count as one.
    ///   - answerStarted: part of the answer has reached the client.
    ///   - alreadyResent: this request was already resent at once after going unanswered.
    ///   - elapsedSeconds: how long the request has taken so far.
    func decide(_ error: ProviderError, attempt: Int, answerStarted: Bool, alreadyResent: Bool, elapsedSeconds: Double) -> Decision {
        let origin = error.origin
        let fail = Decision.fail(reportingAttempts: attempt > 1 && origin != .answer ? attempt : nil)
        guard origin != .answer, !answerStarted else { return fail }
        if origin == .unanswered, !alreadyResent { return .resendNow }
        guard attempt <= settings.maxRetries else { return fail }
        let connectionFailure = origin == .connection || origin == .unanswered
        let statusAllows = error.status.map { [408, 409, 429].contains($0) || (500...599).contains($0) } ?? false
        guard connectionFailure || (statusAllows && error.retryable) else { return fail }
        let wait: Double
        if let retryAfter = error.retryAfterSeconds {
            guard retryAfter <= settings.maxRetryWait else { return fail }
            wait = max(0, retryAfter)
        } else {
            let backoff = min(Self.initialBackoff * pow(2, Double(attempt - 1)), Self.maxBackoff)
            wait = min(backoff * Double.random(in: 0.75...1.0), max(settings.maxRetryWait, 0))
        }
        return elapsedSeconds + wait >= requestTimeouts.total ? fail : .retry(afterSeconds: wait)
    }
}
