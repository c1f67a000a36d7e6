/// The `error.data.kind` of a provider failure, and the JSON-RPC code each kind is sent with.
public enum ErrorKind: String, Sendable, CaseIterable {
    case auth
    case rateLimited = "rate_limited"
    case insufficientCredits = "insufficient_credits"
    case contentBlocked = "content_blocked"
    case notFound = "not_found"
    case badRequest = "bad_request"
    case contextLength = "context_length"
    case upstreamError = "upstream_error"
    case unavailable
    case invalidResponse = "invalid_response"
    case timeout
    case connection
    case notConfigured = "not_configured"
    case cancelled

    public var code: Int {
        switch self {
        case .auth: return -32001
        case .rateLimited: return -32002
        case .insufficientCredits: return -32003
        case .contentBlocked: return -32004
        case .notFound: return -32005
        case .badRequest, .contextLength: return -32006
        case .upstreamError, .unavailable, .invalidResponse: return -32007
        case .timeout: return -32008
        case .connection: return -32009
        case .notConfigured: return -32010
        case .cancelled: return -32800
        }
    }

    /// Whether trying the same request again later may succeed; told to the client as `retryable`.
    public var isRetryable: Bool {
        switch self {
        case .rateLimited, .upstreamError, .unavailable, .timeout, .connection: return true
        default: return false
        }
    }
}
