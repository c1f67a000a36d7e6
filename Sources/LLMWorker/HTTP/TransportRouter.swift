import Foundation

/// The two transports the providers share, one of each per worker, and which one carries a request: the one its
/// settings chose (`ResolvedSettings.effectiveTransport`). The socket transport's event thread starts only when a
/// request first needs it, so a worker that only speaks to `https://` never has one.
final class TransportRouter: Sendable {
    let urlSession: URLSessionTransport
    private let socket = LazySocketTransport()

    init(client: HTTPClient = HTTPClient()) {
        urlSession = URLSessionTransport(client: client)
    }

    func transport(for settings: ResolvedSettings) -> any HTTPTransport {
        switch settings.effectiveTransport {
        case .socket?: return socket.transport
        case .urlsession?, nil: return urlSession
        }
    }

    /// Gets the chosen transport ready in the background (URLSession's set-up takes milliseconds; the socket
    /// transport's thread is cheap to start but still better started before the first request).
    func warmUp(for settings: ResolvedSettings) {
        switch settings.effectiveTransport {
        case .socket?: _ = socket.transport
        case .urlsession?, nil: urlSession.client.warmUp()
        }
    }
}

/// The socket transport, made on first use. Lock invariant: `made` is read and written only under `lock`.
private final class LazySocketTransport: @unchecked Sendable {
    private let lock = NSLock()
    private var made: SocketTransport?

    var transport: SocketTransport {
        lock.withLock {
            if let made { return made }
            let transport = SocketTransport()
            made = transport
            return transport
        }
    }
}
