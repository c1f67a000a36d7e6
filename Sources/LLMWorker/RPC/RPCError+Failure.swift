import Foundation

extension RPCError {
    /// Any error a request ends with, as the JSON-RPC error of its answer: the one place errors become JSON-RPC.
    /// A server may echo the key back in its error text, so neither copy of that text (message, upstream_message)
    /// may carry it. `unexpected` hears of an error no layer meant to throw (it becomes -32603, kind `internal`).
    init(_ error: any Error, redactor: Redactor, unexpected: (any Error) -> Void = { _ in }) {
        switch error {
        case let rpc as RPCError:
            self = rpc
        case let invalid as InvalidParams:
            self = invalid.rpcError
        case is ProviderError, is CancellationError:
            var failure = ProviderError(error, provider: nil)
            failure.message = redactor.scrub(failure.message)
            failure.upstreamMessage = failure.upstreamMessage.map(redactor.scrub)
            self = failure.rpcError
        default:
            unexpected(error)
            self = .internalError(redactor.scrub(String(describing: error)))
        }
    }
}
