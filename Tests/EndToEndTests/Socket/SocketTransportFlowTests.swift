import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import LLMWorkerTestSupport
@testable import LLMWorker

/// Flow control on real sockets: cancelling closes the connection at once; a consumer that stops reading stops
/// the transport reading (the server's writes block, nothing piles up); a server that answers before it has read
/// the request body is heard.
final class SocketTransportFlowTests: XCTestCase {
    private var transport: SocketTransport!

    override func setUp() {
        transport = SocketTransport()
    }

    override func tearDown() {
        transport.shutdown()
        transport = nil
    }

    // MARK: Cancellation

    func testCancellingClosesTheConnectionAtOnce() async throws {
        let server = try MockHTTPServer()
        defer { server.stop() }
        server.enqueue([.status(200, headers: ["Content-Type": "text/event-stream"]), .sse("a"), .stall])
        let exchange = transport.start(URLRequest(url: server.url("/v1/chat/completions")))
        _ = try await exchange.responseHead()
        var body: [UInt8] = []
        let more = try await exchange.readBody { body.append(contentsOf: $0) }
        XCTAssertTrue(more)
        XCTAssertEqual(String(decoding: body, as: UTF8.self), "data: a\n\n")
        server.mark()
        exchange.cancel()
        XCTAssertNotNil(server.waitForClientClose(timeout: 20), "the server sees the connection closed")
        do {
            _ = try await exchange.readBody { _ in }
            XCTFail("a cancelled exchange delivers nothing more")
        } catch {
            XCTAssertTrue(error is CancellationError, "\(error)")
        }
    }

    func testCancellingTheReadingTaskClosesTheConnection() async throws {
        let server = try MockHTTPServer()
        defer { server.stop() }
        server.enqueue([.status(200, headers: ["Content-Type": "text/event-stream"]), .stall])
        let exchange = transport.start(URLRequest(url: server.url("/v1/chat/completions")))
        _ = try await exchange.responseHead()
        let reader = Task { try await exchange.readBody { _ in } }
        XCTAssertTrue(server.waitForRequests(count: 1, timeout: 20))
        server.mark()
        reader.cancel()
        XCTAssertNotNil(server.waitForClientClose(timeout: 20))
        let outcome = await reader.result
        XCTAssertThrowsError(try outcome.get()) { XCTAssertTrue($0 is CancellationError, "\($0)") }
    }

    func testCancellingARequestWaitingForAConnectionNeverSendsIt() async throws {
        transport.shutdown()
        transport = SocketTransport(configuration: .init(pool: .init(maxConnectionsPerEndpoint: 1)))
        let server = try MockHTTPServer()
        defer { server.stop() }
        server.enqueue([.status(200, headers: ["Content-Type": "text/event-stream"]), .stall])
        server.enqueue(.json(body: ["second": true]))
        let first = transport.start(URLRequest(url: server.url("/first")))
        _ = try await first.responseHead()
        let waiting = transport.start(URLRequest(url: server.url("/second")))
        waiting.cancel()
        do {
            _ = try await waiting.responseHead()
            XCTFail("a cancelled request has no answer")
        } catch {
            XCTAssertTrue(error is CancellationError, "\(error)")
        }
        first.cancel()
        XCTAssertNotNil(server.waitForClientClose(timeout: 20))
        let third = try await transport.fetch(server.url("/third"))
        XCTAssertEqual(third.text, #"{"second":true}"#)
        XCTAssertEqual(server.requests.map(\.path), ["/first", "/third"])
    }

    // MARK: Back-pressure

    func testASlowConsumerStopsTheReadingAndTheServersWritesBlock() async throws {
        let total = 24 << 20
        let writer = BlockingWriter(total: total)
        guard let server = RawTCPServer(handler: { connection in writer.serve(connection) }) else {
            throw XCTSkip("cannot listen on 127.0.0.1")
        }
        defer { server.stop() }
        let exchange = transport.start(URLRequest(url: server.url("/v1/chat/completions")))
        _ = try await exchange.responseHead()
        var received = 0
        var largestRead = 0
        var mismatch = false
        func take(_ bytes: UnsafeRawBufferPointer) {
            largestRead = max(largestRead, bytes.count)
            // The first and last byte of each read: a lost, repeated or reordered byte shifts what follows.
            if bytes.first != BlockingWriter.pattern(received) || bytes.last != BlockingWriter.pattern(received + bytes.count - 1) {
                mismatch = true
            }
            received += bytes.count
        }
        let more = try await exchange.readBody(take)
        XCTAssertTrue(more)
        // The consumer stops here: the server must end up unable to write.
        XCTAssertTrue(writer.waitUntilBlocked(), "the server's writes block while the consumer does not read")
        XCTAssertLessThan(writer.written, total)
        // The kernel's buffers may still grow a little; the transport takes nothing more: the server stays stuck.
        try await Task.sleep(nanoseconds: 200_000_000)
        XCTAssertLessThan(writer.written, total / 2, "the server could not write on while the consumer did not read")
        while try await exchange.readBody(take) {}
        XCTAssertEqual(received, total)
        XCTAssertFalse(mismatch, "the bytes arrived intact and in order")
        XCTAssertLessThanOrEqual(largestRead, SocketConnection.readBufferSize, "at most one read is held for the consumer")
    }

    // MARK: Early answers

    func testAServerThatAnswersBeforeTheRequestBodyIsSentAndCloses() async throws {
        guard let server = RawTCPServer(handler: { connection in
            _ = connection.readHead()
            connection.write("HTTP/1.1 413 Content Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large")
            connection.shutdownWrite()
            connection.drain(1 << 20)
        }) else { throw XCTSkip("cannot listen on 127.0.0.1") }
        defer { server.stop() }
        let response = try await transport.fetch(largePost(server.url("/v1/chat/completions")))
        XCTAssertEqual(response.head.status, 413)
        XCTAssertEqual(response.text, "too large")
    }

    func testAServerThatAnswersBeforeTheRequestBodyIsSentAndKeepsReading() async throws {
        let connections = Counter()
        // The server reads the rest of the body only once the client has the answer: were it to read it at once, the
        // whole body could be written before the answer is read, and then the connection is rightly kept.
        let answered = DispatchSemaphore(value: 0)
        guard let server = RawTCPServer(handler: { connection in
            connections.increment()
            guard let head = connection.readHead() else { return }
            let length = Int(head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }?
                .split(separator: ":")[1].trimmingCharacters(in: .whitespaces) ?? "0") ?? 0
            connection.write("HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n\r\nunauthorized")
            _ = answered.wait(timeout: .now() + 30)
            connection.drain(length)
            while connection.readHead() != nil {
                connection.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            }
        }) else { throw XCTSkip("cannot listen on 127.0.0.1") }
        defer { server.stop() }
        let response = try await transport.fetch(largePost(server.url("/v1/chat/completions")))
        XCTAssertEqual(response.head.status, 401)
        XCTAssertEqual(response.text, "unauthorized")
        answered.signal()
        // The request was still being written when its answer ended: the next one needs a connection of its own.
        _ = try await transport.fetch(server.url("/v1/models"))
        XCTAssertEqual(connections.value, 2)
    }

