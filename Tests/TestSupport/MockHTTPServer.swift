import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A scriptable HTTP/1.1 upstream for tests, on raw POSIX sockets, bound to 127.0.0.1 only.
///
/// - One thread per connection; keep-alive (several requests per connection) and pipelining; bodies by
///   `Content-Length` or chunked. `connectionCount` counts accepted TCP connections.
/// - Every request is recorded (`requests`, `waitForRequests(count:timeout:)`) before it is answered.
/// - Answers come from, in order: a response queued for the request's path (`enqueue(_:path:)`), the
///   general queue (`enqueue(_:)`), a route (`route(_:_:)`), `handler`, else a 404 JSON error.
/// - Client closes are detected while idle, while reading a request and while responding (during
///   `.sleep` and `.stall` within milliseconds, by poll()) and recorded with a monotonic timestamp
///   (`closeEvents`, `waitForClientClose(timeout:since:)`). Closes made by the server (`.close`,
///   `.reset`, `Connection: close`, `stop()`) are not client closes and are not recorded.
/// - `idleTimeout` (default off) makes the server close idle keep-alive connections, like real servers.
/// - Writes use `MSG_NOSIGNAL`, so a client that went away gives EPIPE/ECONNRESET, never SIGPIPE.
/// - `stop()` (also run by `deinit`) closes the listener and every connection and waits for the
///   threads to finish. Do not call it from inside a handler.
///
/// ```swift
/// let server = try MockHTTPServer()
/// defer { server.stop() }
/// server.enqueue(.sseStream(events: [#"{"choices":[]}"#]), path: "/v1/chat/completions")
/// // point the client at server.v1BaseURL ("http://127.0.0.1:<port>/v1") ...
/// XCTAssertTrue(server.waitForRequests(count: 1, timeout: 5))
/// XCTAssertEqual(server.requests[0].bodyJSON?["stream"] as? Bool, true)
/// ```
///
/// Thread safety: this facade only holds immutable state; everything mutable lives in `Core`, an
/// `@unchecked Sendable` class whose state is guarded by one `NSCondition`. The facade exists so that
/// the server threads (which retain the core, not the facade) never keep it alive: `deinit` runs when
/// the test drops its last reference, and stops everything.
final class MockHTTPServer: Sendable {
    typealias Handler = @Sendable (RecordedRequest) -> MockResponse

    /// A connection closed by the client (not by the server), as seen by the server.
    struct CloseEvent: Sendable, CustomStringConvertible {
        enum Reason: String, Sendable {
            /// A read returned 0 (FIN).
            case eof
            /// A read failed (typically ECONNRESET) or poll() reported an error/hang-up.
            case readError
            /// A write failed (EPIPE, ECONNRESET).
            case writeFailed
        }

        enum Phase: String, Sendable {
            /// Between requests (keep-alive idle) or before the first request.
            case idle
            /// In the middle of receiving a request.
            case readingRequest
            /// While a response script was running and its response was not complete yet (streaming,
            /// sleeping or stalled mid-body). A close after the last announced byte (e.g. during a
            /// `.sleep` that follows `.end`) counts as `.idle`.
            case responding
        }

        let connectionID: Int
        /// Monotonic time of detection (`DispatchTime.now().uptimeNanoseconds`).
        let timestamp: UInt64
        let reason: Reason
        let phase: Phase
        /// The request being answered when `phase == .responding`, e.g. `POST /v1/chat/completions`.
        let request: String?

        var description: String {
            "connection \(connectionID) closed by client (\(reason.rawValue), \(phase.rawValue)"
                + (request.map { ", during \($0)" } ?? "") + ")"
        }
    }

    enum StartError: Error, CustomStringConvertible {
        case socket(String, Int32)
        var description: String {
            switch self {
            case .socket(let call, let code): return "MockHTTPServer: \(call) failed: \(String(cString: strerror(code)))"
            }
        }
    }

    /// The port bound on 127.0.0.1.
    let port: Int
    private let core: Core

