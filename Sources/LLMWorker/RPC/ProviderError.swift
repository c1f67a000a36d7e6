import Foundation

/// A failure of a provider call, carrying everything `error.data` promises the client.
public struct ProviderError: Error, Sendable, Equatable {
    public var kind: ErrorKind
    public var message: String
    public var status: Int?
    public var retryable: Bool
    public var retryAfterSeconds: Double?
    public var upstreamMessage: String?
    public var provider: String?
    public var attempts: Int?
    /// What the client had already been given (or would have been) when the request failed.
    public var partialContent: String?
    public var partialToolCalls: [ToolCall]?
    /// Where the attempt failed, for the retry decision; never part of what the client is told.
    var origin = FailureOrigin.server

    public init(_ kind: ErrorKind, _ message: String, status: Int? = nil, retryable: Bool? = nil,
                retryAfterSeconds: Double? = nil, upstreamMessage: String? = nil, provider: String? = nil) {
        self.kind = kind
        self.message = message
        self.status = status
        self.retryable = retryable ?? kind.isRetryable
        self.retryAfterSeconds = retryAfterSeconds
        self.upstreamMessage = upstreamMessage
        self.provider = provider
    }

    /// The same error, failed at `origin`.
    func withOrigin(_ origin: FailureOrigin) -> ProviderError {
        var error = self
        error.origin = origin
        return error
    }

    public static func cancelled() -> ProviderError {
        ProviderError(.cancelled, "Request cancelled")
    }

    /// Any failure of a provider call as a provider error, naming `provider` when it names none: the one place a
    /// cancellation becomes kind `cancelled`, and what no provider expected becomes `upstream_error`.
    init(_ error: any Error, provider: ProviderKind?) {
        switch error {
        case let failure as ProviderError: self = failure
        case is CancellationError: self = .cancelled()
        default: self = ProviderError(.upstreamError, "Unexpected failure: \(error)")
        }
        if self.provider == nil { self.provider = provider?.rawValue }
    }

    public var rpcError: RPCError {
        var data: [String: JSONValue] = [
            "kind": .string(kind.rawValue),
            "status": status.map { .int(Int64($0)) } ?? .null,
            "retryable": .bool(retryable),
            "provider": provider.map { .string($0) } ?? .null,
        ]
        if let retryAfterSeconds { data["retry_after_s"] = .double(retryAfterSeconds) }
        if let upstreamMessage { data["upstream_message"] = .string(upstreamMessage) }
        if let attempts { data["attempts"] = .int(Int64(attempts)) }
        if partialContent != nil || partialToolCalls != nil {
            data["partial_content"] = .string(partialContent ?? "")
            data["partial_tool_calls"] = .array((partialToolCalls ?? []).map(\.jsonValue))
        }
        return RPCError(code: kind.code, message: message, data: .object(data))
    }
}

/// Where a failed attempt failed, which decides whether sending the request again can help.
enum FailureOrigin: Sendable, Equatable {
    /// The server was reached: its HTTP status (or a timeout after connecting) says whether to try again.
    case server
    /// The server was never reached (refused, reset, lost, connect timeout): retried like the SDKs retry connection errors.
    case connection
    /// The request went out on a kept-alive connection that closed before any byte of the response: the server never
    /// answered, so the same request can go out again at once, on a new connection.
    case unanswered
    /// The server's answer itself is an error (inside a 2xx body or a stream): it did take the request, so this is final.
    case answer
}

extension ToolCall {
    var jsonValue: JSONValue {
        .object(["id": .string(id), "name": .string(name), "arguments": .object(arguments),
                 "arguments_raw": .string(argumentsRaw)])
    }
}
