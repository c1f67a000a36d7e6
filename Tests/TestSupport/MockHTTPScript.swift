import Foundation

// Value types used by `MockHTTPServer`: the scripted responses (`MockAction`, `MockResponse`)
// and what the server records (`RecordedRequest`, `MockHeaders`).

// MARK: - Scripted responses

/// One step of a scripted HTTP response. A `MockResponse` is a list of these, executed in order on the
/// connection's socket. The server keeps track of the framing it announced, so that `.body`, `.chunk`
/// and `.sse` are written correctly whatever came before:
///
/// - `.status(code, headers:)` writes the status line and headers. Framing: `Content-Length` if the
///   headers give one, else `Transfer-Encoding: chunked` is added (unless the status never has a body:
///   1xx, 204, 304). A 1xx status is an interim response and does not count as the head.
/// - `.body(data)`: before any head, a complete `200` response with `Content-Length` (and the optional
///   content type). After a chunked head, one chunk. After a `Content-Length` head, the bytes as they are.
/// - `.chunk(data)`: one HTTP chunk (before any head, a `200` chunked head is written first).
///   An empty chunk is skipped (it would end the body): use `.end` for that.
/// - `.raw(data)`: the bytes verbatim, no framing (garbage, hand-made heads or chunks, split tests).
/// - `.sse(s)`: `data: <s>\n\n` as one chunk, written literally (a newline inside `s` is not re-prefixed).
///   Before any head, a `200 text/event-stream` chunked head is written first.
/// - `.sleep(t)`: pause, while watching the socket; if the client closes meanwhile, the close is
///   recorded and the script stops.
/// - `.stall`: send nothing more until the client closes (recorded, ~immediately) or the server stops.
/// - `.close`: close the connection now (FIN), possibly mid-body.
/// - `.reset`: close with `SO_LINGER` 0, so the client sees a TCP RST.
/// - `.end`: complete the response: terminate a chunked body with `0\r\n\r\n` (an empty `200` if nothing
///   was sent yet); the connection stays open for the next request.
///
/// When a script runs out of actions without `.end`, `.close`, `.reset` or `.stall`, the response is
/// completed as by `.end`, except that the connection is closed instead when the framing cannot be
/// completed: a `Content-Length` body shorter than announced, or `.raw` bytes written without a head or
/// after a chunked head (the server cannot know where they left the framing).
enum MockAction: Sendable {
    case status(Int, headers: [String: String] = [:])
    case body(Data, contentType: String? = nil)
    case chunk(Data)
    case raw(Data)
    case sse(String)
    case sleep(TimeInterval)
    case stall
    case close
    case reset
    case end

    /// A whole JSON body (see `.body`), serialised with sorted keys; `value` may be any JSON value
    /// accepted by `JSONSerialization` (fragments too); a `Data` value is taken as JSON bytes already.
    /// A non-serialisable value is a test bug and traps.
    static func json(_ value: Any) -> MockAction {
        .body(mockJSONData(value), contentType: "application/json")
    }

    /// `.sse` with `value` serialised as compact JSON (sorted keys).
    static func sseJSON(_ value: Any) -> MockAction {
        .sse(String(decoding: mockJSONData(value), as: UTF8.self))
    }

    /// `.raw` with the UTF-8 bytes of `text`.
    static func rawText(_ text: String) -> MockAction { .raw(Data(text.utf8)) }

    /// `.chunk` with the UTF-8 bytes of `text`.
    static func chunkText(_ text: String) -> MockAction { .chunk(Data(text.utf8)) }
}

/// A scripted response: the actions run in order on the socket. Array literals work:
/// `let r: MockResponse = [.status(200), .sse("a"), .sse("[DONE]"), .end]`.
struct MockResponse: Sendable, ExpressibleByArrayLiteral {
    var actions: [MockAction]

    init(_ actions: [MockAction]) { self.actions = actions }
    init(arrayLiteral elements: MockAction...) { self.actions = elements }

    /// A complete JSON response with `Content-Length` (keys sorted). `headers` are added (and may
    /// override `Content-Type`).
    static func json(status: Int = 200, body: Any, headers: [String: String] = [:]) -> MockResponse {
        fixed(status: status, body: mockJSONData(body), contentType: "application/json", headers: headers)
    }

