import Foundation

/// When to try a failed request again, as the official OpenAI SDKs do: connection failures, 408, 409, 429 and
/// 5xx, with exponential backoff and jitter, honouring Retry-After up to `maxRetryWait`. Never once the client
/// has been sent part of the answer (a repeated sentence is worse than an error).
struct RetryPolicy: Sendable {
    enum Decision: Equatable {
        case retry(afterSeconds: Double)
        case fail
    }

    let settings: RetrySettings
    static let initialBackoff = 0.5
    static let maxBackoff = 8.0

    /// - Parameters:
    ///   - attempt: how many attempts were made so far (1 after the first).
    ///   - retryableStatus: the HTTP status, if the failure had one.
    func decide(_ error: ProviderError, attempt: Int, answerStarted: Bool, connectionFailure: Bool) -> Decision {
        guard !answerStarted, attempt <= settings.maxRetries else { return .fail }
        let statusAllows = error.status.map { [408, 409, 429].contains($0) || (500...599).contains($0) } ?? false
        guard statusAllows || connectionFailure else { return .fail }
        guard error.retryable || connectionFailure else { return .fail }
        if let wait = error.retryAfterSeconds {
            return wait <= settings.maxRetryWait ? .retry(afterSeconds: max(0, wait)) : .fail
        }
        let backoff = min(Self.initialBackoff * pow(2, Double(attempt - 1)), Self.maxBackoff)
        return .retry(afterSeconds: min(backoff * Double.random(in: 0.75...1.0), max(settings.maxRetryWait, 0)))
    }
}
