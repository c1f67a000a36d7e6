import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import XCTest
@testable import LLMWorkerTestSupport

/// Tests of the test suite's mock upstream (`Tests/TestSupport/MockHTTPServer.swift`), through URLSession (what the
/// worker uses) and through a raw socket where exact bytes matter.
final class MockHTTPServerTests: XCTestCase {
    private var server: MockHTTPServer!
    private var session: URLSession!

    override func setUpWithError() throws {
        server = try MockHTTPServer()
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 10
        session = URLSession(configuration: configuration)
    }

    override func tearDown() {
        session.invalidateAndCancel()
        server.stop()
        server = nil
        session = nil
    }

    // MARK: URLSession

    func testJSONResponse() throws {
        server.enqueue(.json(status: 201, body: ["answer": 42, "list": [1, 2]], headers: ["X-Test": "yes"]))
        let result = fetch(URLRequest(url: server.url("/v1/things")))
        XCTAssertNil(result.error)
        XCTAssertEqual(result.response?.statusCode, 201)
        XCTAssertEqual(result.response?.value(forHTTPHeaderField: "Content-Type"), "application/json")
        XCTAssertEqual(result.response?.value(forHTTPHeaderField: "x-test"), "yes")
        XCTAssertEqual(String(decoding: result.data ?? Data(), as: UTF8.self), #"{"answer":42,"list":[1,2]}"#)
    }

    func testDefaultIs404JSONError() throws {
        let result = fetch(URLRequest(url: server.url("/nothing")))
        XCTAssertEqual(result.response?.statusCode, 404)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: result.data ?? Data()) as? [String: Any])
        XCTAssertNotNil((json["error"] as? [String: Any])?["message"])
    }

    func testSSEStreamArrivesInOrder() throws {
        server.enqueue(.sseStream(events: ["one", "two", "three"], delay: 0.01))
        let delegate = StreamingDelegate()
        let streaming = URLSession(configuration: .ephemeral, delegate: delegate, delegateQueue: nil)
        defer { streaming.invalidateAndCancel() }
        streaming.dataTask(with: server.url("/v1/chat/completions")).resume()
        XCTAssertTrue(delegate.waitUntilComplete(timeout: 5))
        XCTAssertNil(delegate.snapshot.error)
        XCTAssertEqual(String(decoding: delegate.snapshot.data, as: UTF8.self),
                       "data: one\n\ndata: two\n\ndata: three\n\ndata: [DONE]\n\n")
        XCTAssertGreaterThan(delegate.snapshot.pieces, 1, "the events were delayed, so they arrive in several reads")
        XCTAssertEqual((delegate.snapshot.response as? HTTPURLResponse)?
            .value(forHTTPHeaderField: "Content-Type"), "text/event-stream")
    }

    func testKeepAliveReusesOneConnection() throws {
        server.enqueue(contentsOf: (0..<3).map { .json(body: ["n": $0]) })
        for i in 0..<3 {
            let result = fetch(URLRequest(url: server.url("/v1/models")))
            XCTAssertNil(result.error)
            XCTAssertEqual(String(decoding: result.data ?? Data(), as: UTF8.self), #"{"n":\#(i)}"#)
        }
        XCTAssertEqual(server.connectionCount, 1)
        XCTAssertEqual(server.requests.map(\.indexOnConnection), [0, 1, 2])
        XCTAssertEqual(server.requests.map(\.connectionID), [1, 1, 1])
    }

    func testChunkedStreamKeepsConnectionAlive() throws {
        server.enqueue(.sseStream(events: ["a"]))
        server.enqueue([.status(200), .chunkText("hello "), .chunkText("world"), .end])
        XCTAssertEqual(String(decoding: fetch(URLRequest(url: server.url("/a"))).data ?? Data(), as: UTF8.self),
                       "data: a\n\ndata: [DONE]\n\n")
        XCTAssertEqual(String(decoding: fetch(URLRequest(url: server.url("/b"))).data ?? Data(), as: UTF8.self),
                       "hello world")
        XCTAssertEqual(server.connectionCount, 1)
    }

    func testIdleTimeoutClosesKeepAliveConnectionsAndClientsReconnect() throws {
        server.idleTimeout = 0.1
        server.enqueue(contentsOf: [.text("one"), .text("two"), .text("three")])
        XCTAssertEqual(String(decoding: fetch(URLRequest(url: server.url("/1"))).data ?? Data(), as: UTF8.self), "one")
        XCTAssertEqual(String(decoding: fetch(URLRequest(url: server.url("/2"))).data ?? Data(), as: UTF8.self), "two")
        XCTAssertEqual(server.connectionCount, 1)
        XCTAssertTrue(waitUntil(timeout: 2) { self.server.openConnectionCount == 0 })
        XCTAssertEqual(String(decoding: fetch(URLRequest(url: server.url("/3"))).data ?? Data(), as: UTF8.self), "three")
        XCTAssertEqual(server.connectionCount, 2)
        XCTAssertTrue(server.closeEvents.isEmpty)
    }

    func testSplitBytesDeliversPiecesSeparately() throws {
        let body = Data("data: {\"x\":\"é\"}\n\ndata: [DONE]\n\n".utf8)
        for chunked in [false, true] {
            server.enqueue(.splitBytes(body, at: [3, 12, 13, 20], delay: 0.02, chunked: chunked))
            let delegate = StreamingDelegate()
            let streaming = URLSession(configuration: .ephemeral, delegate: delegate, delegateQueue: nil)
            defer { streaming.invalidateAndCancel() }
            streaming.dataTask(with: server.url("/split")).resume()
            XCTAssertTrue(delegate.waitUntilComplete(timeout: 5))
            XCTAssertNil(delegate.snapshot.error)
            XCTAssertEqual(delegate.snapshot.data, body, "chunked: \(chunked)")
            XCTAssertGreaterThanOrEqual(delegate.snapshot.pieces, 3, "chunked: \(chunked)")
        }
    }

    func testCloseMidBodyIsAnErrorForTheClient() throws {
        // Content-Length announced, fewer bytes sent, then close.
        server.enqueue([.status(200, headers: ["Content-Length": "100"]), .body(Data("partial".utf8)), .close])
        XCTAssertNotNil(fetch(URLRequest(url: server.url("/cl"))).error)
        // Chunked stream cut before its terminating chunk.
        server.enqueue([.status(200, headers: ["Content-Type": "text/event-stream"]), .sse("one"),
                        .sleep(0.02), .close])
        XCTAssertNotNil(fetch(URLRequest(url: server.url("/chunked"))).error)
        // Reset.
        server.enqueue([.status(200), .sse("one"), .sleep(0.02), .reset])
        XCTAssertNotNil(fetch(URLRequest(url: server.url("/reset"))).error)
        XCTAssertTrue(server.closeEvents.isEmpty, "server-side closes are not client closes: \(server.closeEvents)")
    }

    func testStallThenClientCancelIsSeenAsClose() throws {
        server.enqueue([.status(200, headers: ["Content-Type": "text/event-stream"]), .sse("first"), .stall],
                       path: "/v1/chat/completions")
        let delegate = StreamingDelegate()
        let streaming = URLSession(configuration: .ephemeral, delegate: delegate, delegateQueue: nil)
        defer { streaming.invalidateAndCancel() }
        let task = streaming.dataTask(with: server.url("/v1/chat/completions"))
        task.resume()
        XCTAssertTrue(delegate.wait(timeout: 5) { !$0.data.isEmpty })
        Thread.sleep(forTimeInterval: 0.05)
        XCTAssertTrue(server.closeEvents.isEmpty)
        server.mark()
        task.cancel()
        // Seen while the response stalls for ever: no timing bound beyond that (tests do not time machines).
        XCTAssertNotNil(server.waitForClientClose(timeout: 10), "close not detected")
        let event = try XCTUnwrap(server.closeEvents.first)
        XCTAssertEqual(event.phase, .responding)
        XCTAssertEqual(event.request, "GET /v1/chat/completions")
        XCTAssertEqual(event.connectionID, 1)
        XCTAssertTrue(delegate.waitUntilComplete(timeout: 2))
        XCTAssertEqual((delegate.snapshot.error as? URLError)?.code, .cancelled)
    }

    func testRecordsMethodPathHeadersAndBody() throws {
        server.handler = { request in .json(body: ["echo": request.bodyJSON?["model"] ?? NSNull()]) }
        var request = URLRequest(url: server.url("/v1/chat/completions?trace=1&x=a%20b"))
        request.httpMethod = "POST"
        request.setValue("Bearer sk-test", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("CAAL", forHTTPHeaderField: "X-OpenRouter-Title")
        request.httpBody = Data(#"{"model":"m1","stream":true,"messages":[{"role":"user","content":"hi"}]}"#.utf8)
        let result = fetch(request)
        XCTAssertEqual(String(decoding: result.data ?? Data(), as: UTF8.self), #"{"echo":"m1"}"#)

        XCTAssertTrue(server.waitForRequests(count: 1, timeout: 10))
        let recorded = try XCTUnwrap(server.lastRequest)
        XCTAssertEqual(recorded.method, "POST")
        XCTAssertEqual(recorded.path, "/v1/chat/completions?trace=1&x=a%20b")
        XCTAssertEqual(recorded.pathWithoutQuery, "/v1/chat/completions")
        XCTAssertEqual(recorded.query, "trace=1&x=a%20b")
        XCTAssertEqual(recorded.queryItems.first { $0.name == "x" }?.value, "a b")
        XCTAssertEqual(recorded.header("authorization"), "Bearer sk-test")
        XCTAssertEqual(recorded.headers["AUTHORIZATION"], "Bearer sk-test")
        XCTAssertEqual(recorded.headers["x-openrouter-title"], "CAAL")
        XCTAssertEqual(recorded.headers.dictionary["content-type"], "application/json")
        XCTAssertEqual(recorded.bodyJSON?["model"] as? String, "m1")
        XCTAssertEqual(recorded.bodyJSON?["stream"] as? Bool, true)
        XCTAssertEqual((recorded.bodyJSON?["messages"] as? [[String: Any]])?.first?["content"] as? String, "hi")
        XCTAssertGreaterThan(recorded.receivedAt, 0)
    }

    func testAnswerOrderPathQueueThenQueueThenRouteThenHandler() throws {
        server.handler = { _ in .text("handler") }
        server.route("/r") { request in .text("route \(request.query ?? "")") }
        server.enqueue(.text("queued"))
        server.enqueue(.text("for /p"), path: "/p")
        server.enqueue(.text("for /p?q=2"), path: "/p?q=2")
        func get(_ path: String) -> String {
            String(decoding: fetch(URLRequest(url: server.url(path))).data ?? Data(), as: UTF8.self)
        }
        XCTAssertEqual(server.queuedResponseCount, 3)
        XCTAssertEqual(get("/p?q=2"), "for /p?q=2")
        XCTAssertEqual(get("/p?q=1"), "for /p")
        XCTAssertEqual(get("/r?z"), "queued")
        XCTAssertEqual(get("/r?z"), "route z")
        XCTAssertEqual(get("/other"), "handler")
        XCTAssertEqual(server.queuedResponseCount, 0)
        XCTAssertFalse(server.waitForRequests(count: 6, timeout: 0.05))
        XCTAssertTrue(server.waitForRequests(count: 5, timeout: 0))
    }

    // MARK: Raw socket

    func testExactChunkedFramingAndPipelining() throws {
        server.enqueue([.sse("a"), .end])
        server.enqueue(.empty(status: 204))
        let client = try RawClient(port: server.port)
        try client.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n")
        let expected = "HTTP/1.1 200 OK\r\nCache-Control: no-cache\r\nContent-Type: text/event-stream\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n9\r\ndata: a\n\n\r\n0\r\n\r\n"
            + "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
        XCTAssertEqual(client.read(until: { $0.utf8.count >= expected.utf8.count }, timeout: 2), expected)
        XCTAssertEqual(server.requests.map(\.path), ["/one", "/two"], "\(server.protocolErrors)")
        XCTAssertEqual(server.connectionCount, 1)
    }

    func testChunkedRequestBodyAndExpectContinue() throws {
        server.handler = { request in .text(request.bodyString ?? "?") }
        let client = try RawClient(port: server.port)
        try client.send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n")
        Thread.sleep(forTimeInterval: 0.02)
        try client.send("0\r\nTrailer: t\r\n\r\n")
        XCTAssertTrue(client.read(until: { $0.hasSuffix("hello world") }, timeout: 2).hasSuffix("hello world"))
        try client.send("PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        XCTAssertEqual(client.read(until: { $0.contains("\r\n\r\n") }, timeout: 2), "HTTP/1.1 100 Continue\r\n\r\n")
        try client.send("abc")
        XCTAssertTrue(client.read(until: { $0.hasSuffix("abc") }, timeout: 2).hasPrefix("HTTP/1.1 200 OK"))
        XCTAssertEqual(server.requests.map { String(decoding: $0.body, as: UTF8.self) }, ["hello world", "abc"])
        XCTAssertEqual(server.requests.map(\.indexOnConnection), [0, 1])
    }

    func testMalformedRequestGets400AndClose() throws {
        let client = try RawClient(port: server.port)
        try client.send("NONSENSE\r\n\r\n")
        XCTAssertTrue(client.readToEnd(timeout: 2).hasPrefix("HTTP/1.1 400 Bad Request"))
        XCTAssertEqual(server.protocolErrors.count, 1, "\(server.protocolErrors)")
        XCTAssertTrue(server.requests.isEmpty)
    }

    func testResetSendsRST() throws {
        server.enqueue([.status(200, headers: ["Content-Length": "10"]), .rawText("abc"), .sleep(0.02), .reset])
        let client = try RawClient(port: server.port)
        try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(client.readToEnd(timeout: 2).hasSuffix("abc"))
        XCTAssertEqual(client.lastErrno, ECONNRESET)
    }

    func testConnectionCloseRequestIsHonoured() throws {
        server.enqueue(.sseStream(events: ["x"]))
        let client = try RawClient(port: server.port)
        try client.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let text = client.readToEnd(timeout: 2)
        XCTAssertTrue(text.contains("Connection: close\r\n"))
        XCTAssertTrue(text.hasSuffix("0\r\n\r\n"))
        XCTAssertEqual(client.lastErrno, 0, "clean FIN")
        XCTAssertTrue(server.closeEvents.isEmpty)
    }

    func testClientCloseDuringSleepAndWhileIdleIsRecorded() throws {
        server.enqueue([.status(200), .sse("1"), .sleep(30), .sse("2")])
        server.enqueue(.text("ok"))
        let streaming = try RawClient(port: server.port)
        try streaming.send("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        _ = streaming.read(until: { $0.contains("data: 1") }, timeout: 2)
        let mark = server.mark()
        streaming.close()
        // Seen during the 30 s sleep, not when it ends.
        XCTAssertNotNil(server.waitForClientClose(timeout: 10, since: mark))

        let idle = try RawClient(port: server.port)
        try idle.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = idle.read(until: { $0.hasSuffix("ok") }, timeout: 2)
        idle.close()
        XCTAssertTrue(server.waitForCloseEvents(count: 2, timeout: 2))
        let events = server.closeEvents
        XCTAssertEqual(events.map(\.phase), [.responding, .idle])
        XCTAssertEqual(events.map(\.connectionID), [1, 2])
        XCTAssertEqual(events[0].request, "POST /slow")
        XCTAssertLessThanOrEqual(mark, events[0].timestamp)
    }

    func testWritesToAGoneClientDoNotKillTheProcess() throws {
        // A fast stream to a client that disappears: EPIPE/ECONNRESET, never SIGPIPE.
        let big = Data(repeating: 0x61, count: 64 * 1024)
        server.enqueue(MockResponse([.status(200)] + Array(repeating: MockAction.chunk(big), count: 200)))
        let client = try RawClient(port: server.port)
        try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = client.read(until: { $0.count > 1000 }, timeout: 2)
        client.close()
        XCTAssertTrue(server.waitForCloseEvents(count: 1, timeout: 2))
        XCTAssertEqual(server.closeEvents.first?.phase, .responding)
        XCTAssertTrue(waitUntil(timeout: 2) { self.server.openConnectionCount == 0 })
    }

    func testStopClosesEverythingAndIsIdempotent() throws {
        server.enqueue([.status(200), .stall])
        let stalled = try RawClient(port: server.port)
        try stalled.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertTrue(stalled.read(until: { $0.hasSuffix("\r\n\r\n") }, timeout: 2).hasPrefix("HTTP/1.1 200 OK"))
        let idle = try RawClient(port: server.port)
        XCTAssertTrue(server.waitForConnections(count: 2, timeout: 2))
        server.stop()
        server.stop()
        XCTAssertEqual(server.openConnectionCount, 0)
        XCTAssertEqual(stalled.readToEnd(timeout: 10), "")
        XCTAssertEqual(idle.readToEnd(timeout: 10), "")
        XCTAssertTrue(stalled.peerClosed && idle.peerClosed, "both connections were closed by stop()")
        XCTAssertTrue(server.closeEvents.isEmpty)
        XCTAssertThrowsError(try RawClient(port: server.port), "listener closed")
    }

    func testDeinitStopsTheServer() throws {
        weak var weakServer: MockHTTPServer?
        var client: RawClient?
        try {
            let local = try MockHTTPServer()
            weakServer = local
            local.enqueue([.status(200), .stall])
            client = try RawClient(port: local.port)
            try client?.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            XCTAssertTrue(client?.read(until: { $0.hasSuffix("\r\n\r\n") }, timeout: 2).hasPrefix("HTTP/1.1 200 OK") ?? false)
        }()
        XCTAssertNil(weakServer)
        XCTAssertEqual(client?.readToEnd(timeout: 10), "")
        XCTAssertEqual(client?.peerClosed, true, "the connection was closed by deinit")
    }

    func testNoFileDescriptorOrThreadLeaks() throws {
        guard FileManager.default.fileExists(atPath: "/proc/self/task") else {
            throw XCTSkip("counts /proc/self/fd and /proc/self/task, which this system does not have")
        }
        func openFDs() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1 }
        func threads() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1 }
        server.stop()
        let fdsBefore = openFDs()
        let threadsBefore = threads()
        for _ in 0..<20 {
            let local = try MockHTTPServer()
            local.enqueue(contentsOf: [.text("a"), [.status(200), .stall]])
            let first = try RawClient(port: local.port)
            try first.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = first.read(until: { $0.hasSuffix("a") }, timeout: 2)
            let second = try RawClient(port: local.port)
            try second.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = second.read(until: { $0.hasSuffix("\r\n\r\n") }, timeout: 2)
            local.stop()
        }
        XCTAssertEqual(openFDs(), fdsBefore)
        XCTAssertTrue(waitUntil(timeout: 2) { threads() <= threadsBefore }, "threads: \(threads()) > \(threadsBefore)")
    }

    // MARK: Helpers

    private struct FetchResult {
        var data: Data?
        var response: HTTPURLResponse?
        var error: Error?
    }

    /// One request on the shared session, waited for synchronously.
    private func fetch(_ request: URLRequest, timeout: TimeInterval = 10) -> FetchResult {
        let box = LockedBox(FetchResult())
        let done = DispatchSemaphore(value: 0)
        session.dataTask(with: request) { data, response, error in
            box.set(FetchResult(data: data, response: response as? HTTPURLResponse, error: error))
            done.signal()
        }.resume()
        if done.wait(timeout: .now() + timeout) == .timedOut { XCTFail("request timed out") }
        return box.get()
    }

    private func waitUntil(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while !condition() {
            if Date() > deadline { return false }
            Thread.sleep(forTimeInterval: 0.005)
        }
        return true
    }
}

/// A value behind a lock. `@unchecked Sendable`: `value` is only touched while holding `lock`.
private final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ newValue: Value) { lock.lock(); value = newValue; lock.unlock() }
}

/// Collects a data task's bytes as they arrive. `@unchecked Sendable`: the state is only touched while
/// holding `condition`; URLSession calls the delegate on its own queue.
private final class StreamingDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    struct Snapshot {
        var data = Data()
        var pieces = 0
        var response: URLResponse?
        var error: Error?
        var complete = false
    }

    private let condition = NSCondition()
    private var state = Snapshot()

    var snapshot: Snapshot { condition.lock(); defer { condition.unlock() }; return state }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        update { $0.response = response }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        update { $0.data.append(data); $0.pieces += 1 }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        update { $0.error = error; $0.complete = true }
    }

    func wait(timeout: TimeInterval, _ predicate: (Snapshot) -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(state) {
            if !condition.wait(until: deadline) { return predicate(state) }
        }
        return true
    }

    func waitUntilComplete(timeout: TimeInterval) -> Bool { wait(timeout: timeout) { $0.complete } }

    private func update(_ body: (inout Snapshot) -> Void) {
        condition.lock()
        body(&state)
        condition.broadcast()
        condition.unlock()
    }
}

