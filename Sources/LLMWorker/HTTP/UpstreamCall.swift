import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One attempt at an upstream request: starts the exchange under the worker's deadlines, waits for the
/// response head, and reads bodies with a size limit. Failures come out as `ProviderError`s whose `origin` tells
/// the retry policy which ones never reached the server.
struct UpstreamCall: Sendable {
    struct Head: Sendable {
        let status: Int
        let headers: [String: String]

        var isSuccess: Bool { (200..<300).contains(status) }
        var contentType: String { headers["content-type"]?.lowercased() ?? "" }
    }

    /// A non-streamed answer larger than this is refused rather than held in memory.
    static let maxBodyBytes = 32 << 20

    let exchange: any TransportExchange
    let watchdog: ExchangeWatchdog
    /// Its debug lines, when its request logs at `debug`.
    let trace: ExchangeTrace?
    private let provider: ProviderKind
    private let host: String

    /// - Parameter attempt: which attempt of its request this is, for the debug log.
    init(transport: any HTTPTransport, request: URLRequest, timeouts: Timeouts, streaming: Bool, provider: ProviderKind, attempt: Int = 1) {
        exchange = transport.start(request)
        trace = ExchangeTrace.begin(attempt: attempt, request: request, via: transport.kind, exchange: exchange, timeouts: timeouts, streaming: streaming)
        watchdog = ExchangeWatchdog(timeouts: timeouts, streaming: streaming)
        watchdog.watch(exchange)
        self.provider = provider
        host = request.url.map { url in url.port.map { "\(url.host ?? ""):\($0)" } ?? (url.host ?? "the server") } ?? "the server"
    }

    func finish() {
        watchdog.stop()
        trace?.stop()
        exchange.cancel()
    }

