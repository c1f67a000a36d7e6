import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where a request goes: the connection pool's key.
struct HTTPEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// A name or an address; an IPv6 address without brackets.
    let host: String
    let port: Int

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A request ready for the wire: the whole of it (head and body) as the bytes to send.
struct PreparedRequest: Sendable {
    let endpoint: HTTPEndpoint
    let bytes: [UInt8]
    /// False for HEAD: the response has no body whatever its head says.
    let expectsResponseBody: Bool
}

/// Writes an HTTP/1.1 request for a server reached directly (no proxy): origin-form target, `Host`, the
/// request's own fields, `Content-Length` for a body (sent whole, never chunked, no `Expect: 100-continue`) and
/// `Accept-Encoding: identity` (the transport reads no content coding).
enum HTTPRequestWriter {
    /// Fields the writer sets itself; the request's own values for them are not used.
    private static let ownFields: Set<String> = ["host", "content-length", "transfer-encoding", "connection",
                                                 "accept-encoding", "expect", "te", "upgrade", "keep-alive"]

    static func prepare(_ request: URLRequest) throws(TransportError) -> PreparedRequest {
        guard let url = request.url, let components = URLComponents(url: url, resolvingAgainstBaseURL: true) else {
            throw TransportError(.invalidRequest, "The request has no valid URL.")
        }
        guard components.scheme?.lowercased() == "http" else {
            throw TransportError(.invalidRequest, "The socket transport carries only http:// requests, not \(components.scheme ?? "this URL").")
        }
        guard var host = url.host, !host.isEmpty else { throw TransportError(.invalidRequest, "The URL \(url) has no host.") }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = components.port ?? 80
        guard (1...65535).contains(port) else { throw TransportError(.invalidRequest, "The URL's port \(port) is not valid.") }
        guard components.user == nil, components.password == nil else {
            throw TransportError(.invalidRequest, "The socket transport does not send credentials from the URL.")
        }
        guard request.httpBodyStream == nil else {
            throw TransportError(.invalidRequest, "The socket transport sends only request bodies given whole.")
        }
        let method = request.httpMethod ?? "GET"
        guard !method.isEmpty, method.utf8.allSatisfy(HTTPResponseLine.isTokenByte) else {
            throw TransportError(.invalidRequest, "The request method is not a valid token.")
        }
        var path = components.percentEncodedPath
        if path.isEmpty { path = "/" }
        if let query = components.percentEncodedQuery { path += "?" + query }
        guard path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw TransportError(.invalidRequest, "The request target contains characters that must be percent-encoded.")
        }

        let endpoint = HTTPEndpoint(host: host, port: port)
        let hostField = (host.contains(":") ? "[\(host)]" : host) + (components.port.map { $0 == 80 ? "" : ":\($0)" } ?? "")
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(hostField)\r\n"
        for (name, value) in (request.allHTTPHeaderFields ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard !name.isEmpty, name.utf8.allSatisfy(HTTPResponseLine.isTokenByte) else {
                throw TransportError(.invalidRequest, "A request header name is not a valid token.")
            }
            guard !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else {
                throw TransportError(.invalidRequest, "The request header \(name) contains a line break.")
            }
            if ownFields.contains(name.lowercased()) { continue }
            head += "\(name): \(value)\r\n"
        }
        let body = request.httpBody ?? Data()
        if !body.isEmpty || !["GET", "HEAD", "DELETE", "OPTIONS", "TRACE"].contains(method) {
            head += "Content-Length: \(body.count)\r\n"
        }
        head += "Accept-Encoding: identity\r\n\r\n"
        var bytes = [UInt8]()
        bytes.reserveCapacity(head.utf8.count + body.count)
        bytes.append(contentsOf: head.utf8)
        bytes.append(contentsOf: body)
        return PreparedRequest(endpoint: endpoint, bytes: bytes, expectsResponseBody: method != "HEAD")
    }
}
