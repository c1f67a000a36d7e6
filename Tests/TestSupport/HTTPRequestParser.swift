import Foundation

/// The head of an HTTP/1.x request.
struct HTTPRequestHead: Sendable {
    let method: String
    let target: String
    let version: String
    let headers: MockHeaders

    /// Whether the client asked for the connection to be closed after the response
    /// (`Connection: close`, or HTTP/1.0 without `Connection: keep-alive`).
    var wantsClose: Bool {
        let connection = (headers["connection"] ?? "").lowercased()
        if connection.contains("close") { return true }
        return version == "HTTP/1.0" && !connection.contains("keep-alive")
    }
}

enum HTTPRequestParseError: Error, CustomStringConvertible {
    case headTooLarge
    case malformedRequestLine(String)
    case malformedHeader(String)
    case badContentLength(String)
    case badChunk(String)

    var description: String {
        switch self {
        case .headTooLarge: return "request head too large"
        case .malformedRequestLine(let line): return "malformed request line: \(line)"
        case .malformedHeader(let line): return "malformed header line: \(line)"
        case .badContentLength(let value): return "bad Content-Length: \(value)"
        case .badChunk(let detail): return "bad chunked body: \(detail)"
        }
    }
}

/// Incremental HTTP/1.x request parser: feed bytes with `append`, take complete requests with
/// `nextRequest()` (several may be buffered: pipelining and keep-alive). Bodies are framed by
/// `Content-Length` or `Transfer-Encoding: chunked` (de-chunked; trailers are read and dropped);
/// neither means no body. Line ends may be CRLF or bare LF. Not thread-safe: one per connection.
struct HTTPRequestParser {
    var maxHeadBytes = 1 << 20

    private var buffer: [UInt8] = []
    private var head: HTTPRequestHead?
    private var chunked = false
    private var contentLength = 0

    init() {}

    mutating func append(_ bytes: UnsafeRawBufferPointer) { buffer.append(contentsOf: bytes) }
    mutating func append(_ data: Data) { buffer.append(contentsOf: data) }
    mutating func append(_ bytes: [UInt8]) { buffer.append(contentsOf: bytes) }

    /// True when some bytes of a request (head or body) are buffered but the request is incomplete.
    var hasPartialRequest: Bool { head != nil || buffer.contains { $0 != 0x0D && $0 != 0x0A } }

    /// True when the head of the current request is parsed, asks for `Expect: 100-continue`, and the
    /// body is not complete yet.
    var awaitingContinue: Bool {
        guard let head else { return false }
        return (head.headers["expect"] ?? "").lowercased() == "100-continue"
    }

    /// The next complete request, or nil if more bytes are needed.
    mutating func nextRequest() throws -> (head: HTTPRequestHead, body: Data)? {
        if head == nil {
            guard try parseHead() else { return nil }
        }
        guard let current = head else { return nil }
        let body: Data
        if chunked {
            guard let (decoded, consumed) = try parseChunkedBody() else { return nil }
            body = decoded
            buffer.removeFirst(consumed)
        } else {
            guard buffer.count >= contentLength else { return nil }
            body = Data(buffer[0..<contentLength])
            buffer.removeFirst(contentLength)
        }
        head = nil
        return (current, body)
    }

    // MARK: Head

    /// Parses the head if it is complete; returns false if more bytes are needed.
    private mutating func parseHead() throws -> Bool {
        // RFC 9112 §2.2: ignore empty lines before the request line.
        var start = 0
        while start < buffer.count && (buffer[start] == 0x0D || buffer[start] == 0x0A) { start += 1 }
        if start > 0 { buffer.removeFirst(start) }
        guard let (headEnd, afterHead) = findHeadEnd() else {
            if buffer.count > maxHeadBytes { throw HTTPRequestParseError.headTooLarge }
            return false
        }
        // Split on LF bytes (in a String, "\r\n" is one Character and would not split on "\n").
        var lines = buffer[0..<headEnd].split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == 0x0D ? line.dropLast() : line, as: UTF8.self)
        }
        buffer.removeFirst(afterHead)
        let requestLine = lines.removeFirst()
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 3, parts[2].hasPrefix("HTTP/") else {
            throw HTTPRequestParseError.malformedRequestLine(requestLine)
        }
        var fields: [(name: String, value: String)] = []
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw HTTPRequestParseError.malformedHeader(line)
            }
            let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            fields.append((name: name, value: value))
        }
        let parsed = HTTPRequestHead(method: String(parts[0]), target: String(parts[1]),
                                     version: String(parts[2]), headers: MockHeaders(fields))
        let transferEncoding = (parsed.headers["transfer-encoding"] ?? "").lowercased()
        chunked = transferEncoding.contains("chunked")
        contentLength = 0
        if !chunked, let value = parsed.headers["content-length"] {
            // Repeated identical values ("5, 5") are allowed; anything else is an error.
            let values = Set(value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            guard values.count == 1, let first = values.first, let length = Int(first), length >= 0 else {
                throw HTTPRequestParseError.badContentLength(value)
            }
            contentLength = length
        }
        head = parsed
        return true
    }

    /// The end of the head (index of the blank line's first byte) and the index just after it.
    private func findHeadEnd() -> (Int, Int)? {
        var i = 0
        while i < buffer.count {
            if buffer[i] == 0x0A {
                // "\n\n" or "\n\r\n"
                if i + 1 < buffer.count && buffer[i + 1] == 0x0A { return (i, i + 2) }
                if i + 2 < buffer.count && buffer[i + 1] == 0x0D && buffer[i + 2] == 0x0A { return (i, i + 3) }
            }
            i += 1
        }
        return nil
    }

    // MARK: Chunked body

    /// Decodes a complete chunked body at the start of the buffer: (body, bytes consumed), or nil if
    /// incomplete.
    private func parseChunkedBody() throws -> (Data, Int)? {
        var body = Data()
        var pos = 0
        while true {
            guard let (line, next) = readLine(from: pos) else { return nil }
            let sizeText = line.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
                .first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard let size = Int(sizeText, radix: 16), size >= 0 else {
                throw HTTPRequestParseError.badChunk("size line \(line.debugDescription)")
            }
            pos = next
            if size == 0 {
                // Trailer fields, then an empty line.
                while true {
                    guard let (trailer, afterTrailer) = readLine(from: pos) else { return nil }
                    pos = afterTrailer
                    if trailer.isEmpty { return (body, pos) }
                }
            }
            guard buffer.count >= pos + size else { return nil }
            body.append(contentsOf: buffer[pos..<(pos + size)])
            pos += size
            guard let (rest, afterData) = readLine(from: pos) else { return nil }
            guard rest.isEmpty else { throw HTTPRequestParseError.badChunk("missing CRLF after chunk data") }
            pos = afterData
        }
    }

    /// The line starting at `pos` without its line end, and the index after the line end.
    private func readLine(from pos: Int) -> (String, Int)? {
        var i = pos
        while i < buffer.count {
            if buffer[i] == 0x0A {
                var end = i
                if end > pos && buffer[end - 1] == 0x0D { end -= 1 }
                return (String(decoding: buffer[pos..<end], as: UTF8.self), i + 1)
            }
            i += 1
        }
        return nil
    }
}
