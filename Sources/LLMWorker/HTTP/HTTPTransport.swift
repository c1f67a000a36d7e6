import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// How the worker makes an HTTP request, whichever implementation carries it: URLSession (any URL, TLS, proxies)
/// or the worker's own HTTP/1.1 over sockets (`SocketTransport`, plain `http://` without a proxy).
///
/// Design:
/// - `start` never blocks and never fails by itself: every failure (a bad URL included) comes out of the
///   exchange, like a URLSession task's. Timeouts are the caller's (`ExchangeWatchdog` calls `fail`), so both
///   implementations keep the worker's deadlines exactly as they are.
/// - The consumer pulls: `responseHead()` once, then `readBody` until it returns false. `readBody` lends the
///   bytes of one or more network reads (never one call per SSE event) for the duration of the closure, so an SSE
///   parser reads them where the socket put them; the socket transport reads nothing more from that connection
///   until the closure has returned, which bounds memory by construction (a slow consumer leaves the bytes in the
///   kernel and the server's writes block).
/// - `whenConnected`, `received` and `fail` are what the watchdog needs; `receivedResponseBytes` is what the
///   retry policy needs (a request that failed before any response byte was not answered and may be sent again).
/// - `preconnect` opens a connection ahead of a request (the user is still speaking); best effort, silent.
protocol HTTPTransport: Sendable {
    var kind: TransportKind { get }
    func start(_ request: URLRequest) -> any TransportExchange
    func preconnect(to url: URL)
}

/// One request in flight. One consumer reads it; `fail`, `cancel` and the observers may be called from anywhere.
protocol TransportExchange: AnyObject, Sendable {
    /// The final response head (interim 1xx responses are skipped). Throws the exchange's failure.
    func responseHead() async throws -> TransportResponseHead

    /// Waits for body bytes and lends them to `consume`; they are valid only during the call. Returns false at the
    /// end of the body (nothing lent). Throws the exchange's failure, after lending any bytes that preceded it.
    func readBody(_ consume: (UnsafeRawBufferPointer) throws -> Void) async throws -> Bool

    /// Ends the exchange with `error` and closes its connection; later events are dropped. Idempotent.
    func fail(_ error: Error)

    /// `fail(CancellationError())`.
    func cancel()

    /// Runs `action` once the connection is known to be up (request sent, or any response byte).
    func whenConnected(_ action: @escaping @Sendable () -> Void)

    /// Runs `action` (at once if it already happened) with the reason when the transport sent the request again by
    /// itself, on a new connection, because the kept-alive one it went out on died before any byte of a response.
    func whenResent(_ action: @escaping @Sendable (String) -> Void)

    /// When bytes last came from the server (uptime ns; 0: none yet), and whether the whole response is in.
    var received: (lastAt: UInt64, all: Bool) { get }

    /// Whether any byte of a response (an interim one included) arrived.
    var receivedResponseBytes: Bool { get }

    /// Whether the request went out on a connection that had carried another one; nil when the transport cannot tell.
    var reusedConnection: Bool? { get }
}

extension TransportExchange {
    func cancel() { fail(CancellationError()) }

    var reusedConnection: Bool? { nil }

    /// URLSession never resends on its own (`HTTPClient` turns libcurl's attempt into an `UnansweredRequest`).
    func whenResent(_ action: @escaping @Sendable (String) -> Void) {}
}

/// The response head as the engine uses it: status and lower-cased header names (repeats joined with ", ").
struct TransportResponseHead: Sendable, Equatable {
    let status: Int
    let headers: [String: String]
}

/// A failure of the socket transport, by what it means to the caller.
struct TransportError: LocalizedError, Sendable, Equatable, CustomStringConvertible {
    enum Kind: Sendable, Equatable {
        /// The request cannot be sent as it is (not `http://`, a header with a line break, …): the worker's fault.
        case invalidRequest
        /// The host name could not be resolved (or not in time).
        case cannotResolve
        /// No connection could be made (refused, unreachable, timed out).
        case cannotConnect
        /// The connection failed or closed before the response was complete.
        case connectionLost
        /// The server's response is not valid HTTP/1.x, exceeds a limit, or uses a coding the worker did not ask for.
        case malformedResponse
    }

    let kind: Kind
    let message: String
    /// Some byte of a response had arrived when it failed (the request was answered, at least in part).
    let afterResponseBytes: Bool
    /// What answered does not speak HTTP/1.x at all (a `.malformedResponse` from its first line).
    var notHTTP = false

    init(_ kind: Kind, _ message: String, afterResponseBytes: Bool = false) {
        self.kind = kind
        self.message = message
        self.afterResponseBytes = afterResponseBytes
    }

    init(_ error: HTTPResponseError) {
        switch error.kind {
        case .malformed:
            self.init(.malformedResponse, error.message, afterResponseBytes: true)
            notHTTP = error.notHTTP
        case .closedBeforeResponse: self.init(.connectionLost, error.message, afterResponseBytes: false)
        case .closedDuringResponse: self.init(.connectionLost, error.message, afterResponseBytes: true)
        }
    }

    var description: String { message }
    var errorDescription: String? { message }
}
