import Foundation

/// Which HTTP client carries a provider's requests (`transport` in `configure`).
public enum TransportMode: String, Sendable, CaseIterable, Codable {
    /// The worker's own HTTP/1.1 client for `http://` servers reached directly, URLSession for the rest.
    case auto
    /// URLSession (libcurl) for every request.
    case urlsession
    /// The worker's own HTTP/1.1 client; only for `http://` servers reached without a proxy.
    case socket

    /// The environment variable that sets the mode of every provider whose `configure` leaves `transport` unset.
    public static let environmentVariable = "CAAL_LLM_WORKER_TRANSPORT"

    /// The mode the environment asks for, or nil when it asks for none (or names no mode).
    static func fromEnvironment(_ environment: [String: String]) -> TransportMode? {
        environment[environmentVariable].flatMap { TransportMode(rawValue: $0.lowercased()) }
    }
}

/// The HTTP client that actually carries a request.
public enum TransportKind: String, Sendable {
    case socket
    case urlsession

    /// What `mode` gives for requests to `baseURL`: the socket transport only where it can go (plain `http://`, no
    /// proxy applies). `configure` refuses a `socket` it was given where the socket transport cannot go
    /// (`TransportMode.problem`); a `socket` from the environment falls back to URLSession there.
    static func chosen(by mode: TransportMode, for baseURL: String?, proxies: ProxyEnvironment) -> TransportKind {
        guard mode != .urlsession, let baseURL, let url = URL(string: baseURL) else { return .urlsession }
        return SocketTransport.carries(url, proxies: proxies) ? .socket : .urlsession
    }
}

extension TransportMode {
    /// Why `self` cannot carry requests to `baseURL`, or nil when it can.
    func problem(with baseURL: String?, proxies: ProxyEnvironment) -> String? {
        guard self == .socket, let baseURL, let url = URL(string: baseURL) else { return nil }
        if url.scheme?.lowercased() != "http" {
            return "'socket' speaks plain http:// only and base_url is \(url.scheme ?? "not http")://: use 'auto' or 'urlsession'"
        }
        if proxies.proxy(for: url) != nil {
            // The proxy's address is not repeated: it may carry a user name and password.
            return "'socket' does not speak to proxies and the environment (http_proxy or all_proxy) sends \(url.host ?? "this host") through one: use 'auto' or 'urlsession', or add the host to no_proxy"
        }
        return nil
    }
}
