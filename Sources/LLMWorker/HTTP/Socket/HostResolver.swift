import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Turns a host into addresses to connect to, IPv4 and IPv6, in the order getaddrinfo prefers (RFC 6724).
/// An address literal is answered at once; a name is looked up on a background thread, never on the event
/// thread (getaddrinfo blocks and cannot be interrupted), and the answer is given up after `timeout`: the
/// lookup itself may go on in the background, its result then unused.
struct HostResolver: Sendable {
    typealias Lookup = @Sendable (_ host: String, _ port: Int) -> Result<[SocketAddress], TransportError>

    let timeout: TimeInterval
    /// The blocking lookup (getaddrinfo unless a test replaces it).
    let lookup: Lookup

    init(timeout: TimeInterval = 10, lookup: @escaping Lookup = HostResolver.getaddrinfo) {
        self.timeout = timeout
        self.lookup = lookup
    }

    /// Calls `completion` exactly once, on any thread.
    func resolve(_ endpoint: HTTPEndpoint, completion: @escaping @Sendable (Result<[SocketAddress], TransportError>) -> Void) {
        if let literal = Self.numeric(endpoint) {
            completion(.success(literal))
            return
        }
        let once = Once(completion)
        let lookup = self.lookup
        DispatchQueue.global(qos: .userInitiated).async {
            once.fire(lookup(endpoint.host, endpoint.port))
        }
        let seconds = timeout
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
            once.fire(.failure(TransportError(.cannotResolve, "Looking up \(endpoint.host) took longer than \(String(format: "%g", seconds)) s.")))
        }
    }

    /// An IPv4 or IPv6 address literal, without a lookup; nil for a name.
    static func numeric(_ endpoint: HTTPEndpoint) -> [SocketAddress]? {
        guard case .success(let addresses) = addresses(endpoint.host, endpoint.port, flags: AI_NUMERICHOST | AI_NUMERICSERV) else { return nil }
        return addresses
    }

    /// The system resolver (hosts file, DNS): blocking.
    static let getaddrinfo: Lookup = { host, port in
        addresses(host, port, flags: AI_NUMERICSERV)
    }

    private static func addresses(_ host: String, _ port: Int, flags: Int32) -> Result<[SocketAddress], TransportError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = flags
        var list: UnsafeMutablePointer<addrinfo>?
        let status = Glibc.getaddrinfo(host, String(port), &hints, &list)
        defer { if let list { freeaddrinfo(list) } }
        guard status == 0 else {
            let reason = String(cString: gai_strerror(status))
            return .failure(TransportError(.cannotResolve, "The host name \(host) could not be resolved (\(reason))."))
        }
        var addresses: [SocketAddress] = []
        var entry = list
        while let current = entry {
            if let address = current.pointee.ai_addr, [AF_INET, AF_INET6].contains(current.pointee.ai_family) {
                addresses.append(SocketAddress(address, length: current.pointee.ai_addrlen))
            }
            entry = current.pointee.ai_next
        }
        return addresses.isEmpty ? .failure(TransportError(.cannotResolve, "The host name \(host) has no IPv4 or IPv6 address.")) : .success(addresses)
    }

    /// Delivers the first of two results.
    private final class Once: Sendable {
        private let completion: Locked<(@Sendable (Result<[SocketAddress], TransportError>) -> Void)?>

        init(_ completion: @escaping @Sendable (Result<[SocketAddress], TransportError>) -> Void) { self.completion = Locked(completion) }

        func fire(_ result: Result<[SocketAddress], TransportError>) {
            completion.withLock { $0.take() }?(result)
        }
    }
}
