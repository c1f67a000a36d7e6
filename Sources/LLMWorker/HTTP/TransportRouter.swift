import Foundation

/// The two transports the providers share, one of each per worker, and which one carries a request: the one its
/// settings chose (`ResolvedSettings.effectiveTransport`). The socket transport's event thread starts only when a
/// request first needs it, so a worker that only speaks to `https://` never has one.
final class TransportRouter: Sendable {
    let urlSession: URLSessionTransport
    /// Made on first use.
    private let madeSocket = Locked<SocketTransport?>(nil)

    init(client: HTTPClient = HTTPClient()) {
        urlSession = URLSessionTransport(client: client)
    }

    func transport(for settings: ResolvedSettings) -> any HTTPTransport {
        switch settings.effectiveTransport {
        case .socket?: return socket
        case .urlsession?, nil: return urlSession
        }
    }

    /// Gets the chosen transport ready in the background (URLSession's set-up takes milliseconds; the socket
    /// transport's thread is cheap to start but still better started before the first request).
    func warmUp(for settings: ResolvedSettings) {
        switch settings.effectiveTransport {
        case .socket?: _ = socket
        case .urlsession?, nil: urlSession.client.warmUp()
        }
    }

    private var socket: SocketTransport {
        madeSocket.storedOrMade { SocketTransport() }
    }
}