    /// Binds 127.0.0.1:`port` (0: an ephemeral port, read back with getsockname) and starts accepting.
    init(port: UInt16 = 0) throws {
        core = try Core(port: port)
        self.port = core.port
        core.start()
    }

    deinit { core.stop() }

    /// Monotonic clock used for every timestamp here, in nanoseconds.
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    // MARK: URLs

    /// `http://127.0.0.1:<port>`
    var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }
    /// `http://127.0.0.1:<port>/v1` (what the worker is pointed at).
    var v1BaseURL: String { "http://127.0.0.1:\(port)/v1" }
    /// `http://127.0.0.1:<port><path>`; `path` should start with `/` (a query may follow).
    func url(_ path: String) -> URL { URL(string: "http://127.0.0.1:\(port)\(path)")! }

    // MARK: Scripting

    /// Called for requests not answered by a queued response or a route (default: nil → 404).
    var handler: Handler? {
        get { core.locked { core.handler } }
        set { core.locked { core.handler = newValue } }
    }

    /// Queues a response. With `path`, it answers only the next request whose path equals `path`
    /// (compared without the query unless `path` contains `?`); without, the next request not answered
    /// by a path queue. Queued responses are used once, in order.
    func enqueue(_ response: MockResponse, path: String? = nil) {
        core.locked {
            if let path { core.pathQueues[path, default: []].append(response) } else { core.queue.append(response) }
        }
    }

    /// Queues a response for the next request to `path`, ahead of any already queued for it (for a request the
    /// worker makes by itself before those a test scripted, such as its connection warm-up).
    func enqueueFirst(_ response: MockResponse, path: String) {
        core.locked { core.pathQueues[path, default: []].insert(response, at: 0) }
    }

    /// Queues several responses, in order (see `enqueue(_:path:)`).
    func enqueue(contentsOf responses: [MockResponse], path: String? = nil) {
        for response in responses { enqueue(response, path: path) }
    }

    /// Answers every request whose path (without query) equals `path` with `handler`, when no queued
    /// response applies. Replaces an earlier route for the same path; nil removes it.
    func route(_ path: String, _ handler: Handler?) {
        core.locked { core.routes[path] = handler }
    }

    /// When set, the server closes a keep-alive connection that stayed idle (no request bytes) this long
    /// after its previous response or its accept, like llama.cpp / uvicorn (`Keep-Alive: timeout=5`).
    /// Not a client close: not recorded in `closeEvents`. Default nil: idle connections stay open.
    var idleTimeout: TimeInterval? {
        get { core.locked { core.idleTimeout } }
        set { core.locked { core.idleTimeout = newValue } }
    }

    /// Queued responses not used yet (all queues).
    var queuedResponseCount: Int {
        core.locked { core.queue.count + core.pathQueues.values.reduce(0) { $0 + $1.count } }
    }

    // MARK: Observation

    /// Snapshot of every request received, in order of completion.
    var requests: [RecordedRequest] { core.locked { core.requests } }
    /// The last request received, if any.
    var lastRequest: RecordedRequest? { core.locked { core.requests.last } }
    /// Number of TCP connections accepted so far.
    var connectionCount: Int { core.locked { core.accepted } }
    /// Number of connections currently open on the server side.
    var openConnectionCount: Int { core.locked { core.open.count } }

    /// Waits until at most `count` connections are open (closed by either side). False on timeout.
    @discardableResult
    func waitForOpenConnections(atMost count: Int, timeout: TimeInterval) -> Bool {
        core.wait(timeout: timeout) { core.open.count <= count }
    }
    /// Snapshot of the client closes seen so far, in order.
    var closeEvents: [CloseEvent] { core.locked { core.closeEvents } }
    /// Requests that could not be parsed (each answered with 400 and a close), as messages.
    var protocolErrors: [String] { core.locked { core.protocolErrors } }

    /// Waits until at least `count` requests were received. False on timeout.
    @discardableResult
    func waitForRequests(count: Int, timeout: TimeInterval) -> Bool {
        core.wait(timeout: timeout) { core.requests.count >= count }
    }

    /// Waits until at least `count` connections were accepted. False on timeout.
    @discardableResult
    func waitForConnections(count: Int, timeout: TimeInterval) -> Bool {
        core.wait(timeout: timeout) { core.accepted >= count }
    }

    /// Waits until at least `count` client closes were recorded. False on timeout.
    @discardableResult
    func waitForCloseEvents(count: Int, timeout: TimeInterval) -> Bool {
        core.wait(timeout: timeout) { core.closeEvents.count >= count }
    }

    /// Records "now" as the mark for `waitForClientClose` and returns it. Call it just before the action
    /// (e.g. sending `cancel` to the worker) whose effect you want to time.
    @discardableResult
    func mark() -> UInt64 {
        let now = Self.now()
        core.locked { core.mark = now }
        return now
    }

    /// Waits for the first client close detected at or after `since` (default: the last `mark()`, or the
    /// server's start) and returns how long after `since` it was detected, in seconds; nil on timeout.
    func waitForClientClose(timeout: TimeInterval, since: UInt64? = nil) -> TimeInterval? {
        let from = since ?? core.locked { core.mark }
        var found: CloseEvent?
        _ = core.wait(timeout: timeout) {
            found = core.closeEvents.first { $0.timestamp >= from }
            return found != nil
        }
        guard let event = found else { return nil }
        return TimeInterval(event.timestamp - from) / 1e9
    }

    /// Closes the listener and every connection, and waits (up to 5 s) for the server threads to end.
    /// Idempotent; also run by `deinit`.
    func stop() { core.stop() }
}

