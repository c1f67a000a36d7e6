import Foundation

/// An incremental, byte-level HTTP/1.x response reader: status line, fields, interim 1xx responses (skipped),
/// and the body framed by Content-Length, chunked transfer coding or the end of the connection.
///
/// Pure: no I/O, no clocks. `parse` takes each read as it arrives and moves the body bytes it holds to the
/// start of that same buffer (chunk framing removed in place), so the bytes a socket read brought reach their
/// consumer without another copy. `finish` is the end of the connection.
///
/// Limits (`Limits`): a line (status, field, chunk size, trailer; a folded field counts whole) of at most
/// 64 KiB, at most 100 fields in a head and 100 in the trailers, 256 KiB for a head and for the trailers, 16
/// interim responses. Past a limit, or on anything malformed, `parse` throws a `.malformed` error and throws it
/// again on every later call.
///
/// Lenient where RFC 9112 lets a recipient be: a bare LF ends a line; a status line may lack its reason phrase;
/// folded field lines are joined with a space; chunk extensions are ignored; trailers are read and dropped;
/// identical repeated Content-Length values are one.
struct HTTPResponseParser {
    struct Limits: Sendable {
        var maxLineBytes = 64 * 1024
        var maxFields = 100
        var maxHeadBytes = 256 * 1024
        var maxInterimResponses = 16
    }

    /// What one `parse` call found.
    struct Progress: Equatable {
        /// The final head, if it completed during this call.
        var head: HTTPResponseHead?
        /// Body bytes now at the start of the buffer.
        var bodyBytes = 0
        /// Bytes of the buffer that belonged to the response; fewer than the buffer held only once it is complete.
        var consumed = 0
        /// The response is complete.
        var complete = false
        /// The response cannot be read further: `bodyBytes` still holds what came before the fault.
        var failure: HTTPResponseError?
    }

    private enum State: Equatable {
        case statusLine
        case fields
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkEnd
        case trailers
        case untilClose
        case done
    }

    let limits: Limits
    /// False for the answer to a HEAD request: no body whatever the head says.
    private let expectsBody: Bool
    private var state = State.statusLine
    private var failure: HTTPResponseError?
    /// The part of a line that has not ended yet (without its line ending).
    private var partialLine: [UInt8] = []
    private var partialEndsWithCR = false
    /// The head being read.
    private var minorVersion = 1
    private var status = 0
    private var reason = ""
    private var fields: [HTTPResponseHead.Field] = []
    /// The last field line, kept until the next line shows whether a folded continuation follows.
    private var pendingName: String?
    private var pendingValue: [UInt8] = []
    private var sectionBytes = 0
    private var interimResponses = 0
    private(set) var receivedAnyByte = false
    private var bodyReceived = 0

    init(limits: Limits = Limits(), expectsBody: Bool = true) {
        self.limits = limits
        self.expectsBody = expectsBody
    }

    var isComplete: Bool { state == .done }