    /// A complete response whose body is the given JSON text, sent as is (for malformed or exact JSON).
    static func jsonText(status: Int = 200, _ text: String, headers: [String: String] = [:]) -> MockResponse {
        fixed(status: status, body: Data(text.utf8), contentType: "application/json", headers: headers)
    }

    /// A complete `text/plain` response.
    static func text(status: Int = 200, _ text: String, headers: [String: String] = [:]) -> MockResponse {
        fixed(status: status, body: Data(text.utf8), contentType: "text/plain; charset=utf-8", headers: headers)
    }

    /// A response with an empty body (`Content-Length: 0`).
    static func empty(status: Int, headers: [String: String] = [:]) -> MockResponse {
        fixed(status: status, body: Data(), contentType: nil, headers: headers)
    }

    /// An OpenAI-style error: `{"error": {"message", "type"?, "code"?}}` (`code` may be any JSON value).
    static func openAIError(status: Int, message: String, type: String? = nil, code: Any? = nil,
                            headers: [String: String] = [:]) -> MockResponse {
        var error: [String: Any] = ["message": message]
        if let type { error["type"] = type }
        if let code { error["code"] = code }
        return json(status: status, body: ["error": error], headers: headers)
    }

    /// A complete response with `Content-Length`, a content type (if given) and extra headers.
    static func fixed(status: Int, body: Data, contentType: String?, headers: [String: String] = [:]) -> MockResponse {
        var all: [String: String] = [:]
        if let contentType { all["Content-Type"] = contentType }
        all["Content-Length"] = String(body.count)
        mergeHeaders(&all, headers)
        var actions: [MockAction] = [.status(status, headers: all)]
        if !body.isEmpty { actions.append(.body(body)) }
        actions.append(.end)
        return MockResponse(actions)
    }

    /// A `200 text/event-stream` chunked stream: each event as `data: <event>\n\n` (one chunk each), then
    /// `data: [DONE]\n\n` if `done`, then the terminating chunk. `delay` is slept between events (and
    /// before `[DONE]`); `firstEventDelay` before the first event (time to first token).
    static func sseStream(events: [String], delay: TimeInterval = 0, done: Bool = true,
                          firstEventDelay: TimeInterval = 0, headers: [String: String] = [:]) -> MockResponse {
        var all = ["Content-Type": "text/event-stream", "Cache-Control": "no-cache"]
        mergeHeaders(&all, headers)
        var actions: [MockAction] = [.status(200, headers: all)]
        if firstEventDelay > 0 { actions.append(.sleep(firstEventDelay)) }
        for (i, event) in events.enumerated() {
            if i > 0 && delay > 0 { actions.append(.sleep(delay)) }
            actions.append(.sse(event))
        }
        if done {
            if !events.isEmpty && delay > 0 { actions.append(.sleep(delay)) }
            actions.append(.sse("[DONE]"))
        }
        actions.append(.end)
        return MockResponse(actions)
    }

    /// A response whose body `data` is written in pieces cut at `offsets` (positions in `data`; sorted,
    /// deduplicated, out-of-range ones ignored), sleeping `delay` between pieces. By default the body
    /// has a `Content-Length` and each piece is a separate `send()` (TCP_NODELAY is on, so with a delay
    /// each piece reaches the client separately); with `chunked: true` each piece is one HTTP chunk.
    static func splitBytes(_ data: Data, at offsets: [Int], delay: TimeInterval = 0, status: Int = 200,
                           headers: [String: String] = ["Content-Type": "text/event-stream"],
                           chunked: Bool = false) -> MockResponse {
        var all = headers
        if !chunked { all["Content-Length"] = String(data.count) }
        var actions: [MockAction] = [.status(status, headers: all)]
        let bytes = [UInt8](data)
        let cuts = Array(Set(offsets.filter { $0 > 0 && $0 < bytes.count })).sorted()
        var start = 0
        for (i, cut) in (cuts + [bytes.count]).enumerated() {
            if i > 0 && delay > 0 { actions.append(.sleep(delay)) }
            if cut > start { actions.append(.body(Data(bytes[start..<cut]))) }
            start = cut
        }
        actions.append(.end)
        return MockResponse(actions)
    }

