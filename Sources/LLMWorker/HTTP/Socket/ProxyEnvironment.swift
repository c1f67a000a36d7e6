import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The proxy libcurl would use for a URL, read from the environment as libcurl reads it, since that is what
/// URLSession on Linux does (FoundationNetworking sets no proxy of its own):
///
/// - `no_proxy` (else `NO_PROXY`) first: `*` alone bypasses every proxy; otherwise a list separated by commas
///   (blanks around entries allowed) of names, each matching itself and its subdomains (a leading or trailing dot
///   ignored, case-insensitive), or IP addresses, optionally in CIDR notation (`192.168.0.0/16`, `::1`).
/// - then `<scheme>_proxy` in lower case; its upper-case form too except for `http_proxy` (libcurl never reads
///   `HTTP_PROXY`: in CGI programs a request's `Proxy:` header sets it); then `all_proxy`, else `ALL_PROXY`.
///   A variable set to the empty string means no proxy (and ends the search).
struct ProxyEnvironment: Sendable {
    let variables: [String: String]

    init(_ variables: [String: String] = ProcessInfo.processInfo.environment) {
        self.variables = variables
    }

    /// The proxy for `url` (as written in the environment), or nil for a direct connection.
    func proxy(for url: URL) -> String? {
        guard let scheme = url.scheme?.lowercased(), var host = url.host, !host.isEmpty else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if let noProxy = variables["no_proxy"] ?? variables["NO_PROXY"], Self.bypasses(host, noProxy) { return nil }
        let name = "\(scheme)_proxy"
        let value = variables[name] ?? (name == "http_proxy" ? nil : variables[name.uppercased()])
            ?? variables["all_proxy"] ?? variables["ALL_PROXY"]
        guard let value, !value.isEmpty else { return nil }
        return value
    }

    /// Whether `host` matches the no_proxy list (libcurl's rules).
    static func bypasses(_ host: String, _ list: String) -> Bool {
        if list == "*" { return true }
        let kind = HostKind(host)
        var rest = Substring(list)
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "\t" }
            let token = rest.prefix { $0 != " " && $0 != "\t" && $0 != "," }
            rest = rest.dropFirst(token.count).drop { $0 == " " || $0 == "\t" }
            if !token.isEmpty && kind.matches(token) { return true }
            // libcurl stops at anything but a comma after an entry.
            guard rest.first == "," else { break }
            rest = rest.drop { $0 == "," }
        }
        return false
    }

    private enum HostKind {
        case name(String)
        case address(family: Int32, bytes: [UInt8])

        init(_ host: String) {
            if let bytes = Self.parse(host, AF_INET) { self = .address(family: AF_INET, bytes: bytes) }
            else if let bytes = Self.parse(host, AF_INET6) { self = .address(family: AF_INET6, bytes: bytes) }
            else { self = .name(host.hasSuffix(".") ? String(host.dropLast()) : host) }
        }

        func matches(_ token: Substring) -> Bool {
            switch self {
            case .name(let name):
                var pattern = token
                if pattern.hasSuffix(".") { pattern = pattern.dropLast() }
                if pattern.hasPrefix(".") { pattern = pattern.dropFirst() }
                guard !pattern.isEmpty else { return false }
                let lowerName = name.lowercased()
                let lowerPattern = pattern.lowercased()
                return lowerName == lowerPattern || lowerName.hasSuffix("." + lowerPattern)
            case .address(let family, let bytes):
                let parts = token.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
                guard let network = Self.parse(String(parts[0]), family) else { return false }
                let width = bytes.count * 8
                var bits = width
                if parts.count == 2 {
                    guard let given = Int(parts[1]), given >= 0, given <= width else { return false }
                    bits = given == 0 ? width : given
                }
                for index in 0..<bytes.count {
                    let used = min(8, max(0, bits - index * 8))
                    guard used > 0 else { break }
                    let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - used))
                    if bytes[index] & mask != network[index] & mask { return false }
                }
                return true
            }
        }

        private static func parse(_ text: String, _ family: Int32) -> [UInt8]? {
            var bytes = [UInt8](repeating: 0, count: family == AF_INET ? 4 : 16)
            return inet_pton(family, text, &bytes) == 1 ? bytes : nil
        }
    }
}
