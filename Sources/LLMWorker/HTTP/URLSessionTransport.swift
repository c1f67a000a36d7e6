import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The URLSession path behind the transport interface: `HTTPClient` and `HTTPExchange` exactly as they are, each
/// `.body` event lent to the consumer as it comes (HTTPExchange already hands over together what arrived while the
/// consumer was busy). URLSession reads ahead without limit; there is no back-pressure on this path.
struct URLSessionTransport: HTTPTransport {
    let client: HTTPClient
    var kind: TransportKind { .urlsession }

    func start(_ request: URLRequest) -> any TransportExchange {
        URLSessionTransportExchange(client.start(request))
    }

    /// URLSession opens connections only for requests.
    func preconnect(to url: URL) {}
}

/// Thread safety: `events` and `sawHead` are read and written only while holding `lock`; the consumer's calls
/// come one at a time (one consumer per exchange), so the iterator is never used by two callers at once. Not
/// `Locked`: the iterator (`AsyncThrowingStream`'s) is not `Sendable`, so only that one-consumer rule makes it safe.
final class URLSessionTransportExchange: TransportExchange, @unchecked Sendable {
    private let exchange: HTTPExchange
    private let lock = NSLock()
    private var events: HTTPExchange.Events?
    private var sawHead = false

    init(_ exchange: HTTPExchange) {
        self.exchange = exchange
        events = exchange.makeEvents()
    }

    func responseHead() async throws -> TransportResponseHead {
        while let event = try await nextEvent() {
            if case .response(let status, let headers) = event {
                lock.withLock { sawHead = true }
                return TransportResponseHead(status: status, headers: headers)
            }
        }
        throw TransportError(.connectionLost, "The connection closed before any response.")
    }

    func readBody(_ consume: (UnsafeRawBufferPointer) throws -> Void) async throws -> Bool {
        while let event = try await nextEvent() {
            if case .body(let data) = event {
                try data.withUnsafeBytes(consume)
                return true
            }
        }
        return false
    }

    private func nextEvent() async throws -> HTTPExchange.Event? {
        guard var iterator = lock.withLock({ events.take() }) else { return nil }
        defer { lock.withLock { events = iterator } }
        return try await withTaskCancellationHandler {
            try await iterator.next()
        } onCancel: {
            exchange.cancel()
        }
    }

    func fail(_ error: Error) { exchange.fail(error) }

    func whenConnected(_ action: @escaping @Sendable () -> Void) { exchange.whenConnected(action) }

    var received: (lastAt: UInt64, all: Bool) { exchange.received }

    var receivedResponseBytes: Bool { lock.withLock { sawHead } || exchange.received.lastAt != 0 }
}