// MARK: - Core

extension MockHTTPServer {
    /// Lock-protected state and the socket threads. `@unchecked Sendable`: every mutable property is
    /// read and written only while holding `condition` (via `locked` / `wait`), except `listenFD` and
    /// `port`, which are set once in `init` before any thread starts.
    fileprivate final class Core: @unchecked Sendable {
        let condition = NSCondition()
        let threads = DispatchGroup()
        let listenFD: Int32
        let port: Int
        let startedAt = MockHTTPServer.now()

        // Guarded by `condition`.
        var stopping = false
        var listenerClosed = false
        var accepted = 0
        var open: [Int: Int32] = [:]
        var requests: [RecordedRequest] = []
        var closeEvents: [CloseEvent] = []
        var protocolErrors: [String] = []
        var queue: [MockResponse] = []
        var pathQueues: [String: [MockResponse]] = [:]
        var routes: [String: Handler] = [:]
        var handler: Handler?
        var idleTimeout: TimeInterval?
        var mark: UInt64

        init(port requestedPort: UInt16) throws {
            mark = startedAt
            let fd = socket(AF_INET, Int32(sockStream) | Int32(sockCloexec), 0)
            guard fd >= 0 else { throw StartError.socket("socket", errno) }
            var yes: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = requestedPort.bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else { let e = errno; close(fd); throw StartError.socket("bind", e) }
            guard listen(fd, 128) == 0 else { let e = errno; close(fd); throw StartError.socket("listen", e) }
            var actual = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &actual) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard named == 0 else { let e = errno; close(fd); throw StartError.socket("getsockname", e) }
            listenFD = fd
            port = Int(UInt16(bigEndian: actual.sin_port))
        }

        func locked<T>(_ body: () throws -> T) rethrows -> T {
            condition.lock()
            defer { condition.unlock() }
            return try body()
        }

        /// Waits until `predicate` (evaluated under the lock) holds; false on timeout.
        func wait(timeout: TimeInterval, _ predicate: () -> Bool) -> Bool {
            let deadline = Date(timeIntervalSinceNow: timeout)
            condition.lock()
            defer { condition.unlock() }
            while !predicate() {
                if !condition.wait(until: deadline) { return predicate() }
            }
            return true
        }