    /// The response used when nothing was scripted for a request.
    static func notScripted(method: String, path: String) -> MockResponse {
        json(status: 404, body: ["error": [
            "message": "MockHTTPServer: no response scripted for \(method) \(path)",
            "type": "mock_not_scripted",
        ] as [String: Any]])
    }

    /// Sets `headers` into `into`, replacing any existing header of the same name in any letter case.
    private static func mergeHeaders(_ into: inout [String: String], _ headers: [String: String]) {
        for (name, value) in headers {
            for key in into.keys where key.lowercased() == name.lowercased() { into[key] = nil }
            into[name] = value
        }
    }
}

/// JSON for the mock: sorted keys, no escaped slashes, fragments allowed. Traps on a non-JSON value.
func mockJSONData(_ value: Any) -> Data {
    if let data = value as? Data { return data }
    let options: JSONSerialization.WritingOptions = [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]
    guard JSONSerialization.isValidJSONObject(value) || isJSONFragment(value),
          let data = try? JSONSerialization.data(withJSONObject: value, options: options) else {
        preconditionFailure("MockHTTPServer: value is not JSON-serialisable: \(value)")
    }
    return data
}

private func isJSONFragment(_ value: Any) -> Bool {
    value is String || value is NSNumber || value is NSNull || value is Int || value is Double || value is Bool
}

// MARK: - Recorded requests

/// HTTP header fields in the order received; lookups ignore letter case.
struct MockHeaders: Sendable, CustomStringConvertible {
    let fields: [(name: String, value: String)]

    init(_ fields: [(name: String, value: String)]) { self.fields = fields }

    /// The value of the named header (case-insensitive); repeated fields are joined with ", ".
    subscript(_ name: String) -> String? {
        let all = values(name)
        return all.isEmpty ? nil : all.joined(separator: ", ")
    }

    /// Every value of the named header, in order (case-insensitive).
    func values(_ name: String) -> [String] {
        let lower = name.lowercased()
        return fields.filter { $0.name.lowercased() == lower }.map(\.value)
    }

    func contains(_ name: String) -> Bool { !values(name).isEmpty }

    /// Lower-cased names to values (repeated fields joined with ", ").
    var dictionary: [String: String] {
        var out: [String: String] = [:]
        for field in fields {
            let key = field.name.lowercased()
            out[key] = out[key].map { $0 + ", " + field.value } ?? field.value
        }
        return out
    }

    var description: String { fields.map { "\($0.name): \($0.value)" }.joined(separator: "\n") }
}

/// A request as the mock server received it.
struct RecordedRequest: Sendable, CustomStringConvertible {
    let method: String
    /// The request target as sent: path with query, e.g. `/v1/models?supported_parameters=tools`.
    let path: String
    /// `HTTP/1.1` or `HTTP/1.0`.
    let version: String
    let headers: MockHeaders
    /// The body, de-chunked if it was sent chunked.
    let body: Data
    /// 1-based number of the TCP connection it arrived on (order of accept).
    let connectionID: Int
    /// 0-based position of this request on its connection (1 and up: the connection was reused).
    let indexOnConnection: Int
    /// Monotonic time (`DispatchTime.now().uptimeNanoseconds`) at which the request was complete.
    let receivedAt: UInt64

    /// The path without the query string.
    var pathWithoutQuery: String {
        path.firstIndex(of: "?").map { String(path[..<$0]) } ?? path
    }

    /// The query string (without `?`), if any.
    var query: String? {
        path.firstIndex(of: "?").map { String(path[path.index(after: $0)...]) }
    }

    /// Decoded query items (empty when there is no query).
    var queryItems: [URLQueryItem] {
        URLComponents(string: "http://127.0.0.1" + path)?.queryItems ?? []
    }

    /// The named header (case-insensitive).
    func header(_ name: String) -> String? { headers[name] }

    /// The body as UTF-8 text (nil if it is not valid UTF-8).
    var bodyString: String? { String(data: body, encoding: .utf8) }

    /// The body parsed as a JSON object, or nil if it is not one.
    var bodyJSON: [String: Any]? { bodyJSONValue as? [String: Any] }

    /// The body parsed as any JSON value, or nil if it is not JSON.
    var bodyJSONValue: Any? {
        guard !body.isEmpty else { return nil }
        return try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])
    }

    var description: String {
        "\(method) \(path) (connection \(connectionID) #\(indexOnConnection), \(body.count) body bytes)"
    }
}