    /// Reads `buffer`; body bytes are moved to its start (`Progress.bodyBytes`). Bytes after a complete response
    /// are left alone (`Progress.consumed` tells where they begin). A fault is reported with the body bytes that
    /// preceded it in the same buffer, and again (alone) on every later call.
    mutating func parse(_ buffer: UnsafeMutableRawBufferPointer) -> Progress {
        var progress = Progress()
        if let failure {
            progress.failure = failure
            return progress
        }
        guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), state != .done else { return progress }
        if !buffer.isEmpty { receivedAnyByte = true }
        let bytes = UnsafeMutableBufferPointer(start: base, count: buffer.count)
        var index = 0
        do throws(HTTPResponseError) {
            while index < bytes.count && state != .done {
                switch state {
                case .fixedBody(let remaining):
                    let n = move(bytes, from: &index, max: remaining, to: &progress.bodyBytes)
                    state = remaining == n ? .done : .fixedBody(remaining: remaining - n)
                case .chunkData(let remaining):
                    let n = move(bytes, from: &index, max: remaining, to: &progress.bodyBytes)
                    state = remaining == n ? .chunkEnd : .chunkData(remaining: remaining - n)
                case .untilClose:
                    _ = move(bytes, from: &index, max: Int.max, to: &progress.bodyBytes)
                default:
                    try readLine(bytes, from: &index) { (parser: inout HTTPResponseParser, line) throws(HTTPResponseError) in
                        if let head = try parser.handle(line) { progress.head = head }
                    }
                }
            }
        } catch {
            failure = error
            progress.failure = error
        }
        progress.consumed = index
        progress.complete = state == .done
        return progress
    }

    /// The connection ended: completes a body that ends with it, else throws what the end cut short.
    mutating func finish() throws(HTTPResponseError) {
        if let failure { throw failure }
        switch state {
        case .done:
            return
        case .untilClose:
            state = .done
        case .statusLine where !receivedAnyByte:
            throw HTTPResponseError(kind: .closedBeforeResponse, message: "The server closed the connection before sending any response.")
        case .statusLine, .fields:
            throw HTTPResponseError(kind: .closedDuringResponse, message: "The server closed the connection in the middle of the response head.")
        case .fixedBody(let remaining):
            throw HTTPResponseError(kind: .closedDuringResponse, message: "The server closed the connection \(remaining) bytes before the end of the body it announced.")
        case .chunkSize, .chunkData, .chunkEnd, .trailers:
            throw HTTPResponseError(kind: .closedDuringResponse, message: "The server closed the connection before the last chunk of the body.")
        }
    }

    // MARK: Body bytes

    /// Moves up to `max` bytes from `index` to the body output position (reads always stay ahead of writes).
    private mutating func move(_ bytes: UnsafeMutableBufferPointer<UInt8>, from index: inout Int, max: Int,
                               to output: inout Int) -> Int {
        let n = min(max, bytes.count - index)
        if output != index, n > 0 {
            UnsafeMutableRawPointer(bytes.baseAddress! + output).copyMemory(from: bytes.baseAddress! + index, byteCount: n)
        }
        index += n
        output += n
        bodyReceived += n
        return n
    }

    // MARK: Lines

    /// Reads up to the end of the current line; when it ends in this read, calls `handle` with the whole line
    /// (carried part and this part, without the line ending), else carries what there is.
    private mutating func readLine(_ bytes: UnsafeMutableBufferPointer<UInt8>, from index: inout Int,
                                   _ handle: (inout HTTPResponseParser, UnsafeBufferPointer<UInt8>) throws(HTTPResponseError) -> Void) throws(HTTPResponseError) {
        let start = index
        let rest = bytes.count - start
        let found = memchr(bytes.baseAddress! + start, 0x0A, rest)
        let end = found.map { bytes.baseAddress!.distance(to: $0.assumingMemoryBound(to: UInt8.self)) } ?? bytes.count
        // The line ending's CR is not part of the limit.
        var length = partialLine.count + (end - start)
        if found != nil, end > start ? bytes[end - 1] == 0x0D : partialEndsWithCR { length -= 1 }
        if found == nil {
            // A CR at the end of this read may be the start of the line ending: not counted yet.
            length = partialLine.count + rest - (bytes[bytes.count - 1] == 0x0D ? 1 : 0)
        }
        try account(length, lineEnded: found != nil)
        guard found != nil else {
            partialLine.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<end]))
            partialEndsWithCR = partialLine.last == 0x0D
            index = end
            return
        }
        index = end + 1
        if partialLine.isEmpty {
            let line = UnsafeBufferPointer(rebasing: bytes[start..<(start + length)])
            try Self.rejectBareCR(line)
            try handle(&self, line)
            return
        }
        var line = partialLine
        partialLine = []
        partialEndsWithCR = false
        line.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<end]))
        line.removeLast(line.count - length)
        try line.withUnsafeBufferPointer { (whole) throws(HTTPResponseError) in
            try Self.rejectBareCR(whole)
            try handle(&self, whole)
        }
    }

    /// Checks a line against the limits: its own length, and the size of the head or trailers it belongs to.
    private mutating func account(_ length: Int, lineEnded: Bool) throws(HTTPResponseError) {
        if length > limits.maxLineBytes {
            throw .malformed("The server sent a line longer than \(limits.maxLineBytes >> 10) KiB in its response.")
        }
        if lineEnded, state != .chunkSize, state != .chunkEnd {
            sectionBytes += length + 2
            if sectionBytes > limits.maxHeadBytes {
                throw .malformed("The server sent a response head (or trailers) larger than \(limits.maxHeadBytes >> 10) KiB.")
            }
        }
    }

    private static func rejectBareCR(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPResponseError) {
        if !line.isEmpty, memchr(line.baseAddress!, 0x0D, line.count) != nil {
            throw .malformed("The server sent a carriage return inside a line of its response.")
        }
    }

    /// One complete line in the current state; returns the final head when this line completed it.
    private mutating func handle(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPResponseError) -> HTTPResponseHead? {
        switch state {
        case .statusLine:
            (minorVersion, status, reason) = try HTTPResponseLine.statusLine(line)
            if status == 101 { throw .malformed("The server switched protocols (101), which the worker never asks for.") }
            fields = []
            state = .fields
        case .fields:
            guard !line.isEmpty else { return try endOfHead() }
            try fieldLine(line)
        case .chunkSize:
            let size = try HTTPResponseLine.chunkSize(line)
            if size == 0 {
                sectionBytes = 0
                fields = []
                state = .trailers
            } else {
                state = .chunkData(remaining: size)
            }
        case .chunkEnd:
            guard line.isEmpty else { throw .malformed("A chunk of the body is longer than its announced size.") }
            state = .chunkSize
        case .trailers:
            if line.isEmpty {
                commitPendingField()
                state = .done
            } else {
                try fieldLine(line)
            }
        case .fixedBody, .chunkData, .untilClose, .done:
            preconditionFailure("body states do not read lines")
        }
        return nil
    }

    /// A field line, or the folded continuation of the previous one.
    private mutating func fieldLine(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPResponseError) {
        if line[0] == 0x20 || line[0] == 0x09 {
            guard let name = pendingName else { throw .malformed("The server sent a folded field line with no field before it.") }
            let continuation = HTTPResponseLine.trimmed(line)
            guard name.utf8.count + 2 + pendingValue.count + continuation.count <= limits.maxLineBytes else {
                throw .malformed("The server sent a folded field longer than \(limits.maxLineBytes >> 10) KiB.")
            }
            if !continuation.isEmpty {
                if !pendingValue.isEmpty { pendingValue.append(0x20) }
                pendingValue.append(contentsOf: continuation)
            }
            return
        }
        commitPendingField()
        guard fields.count < limits.maxFields else {
            throw .malformed("The server sent more than \(limits.maxFields) header fields.")
        }
        let (name, value) = try HTTPResponseLine.field(line)
        pendingName = name
        pendingValue = Array(value)
    }

    private mutating func commitPendingField() {
        guard let name = pendingName else { return }
        fields.append(HTTPResponseHead.Field(name: name, value: String(decoding: pendingValue, as: UTF8.self)))
        pendingName = nil
        pendingValue = []
    }

    /// The blank line after the fields: an interim response is skipped, a final one sets the body's framing.
    private mutating func endOfHead() throws(HTTPResponseError) -> HTTPResponseHead? {
        commitPendingField()
        sectionBytes = 0
        if status < 200 {
            interimResponses += 1
            if interimResponses > limits.maxInterimResponses {
                throw .malformed("The server sent more than \(limits.maxInterimResponses) interim (1xx) responses.")
            }
            state = .statusLine
            return nil
        }
        let head = try HTTPResponseHead(minorVersion: minorVersion, status: status, reason: reason, fields: fields,
                                        expectsBody: expectsBody)
        fields = []
        switch head.framing {
        case .none, .length(0): state = .done
        case .length(let length): state = .fixedBody(remaining: length)
        case .chunked: state = .chunkSize
        case .untilClose: state = .untilClose
        }
        return head
    }
}
