import Foundation

/// Why a response could not be read, by what it means for the caller: a malformed response (the server's fault,
/// `invalid_response`), or a connection that closed before any byte of the response (nothing was answered: safe
/// to send again) or after some of it (an answer was cut short).
struct HTTPResponseError: Error, Sendable, Equatable, CustomStringConvertible {
    enum Kind: Sendable, Equatable {
        case malformed
        case closedBeforeResponse
        case closedDuringResponse
    }

    let kind: Kind
    let message: String
    /// Malformed from its first line: what answered does not speak HTTP/1.x at all (a wrong port, another protocol).
    var notHTTP = false

    static func malformed(_ message: String) -> HTTPResponseError { HTTPResponseError(kind: .malformed, message: message) }

    var description: String { message }
}

/// How the body of a response is delimited (RFC 9112 §6.3).
enum HTTPBodyFraming: Sendable, Equatable {
    /// No body (a HEAD request, 204, 304).
    case none
    case length(Int)
    case chunked
    /// The body ends when the server closes the connection.
    case untilClose
}

/// The final head of a response (interim 1xx heads are skipped by the parser).
struct HTTPResponseHead: Sendable, Equatable {
    struct Field: Sendable, Equatable {
        /// As received.
        let name: String
        let value: String
    }

    /// The `x` of `HTTP/1.x`.
    let minorVersion: Int
    let status: Int
    let reason: String
    /// In the order received.
    let fields: [Field]
    let framing: HTTPBodyFraming
    /// Whether the connection may carry another request once this response is read: keep-alive, and a body
    /// that ends by itself, and nothing that makes its framing doubtful.
    let persistent: Bool

    /// Lower-cased names; repeated fields joined with ", " (as `HTTPURLResponse` reports them).
    var headers: [String: String] {
        var out: [String: String] = [:]
        for field in fields {
            let key = field.name.lowercased()
            out[key] = out[key].map { $0 + ", " + field.value } ?? field.value
        }
        return out
    }

    /// Every comma-separated element of the named field's values (case-insensitive name), trimmed and lower-cased;
    /// empty elements are dropped unless `keepEmpty`.
    func tokens(_ name: String, keepEmpty: Bool = false) -> [String] {
        Self.tokens(name, in: fields, keepEmpty: keepEmpty)
    }

    static func tokens(_ name: String, in fields: [Field], keepEmpty: Bool = false) -> [String] {
        fields.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }
            .flatMap { $0.value.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { keepEmpty || !$0.isEmpty }
    }
}

extension HTTPResponseHead {
    /// Builds the head and decides its framing; throws for what makes the framing unknowable or that the worker
    /// never asked for (a transfer coding other than chunked, a content coding: requests say `identity`).
    init(minorVersion: Int, status: Int, reason: String, fields: [Field], expectsBody: Bool) throws(HTTPResponseError) {
        self.minorVersion = minorVersion
        self.status = status
        self.reason = reason
        self.fields = fields
        let connection = Self.tokens("connection", in: fields)
        let keepAlive = minorVersion >= 1 ? !connection.contains("close") : connection.contains("keep-alive")
        let coding = Self.tokens("content-encoding", in: fields).filter { $0 != "identity" }
        if !coding.isEmpty {
            throw .malformed("The server encoded the body (Content-Encoding: \(coding.joined(separator: ", "))) though the request asked for identity.")
        }
        if !expectsBody || status == 204 || status == 304 {
            framing = .none
            persistent = keepAlive
            return
        }
        let transfer = Self.tokens("transfer-encoding", in: fields)
        let lengths = Self.tokens("content-length", in: fields, keepEmpty: true)
        if !transfer.isEmpty {
            guard transfer == ["chunked"] else {
                throw .malformed("The server used a transfer coding the worker does not read (Transfer-Encoding: \(transfer.joined(separator: ", "))).")
            }
            framing = .chunked
            // Content-Length beside chunked is ignored (RFC 9112 §6.3), but such a connection is not trusted again.
            persistent = keepAlive && lengths.isEmpty
            return
        }
        if !lengths.isEmpty {
            framing = .length(try Self.contentLength(lengths))
            persistent = keepAlive
            return
        }
        framing = .untilClose
        persistent = false
    }

    /// Every Content-Length value must be the same decimal number (repeats of one value are accepted, RFC 9112 §6.3).
    private static func contentLength(_ values: [String]) throws(HTTPResponseError) -> Int {
        var length: Int?
        for value in values {
            guard value.count <= 18, !value.isEmpty, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let number = Int(value) else {
                throw .malformed("The server sent an invalid Content-Length (\(value.prefix(40))).")
            }
            if let length, length != number {
                throw .malformed("The server sent conflicting Content-Length values (\(length) and \(number)).")
            }
            length = number
        }
        return length ?? 0
    }
}