        /// Mutates state under the lock and wakes every waiter.
        func update(_ body: () -> Void) {
            condition.lock()
            body()
            condition.broadcast()
            condition.unlock()
        }

        var isStopping: Bool { locked { stopping } }

        func start() {
            threads.enter()
            let thread = Thread { [self] in
                acceptLoop()
                threads.leave()
            }
            thread.name = "MockHTTPServer.accept:\(port)"
            thread.start()
        }

        func stop() {
            var alreadyStopping = false
            update {
                alreadyStopping = stopping
                stopping = true
                // shutdown() (not close()) wakes the threads blocked on these sockets; each fd is closed by
                // its own thread, under the lock, after it leaves `open`, so these fds are still ours.
                for fd in open.values { shutdown(fd, Int32(SHUT_RDWR)) }
                if !listenerClosed { shutdown(listenFD, Int32(SHUT_RDWR)) }
            }
            if alreadyStopping { return }
            _ = threads.wait(timeout: .now() + 5)
        }

        // MARK: Accept

        private func acceptLoop() {
            while !isStopping {
                var pfd = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
                let ready = poll(&pfd, 1, 20)
                if ready <= 0 { continue }
                var addr = sockaddr_storage()
                var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let fd = withUnsafeMutablePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { acceptCloexec(listenFD, $0, &length) }
                }
                if fd < 0 { continue }
                var yes: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
                #if canImport(Darwin)
                setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &yes, socklen_t(MemoryLayout<Int32>.size))
                #endif
                let id: Int? = locked {
                    if stopping { return nil }
                    accepted += 1
                    open[accepted] = fd
                    threads.enter()
                    condition.broadcast()
                    return accepted
                }
                guard let id else { close(fd); break }
                let thread = Thread { [self] in
                    Connection(core: self, id: id, fd: fd).serve()
                    closeConnection(id: id, fd: fd, reset: false)
                    threads.leave()
                }
                thread.name = "MockHTTPServer.connection:\(port)#\(id)"
                thread.start()
            }
            locked {
                listenerClosed = true
                close(listenFD)
            }
        }

        /// Closes a connection's fd once (under the lock, so `stop()` never shuts down a reused fd number).
        func closeConnection(id: Int, fd: Int32, reset: Bool) {
            update {
                guard open.removeValue(forKey: id) != nil else { return }
                if reset {
                    var noLinger = linger(l_onoff: 1, l_linger: 0)
                    setsockopt(fd, SOL_SOCKET, SO_LINGER, &noLinger, socklen_t(MemoryLayout<linger>.size))
                }
                close(fd)
            }
        }

        // MARK: Recording and dispatch

        func record(_ request: RecordedRequest) {
            update { requests.append(request) }
        }

        func recordClose(_ event: CloseEvent) {
            update {
                // Closes caused by stop() (shutdown of our side) are not the client's doing.
                if !stopping { closeEvents.append(event) }
            }
        }

        func recordProtocolError(_ message: String) {
            update { protocolErrors.append(message) }
        }

        /// The response for a request: path queue, general queue, route, handler, 404.
        func response(for request: RecordedRequest) -> MockResponse {
            let chosen: Handler? = locked {
                let bare = request.pathWithoutQuery
                for key in [request.path, bare] where pathQueues[key]?.isEmpty == false {
                    let response = pathQueues[key]!.removeFirst()
                    return { _ in response }
                }
                if !queue.isEmpty {
                    let response = queue.removeFirst()
                    return { _ in response }
                }
                return routes[bare] ?? handler
            }
            guard let chosen else { return .notScripted(method: request.method, path: request.path) }
            return chosen(request)  // outside the lock: a handler may read the server's state
        }
    }
}

// MARK: - Connection