#if canImport(Glibc)
private func systemClose(_ fd: Int32) { _ = Glibc.close(fd) }
private func systemSend(_ fd: Int32, _ buf: UnsafeRawPointer, _ len: Int, _ flags: Int32) -> Int { Glibc.send(fd, buf, len, flags) }
private let noSignal = Int32(MSG_NOSIGNAL)
#else
private func systemClose(_ fd: Int32) { _ = Darwin.close(fd) }
private func systemSend(_ fd: Int32, _ buf: UnsafeRawPointer, _ len: Int, _ flags: Int32) -> Int { Darwin.send(fd, buf, len, flags) }
private let noSignal: Int32 = 0  // SO_NOSIGPIPE is set on the socket instead
#endif

/// A blocking TCP client on 127.0.0.1 for byte-exact tests.
private final class RawClient {
    private var fd: Int32
    private(set) var lastErrno: Int32 = 0
    /// The peer ended the connection (FIN or RST), as opposed to a read that timed out.
    private(set) var peerClosed = false
    private var received = Data()

    init(port: Int) throws {
        #if os(Linux)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        fd = socket(AF_INET, SOCK_STREAM, 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &yes, socklen_t(MemoryLayout<Int32>.size))
        #endif
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            systemClose(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .ECONNREFUSED)
        }
    }

    deinit { close() }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes {
                systemSend(fd, $0.baseAddress! + offset, bytes.count - offset, noSignal)
            }
            guard n > 0 else { throw POSIXError(.EPIPE) }
            offset += n
        }
    }

    /// Reads until `done(text so far)` holds, the peer closes, or the timeout; returns what was read.
    /// Consumes the returned bytes.
    func read(until done: (String) -> Bool, timeout: TimeInterval) -> String {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while !done(String(decoding: received, as: UTF8.self)) && Date() < deadline {
            if !readOnce(deadline: deadline) { break }
        }
        defer { received = Data() }
        return String(decoding: received, as: UTF8.self)
    }

    /// Reads until the peer closes (FIN or RST; see `lastErrno`) or the timeout.
    func readToEnd(timeout: TimeInterval) -> String {
        read(until: { _ in false }, timeout: timeout)
    }

    /// False when the connection ended.
    private func readOnce(deadline: Date) -> Bool {
        guard fd >= 0 else { return false }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ms = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
        guard poll(&pfd, 1, ms) > 0 else { return true }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 {
            received.append(contentsOf: buffer[0..<n])
            return true
        }
        lastErrno = n == 0 ? 0 : errno
        peerClosed = true
        return false
    }

    func close() {
        if fd >= 0 { systemClose(fd); fd = -1 }
    }
}