    /// Runs `body` with the exchange tied to the calling task: cancelling the task closes the connection at once.
    /// Inside `body`, the exchange's own failures come out as they are (a reader may tell a timeout after the answer
    /// from one before it); what leaves `run` is a `ProviderError` or a `CancellationError`.
    func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        defer { finish() }
        return try await withTaskCancellationHandler {
            do {
                let value = try await body()
                try Task.checkCancellation()
                trace?.end(failure: nil)
                return value
            } catch {
                // What looks like a connection closed early or a truncated body may be the cancel itself.
                if Task.isCancelled {
                    trace?.end(failure: "cancelled")
                    throw CancellationError()
                }
                let translated = translate(error)
                if let trace { trace.end(failure: Self.describeFailure(translated)) }
                throw translated
            }
        } onCancel: {
            exchange.cancel()
        }
    }

    /// The response head.
    func head() async throws -> Head {
        let response = try await exchange.responseHead()
        let head = Head(status: response.status, headers: response.headers)
        trace?.receivedHead(status: head.status, contentType: head.contentType)
        return head
    }

    /// The next bytes of the body, lent to `consume` (see `TransportExchange.readBody`); false at its end.
    func readBody(_ consume: (UnsafeRawBufferPointer) throws -> Void) async throws -> Bool {
        try await exchange.readBody(consume)
    }

    /// The rest of the body, up to `limit` bytes.
    func body(limit: Int = maxBodyBytes) async throws -> Data {
        var data = Data()
        while try await exchange.readBody({ bytes in
            data.append(contentsOf: bytes)
            if data.count > limit {
                throw ProviderError(.invalidResponse, "The server's answer is larger than \(limit >> 20) MiB; it was refused.", provider: provider.rawValue)
            }
        }) {
            trace?.updateBody(bytes: data.count)
        }
        return data
    }

    /// How an attempt failed, for its debug line: the error's kind and message.
    private static func describeFailure(_ error: Error) -> String {
        switch error {
        case let failure as ProviderError:
            return "\(failure.origin == .answer ? "answered with an error" : "failed"): \(failure.kind.rawValue): \(failure.message)"
        case is CancellationError: return "cancelled"
        default: return "failed: \(error)"
        }
    }

    private func translate(_ error: Error) -> Error {
        switch error {
        case is UnansweredRequest:
            return ProviderError(.connection, "The connection to \(host) closed before any response.", provider: provider.rawValue)
                .withOrigin(.unanswered)
        case let timeout as ExchangeTimeout:
            return ProviderError(.timeout, timeout.message, provider: provider.rawValue)
                .withOrigin(timeout.phase == .connect ? .connection : .server)
        case is CancellationError, is ProviderError:
            return error
        case let urlError as URLError where urlError.code == .cancelled:
            return CancellationError()
        case let failure as TransportError:
            return translate(failure)
        case let urlError as URLError where exchange.receivedResponseBytes && Self.isBrokenBodyFraming(urlError):
            // The server answered, but its body is not what its headers promise: the same request would get the same.
            return ProviderError(.invalidResponse, "The server's answer could not be read: \(urlError.localizedDescription) (the body does not match its Content-Encoding or chunked framing).", provider: provider.rawValue)
        case let urlError as URLError:
            return ProviderError(.connection, "Could not reach \(host): \(Self.describe(urlError))", provider: provider.rawValue)
                .withOrigin(.connection)
        default:
            return ProviderError(.connection, "The connection to \(host) failed: \(error.localizedDescription)", provider: provider.rawValue)
                .withOrigin(.connection)
        }
    }

    private func translate(_ failure: TransportError) -> ProviderError {
        let kind = provider.rawValue
        switch failure.kind {
        case .invalidRequest:
            return ProviderError(.badRequest, "The request could not be sent: \(failure.message)", provider: kind)
        case .cannotResolve:
            return ProviderError(.connection, "Could not reach \(host): the host name could not be resolved (\(failure.message)). Check base_url.", provider: kind)
                .withOrigin(.connection)
        case .cannotConnect:
            return ProviderError(.connection, "Could not reach \(host): \(failure.message) Is the server running, and is base_url right?", provider: kind)
                .withOrigin(.connection)
        case .connectionLost where !failure.afterResponseBytes:
            return ProviderError(.connection, "The connection to \(host) closed before any response.", provider: kind)
                .withOrigin(.connection)
        case .connectionLost:
            return ProviderError(.connection, "The connection to \(host) was lost during the response: \(failure.message)", provider: kind)
                .withOrigin(.connection)
        case .malformedResponse where failure.notHTTP:
            return ProviderError(.connection, "Could not reach \(host): what answered is not an HTTP server the worker can read (\(failure.message)) Is base_url the model server's address?", provider: kind)
                .withOrigin(.connection)
        case .malformedResponse:
            // The server answered, but not in HTTP the worker can read: the same request would get the same.
            return ProviderError(.invalidResponse, "The server's answer could not be read: \(failure.message)", provider: kind)
        }
    }

    /// A failure of the connection itself (dropped, or a broken end of the body), as opposed to a deadline or a cancel.
    static func isDroppedConnection(_ error: Error) -> Bool {
        switch error {
        case let urlError as URLError: return urlError.code != .cancelled
        case let failure as TransportError: return failure.kind == .connectionLost || failure.kind == .malformedResponse
        default: return false
        }
    }

    /// libcurl's failures to decode a body (a Content-Encoding that is not what it says, broken chunked framing)
    /// reach URLSession on Linux as `.unknown` with libcurl's own text: that text is all there is to go by.
    static func isBrokenBodyFraming(_ error: URLError) -> Bool {
        guard error.code == .unknown else { return false }
        let text = error.localizedDescription.lowercased()
        return ["unencoding", "content encoding", "chunked-encoding", "chunk hex-length", "chunk size"].contains { text.contains($0) }
    }

    private static func describe(_ error: URLError) -> String {
        switch error.code {
        case .cannotConnectToHost: return "connection refused. Is the server running, and is base_url right?"
        case .cannotFindHost, .dnsLookupFailed: return "the host name could not be resolved. Check base_url."
        case .networkConnectionLost: return "the connection was lost."
        case .timedOut: return "the connection timed out."
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate, .serverCertificateNotYetValid:
            return "the TLS handshake failed. Check the https address and the server's certificate."
        case .notConnectedToInternet: return "there is no network."
        case .badServerResponse: return "the server sent a malformed HTTP response."
        default: return error.localizedDescription
        }
    }
}

/// The kept-alive connection a request went out on closed before any byte of the response: a server restarting, a
/// proxy, or an idle timeout that raced the request. The server never answered, so sending the request again is safe.
struct UnansweredRequest: Error, Sendable {}
