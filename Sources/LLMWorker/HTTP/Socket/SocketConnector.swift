import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Opens one TCP connection on the loop thread: tries the addresses in order (IPv6 and IPv4 as the resolver gave
/// them) until one accepts, all within one deadline. Reports exactly once, unless cancelled first.
final class SocketConnector {
    typealias Completion = (Result<SocketConnection, TransportError>) -> Void

    private let endpoint: HTTPEndpoint
    private let context: LoopContext
    private var completion: Completion?
    private var addresses: [SocketAddress] = []
    private var next = 0
    private var fd: Int32 = -1
    private var deadline: LoopContext.TimerToken?
    private var failures: [String] = []
    /// Every address tried refused the connection (nothing listens there).
    private var allRefused = true

    init(endpoint: HTTPEndpoint, context: LoopContext, timeout: TimeInterval, completion: @escaping Completion) {
        self.endpoint = endpoint
        self.context = context
        self.completion = completion
        deadline = context.schedule(after: timeout) { [weak self] in
            self?.finish(.failure(TransportError(.cannotConnect, "the connection timed out (\(String(format: "%g", timeout)) s).")))
        }
    }

    /// The addresses are known: connect to the first that accepts.
    func connect(to addresses: [SocketAddress]) {
        guard completion != nil else { return }
        self.addresses = addresses
        tryNext()
    }

    func fail(_ error: TransportError) {
        finish(.failure(error))
    }

    /// Gives up without reporting; a socket in progress is closed.
    func cancel() {
        completion = nil
        finish(.failure(TransportError(.cannotConnect, "cancelled")))
    }

    private func tryNext() {
        while next < addresses.count {
            let address = addresses[next]
            next += 1
            switch SocketIO.openStream(family: address.family) {
            case .failure(let error):
                note(error, address)
            case .success(let socket):
                if let error = SocketIO.connect(socket, to: address) {
                    note(error, address)
                    SocketIO.close(socket)
                    continue
                }
                fd = socket
                context.watch(socket, events: Int16(POLLOUT)) { [weak self] _ in self?.connectEnded(address) }
                return
            }
        }
        if !failures.isEmpty && allRefused {
            finish(.failure(TransportError(.cannotConnect, "connection refused.")))
            return
        }
        let detail = failures.isEmpty ? "no address to try" : failures.joined(separator: "; ")
        finish(.failure(TransportError(.cannotConnect, "could not connect to \(endpoint) (\(detail)).")))
    }

    private func note(_ error: Errno, _ address: SocketAddress) {
        failures.append("\(address): \(error)")
        if error.code != ECONNREFUSED { allRefused = false }
    }

    /// The socket became writable or failed: the connect attempt has an outcome.
    private func connectEnded(_ address: SocketAddress) {
        let socket = fd
        context.unwatch(socket)
        fd = -1
        if let error = SocketIO.pendingError(socket) {
            note(error, address)
            SocketIO.close(socket)
            tryNext()
            return
        }
        finish(.success(SocketConnection(endpoint: endpoint, fd: socket, context: context)))
    }

    private func finish(_ result: Result<SocketConnection, TransportError>) {
        if let deadline { context.cancel(deadline) }
        deadline = nil
        if fd >= 0 {
            context.unwatch(fd)
            SocketIO.close(fd)
            fd = -1
        }
        guard let completion else {
            if case .success(let connection) = result { connection.close() }
            return
        }
        self.completion = nil
        completion(result)
    }
}