    func testAServerThatAnswersBeforeTheRequestBodyIsSentAndClosesAtOnce() async throws {
        guard let server = RawTCPServer(handler: { connection in
            _ = connection.readHead()
            connection.write("HTTP/1.1 413 Content Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large")
        }) else { throw XCTSkip("cannot listen on 127.0.0.1") }
        defer { server.stop() }
        let response = try await transport.fetch(largePost(server.url("/v1/chat/completions")))
        XCTAssertEqual(response.head.status, 413)
        XCTAssertEqual(response.text, "too large")
    }

    private func largePost(_ url: URL) -> URLRequest {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = Data(repeating: 0x61, count: 32 << 20)
        return request
    }
}

/// Counts from any thread.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func increment() { lock.withLock { count += 1 } }
}

/// Serves one response of `total` bytes, writing as fast as the client takes them, and notices when it cannot
/// write (its send would block and stays so). Lock invariant: `written` and `stalls` only under `lock`.
final class BlockingWriter: @unchecked Sendable {
    let total: Int
    private let lock = NSCondition()
    private var sent = 0
    private var stalls = 0

    init(total: Int) { self.total = total }

    static func pattern(_ offset: Int) -> UInt8 { UInt8(truncatingIfNeeded: offset &* 7 &+ offset >> 16) }

    var written: Int { lock.withLock { sent } }

    /// True once several waits for writability in a row ran out (false if that never happened).
    func waitUntilBlocked() -> Bool {
        let deadline = Date().addingTimeInterval(60)
        lock.lock()
        defer { lock.unlock() }
        while stalls < 3 {
            if !lock.wait(until: deadline) { return false }
        }
        return true
    }

    func serve(_ connection: RawTCPServer.Connection) {
        guard connection.readHead() != nil else { return }
        connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(total)\r\n\r\n")
        _ = fcntl(connection.fd, F_SETFL, fcntl(connection.fd, F_GETFL) | O_NONBLOCK)
        var piece = [UInt8](repeating: 0, count: 64 * 1024)
        var offset = 0
        while offset < total {
            let count = min(piece.count, total - offset)
            for index in 0..<count { piece[index] = Self.pattern(offset + index) }
            var done = 0
            while done < count {
                let n = piece[done..<count].withUnsafeBytes { send(connection.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n > 0 {
                    done += n
                    lock.withLock {
                        sent += n
                        stalls = 0
                    }
                    continue
                }
                guard n < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else { return }
                var pfd = pollfd(fd: connection.fd, events: Int16(POLLOUT), revents: 0)
                if poll(&pfd, 1, 100) == 0 {
                    lock.lock()
                    stalls += 1
                    lock.broadcast()
                    lock.unlock()
                }
            }
            offset += count
        }
    }
}