extension MockHTTPServer {
    /// Serves one TCP connection on its own thread. Only that thread touches this object.
    fileprivate final class Connection {
        enum Outcome {
            /// The response is complete and the connection stays open.
            case keepAlive
            /// The connection must end (closed by the script, the client, a failed write or stop()).
            case finished
        }

        /// The framing state of the response being written.
        struct ResponseState {
            var headSent = false
            var chunked = false
            var contentLength: Int?
            var bodyWritten = 0
            var noBody = false
            var ended = false
            var closeAfter = false
            /// `.raw` bytes were written without a head or inside a chunked body.
            var framingUnknown = false

            /// Everything the head announced was written: a close now happens between responses.
            var isComplete: Bool {
                if ended { return true }
                guard headSent, !chunked else { return false }
                if noBody { return true }
                guard let contentLength else { return false }
                return bodyWritten >= contentLength
            }
        }

        let core: Core
        let id: Int
        let fd: Int32
        var parser = HTTPRequestParser()
        var readBuffer = [UInt8](repeating: 0, count: 65536)
        var index = 0
        /// The request being answered, for close events ("POST /v1/chat/completions").
        var current: String?

        init(core: Core, id: Int, fd: Int32) {
            self.core = core
            self.id = id
            self.fd = fd
        }

        func serve() {
            var continueSent = false
            var idleSince = MockHTTPServer.now()
            while !core.isStopping {
                let next: (head: HTTPRequestHead, body: Data)?
                do {
                    next = try parser.nextRequest()
                } catch {
                    core.recordProtocolError("connection \(id): \(error)")
                    _ = write(Data("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
                    return
                }
                if let (head, body) = next {
                    continueSent = false
                    let request = RecordedRequest(
                        method: head.method, path: head.target, version: head.version, headers: head.headers,
                        body: body, connectionID: id, indexOnConnection: index, receivedAt: MockHTTPServer.now())
                    index += 1
                    core.record(request)
                    let response = core.response(for: request)
                    current = "\(head.method) \(head.target)"
                    let outcome = run(response, clientWantsClose: head.wantsClose)
                    current = nil
                    if case .finished = outcome { return }
                    idleSince = MockHTTPServer.now()
                    continue
                }
                if parser.awaitingContinue && !continueSent {
                    continueSent = true
                    guard write(Data("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return }
                }
                let phase: CloseEvent.Phase = parser.hasPartialRequest ? .readingRequest : .idle
                var idleDeadline: UInt64?
                if phase == .idle, let timeout = core.locked({ core.idleTimeout }) {
                    idleDeadline = idleSince + UInt64(max(0, timeout) * 1e9)
                }
                guard waitForBytes(until: idleDeadline, phase: phase) else { return }
                if let idleDeadline, !parser.hasPartialRequest, MockHTTPServer.now() >= idleDeadline {
                    return  // idle timeout: the server closes the connection
                }
            }
        }

        // MARK: Socket primitives

        /// Waits until bytes arrive (appended to the parser) or `deadline` passes (true in both cases).
        /// False if the client closed (recorded with `phase`) or the server is stopping.
        func waitForBytes(until deadline: UInt64?, phase: CloseEvent.Phase) -> Bool {
            while true {
                if core.isStopping { return false }
                var timeoutMs: Int32 = 25
                if let deadline {
                    let now = MockHTTPServer.now()
                    if now >= deadline { return true }
                    timeoutMs = Int32(min(25, max(1, (deadline - now + 999_999) / 1_000_000)))
                }
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&pfd, 1, timeoutMs)
                if ready < 0 {
                    if errno == EINTR { continue }
                    noteClientClose(.readError, phase: phase)
                    return false
                }
                if ready == 0 { continue }
                switch readAvailable() {
                case .data: return true
                case .closed(let reason):
                    noteClientClose(reason, phase: phase)
                    return false
                }
            }
        }

        enum ReadResult { case data, closed(CloseEvent.Reason) }

        /// One read() after poll() said the socket is readable.
        func readAvailable() -> ReadResult {
            while true {
                let n = readBuffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 {
                    readBuffer.withUnsafeBytes { parser.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    return .data
                }
                if n == 0 { return .closed(.eof) }
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return .data }
                return .closed(.readError)
            }
        }

        /// Without blocking: has the client closed? Bytes that arrived are kept for the next request.
        func clientHasClosed(phase: CloseEvent.Phase) -> Bool {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 0) > 0 else { return false }
            if case .closed(let reason) = readAvailable() {
                noteClientClose(reason, phase: phase)
                return true
            }
            return false
        }

        /// Writes everything; false (and a recorded close) if the client is gone.
        func write(_ data: Data) -> Bool {
            if data.isEmpty { return true }
            let ok = data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Bool in
                var offset = 0
                while offset < raw.count {
                    let n = send(fd, raw.baseAddress! + offset, raw.count - offset, sendFlags)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return false
                    }
                    offset += n
                }
                return true
            }
            if !ok { noteClientClose(.writeFailed, phase: .responding) }
            return ok
        }

        func noteClientClose(_ reason: CloseEvent.Reason, phase: CloseEvent.Phase) {
            core.recordClose(CloseEvent(connectionID: id, timestamp: MockHTTPServer.now(), reason: reason,
                                        phase: phase, request: phase == .responding ? current : nil))
        }

        // MARK: Running a script

        func run(_ response: MockResponse, clientWantsClose: Bool) -> Outcome {
            var state = ResponseState()
            state.closeAfter = clientWantsClose
            for action in response.actions {
                if core.isStopping { return .finished }
                if clientHasClosed(phase: state.isComplete ? .idle : .responding) { return .finished }
                switch action {
                case .status(let code, let headers):
                    guard writeHead(code, headers, &state) else { return .finished }
                case .body(let data, let contentType):
                    if !state.headSent {
                        var headers = ["Content-Length": String(data.count)]
                        if let contentType { headers["Content-Type"] = contentType }
                        guard writeHead(200, headers, &state) else { return .finished }
                    }
                    guard writeBody(data, &state) else { return .finished }
                case .chunk(let data):
                    if !state.headSent { guard writeHead(200, [:], &state) else { return .finished } }
                    guard writeBody(data, &state) else { return .finished }
                case .sse(let text):
                    if !state.headSent {
                        let headers = ["Content-Type": "text/event-stream", "Cache-Control": "no-cache"]
                        guard writeHead(200, headers, &state) else { return .finished }
                    }
                    guard writeBody(Data("data: \(text)\n\n".utf8), &state) else { return .finished }
                case .raw(let data):
                    if state.headSent && !state.chunked {
                        state.bodyWritten += data.count
                    } else {
                        state.framingUnknown = true
                    }
                    guard write(data) else { return .finished }
                case .sleep(let seconds):
                    let deadline = MockHTTPServer.now() + UInt64(max(0, seconds) * 1e9)
                    while MockHTTPServer.now() < deadline {
                        guard waitForBytes(until: deadline, phase: state.isComplete ? .idle : .responding) else { return .finished }
                    }
                case .stall:
                    while waitForBytes(until: nil, phase: state.isComplete ? .idle : .responding) {}
                    return .finished
                case .close:
                    core.closeConnection(id: id, fd: fd, reset: false)
                    return .finished
                case .reset:
                    core.closeConnection(id: id, fd: fd, reset: true)
                    return .finished
                case .end:
                    guard finish(&state, explicit: true) else { return .finished }
                }
            }
            guard finish(&state, explicit: false) else { return .finished }
            return state.closeAfter ? .finished : .keepAlive
        }

        /// Writes a status line and headers, adding framing headers as documented on `MockAction`.
        func writeHead(_ code: Int, _ headers: [String: String], _ state: inout ResponseState) -> Bool {
            var headers = headers
            let lower = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
            let interim = (100..<200).contains(code)
            if !interim {
                state = ResponseState(headSent: true, closeAfter: state.closeAfter)
                if let length = lower["content-length"] {
                    state.contentLength = Int(length.trimmingCharacters(in: .whitespaces))
                } else if let encoding = lower["transfer-encoding"] {
                    state.chunked = encoding.lowercased().contains("chunked")
                } else if code == 204 || code == 304 {
                    state.noBody = true
                } else {
                    headers["Transfer-Encoding"] = "chunked"
                    state.chunked = true
                }
                if (lower["connection"] ?? "").lowercased().contains("close") {
                    state.closeAfter = true
                } else if state.closeAfter && lower["connection"] == nil {
                    headers["Connection"] = "close"
                }
            }
            var text = "HTTP/1.1 \(code) \(Self.reasonPhrase(code))\r\n"
            for name in headers.keys.sorted() { text += "\(name): \(headers[name]!)\r\n" }
            text += "\r\n"
            return write(Data(text.utf8))
        }

        /// Body bytes, framed by the head: a chunk if chunked, else as they are.
        func writeBody(_ data: Data, _ state: inout ResponseState) -> Bool {
            if data.isEmpty { return true }
            if state.chunked {
                var framed = Data(String(data.count, radix: 16).utf8)
                framed.append(contentsOf: [0x0D, 0x0A])
                framed.append(data)
                framed.append(contentsOf: [0x0D, 0x0A])
                return write(framed)
            }
            state.bodyWritten += data.count
            return write(data)
        }

        /// Completes the response (see `MockAction.end` and the end-of-script rule); may set
        /// `closeAfter`. False only if a write failed.
        func finish(_ state: inout ResponseState, explicit: Bool) -> Bool {
            if state.ended { return true }
            if !state.headSent {
                state.ended = true
                if state.framingUnknown {
                    if !explicit { state.closeAfter = true }
                    return true
                }
                let ok = writeHead(200, ["Content-Length": "0"], &state)
                state.ended = true
                return ok
            }
            state.ended = true
            if state.chunked {
                if state.framingUnknown && !explicit {
                    state.closeAfter = true
                    return true
                }
                return write(Data("0\r\n\r\n".utf8))
            }
            if let length = state.contentLength, state.bodyWritten < length {
                state.closeAfter = true  // truncated body: only a close lets the client see the end
            }
            return true
        }

        static func reasonPhrase(_ code: Int) -> String {
            switch code {
            case 100: return "Continue"
            case 200: return "OK"
            case 201: return "Created"
            case 202: return "Accepted"
            case 204: return "No Content"
            case 301: return "Moved Permanently"
            case 302: return "Found"
            case 304: return "Not Modified"
            case 400: return "Bad Request"
            case 401: return "Unauthorized"
            case 402: return "Payment Required"
            case 403: return "Forbidden"
            case 404: return "Not Found"
            case 405: return "Method Not Allowed"
            case 408: return "Request Timeout"
            case 409: return "Conflict"
            case 413: return "Content Too Large"
            case 422: return "Unprocessable Content"
            case 429: return "Too Many Requests"
            case 500: return "Internal Server Error"
            case 502: return "Bad Gateway"
            case 503: return "Service Unavailable"
            case 504: return "Gateway Timeout"
            default: return "Status"
            }
        }
    }
}

// MARK: - Platform differences

#if os(Linux)
private let sockStream = Int32(SOCK_STREAM.rawValue)
private let sockCloexec = Int32(SOCK_CLOEXEC.rawValue)
private let sendFlags = Int32(MSG_NOSIGNAL)
#else
private let sockStream = SOCK_STREAM
private let sockCloexec: Int32 = 0
private let sendFlags: Int32 = 0  // SO_NOSIGPIPE is set on each accepted socket instead
#endif

/// accept() with close-on-exec set, so a worker subprocess spawned later does not inherit the socket
/// (which would keep the connection open after we close it). Glibc's module does not export accept4.
private func acceptCloexec(_ fd: Int32, _ addr: UnsafeMutablePointer<sockaddr>, _ len: UnsafeMutablePointer<socklen_t>) -> Int32 {
    let client = accept(fd, addr, len)
    if client >= 0 { _ = fcntl(client, F_SETFD, FD_CLOEXEC) }
    return client
}
