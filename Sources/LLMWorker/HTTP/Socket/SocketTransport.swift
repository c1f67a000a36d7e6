import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The worker's own HTTP/1.1 client, for `http://` servers reached directly (the local and LAN model servers):
/// non-blocking sockets on one event thread, a keep-alive pool per server, responses read straight into the
/// consumer's parser with back-pressure. `carries(_:)` says which requests it takes; the rest (TLS, proxies) stay
/// on URLSession.
final class SocketTransport: HTTPTransport, Sendable {
    private let loop: EventLoop<SocketEngine>
    /// The last exchange id given.
    private let lastID = Locked(0)
    var kind: TransportKind { .socket }

    init(configuration: SocketEngine.Configuration = .init()) {
        loop = EventLoop(name: "http-socket-loop") { context, loop in
            SocketEngine(context: context, loop: loop, configuration: configuration)
        }
    }

    deinit { loop.stop() }

    /// Whether this transport carries `url`: plain `http://`, and no proxy applies (a proxied request goes to
    /// URLSession, which speaks to proxies).
    static func carries(_ url: URL, proxies: ProxyEnvironment = ProxyEnvironment()) -> Bool {
        url.scheme?.lowercased() == "http" && proxies.proxy(for: url) == nil
    }

    func start(_ request: URLRequest) -> any TransportExchange {
        let exchange = SocketExchange(id: lastID.withLock { $0 += 1; return $0 }, loop: loop)
        do {
            let prepared = try HTTPRequestWriter.prepare(request)
            loop.execute { engine in engine.start(exchange, prepared) }
        } catch {
            exchange.transportFailed(error)
        }
        return exchange
    }

    func preconnect(to url: URL) {
        guard let endpoint = try? HTTPRequestWriter.prepare(URLRequest(url: url)).endpoint else { return }
        loop.execute { engine in engine.preconnect(endpoint) }
    }

    /// Closes every connection and ends the event thread; requests in flight fail. For tests and shutdown.
    func shutdown() {
        loop.stopAndWait()
    }

    /// How many connections to `url`'s server are idle in the pool (after the work posted before this call).
    func idleConnectionCount(_ url: URL) async -> Int {
        guard let endpoint = try? HTTPRequestWriter.prepare(URLRequest(url: url)).endpoint else { return 0 }
        return await withCheckedContinuation { continuation in
            let posted = loop.execute { engine in continuation.resume(returning: engine.idleCount(endpoint)) }
            if !posted { continuation.resume(returning: 0) }
        }
    }
}
