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

/// The socket transport against real sockets on loopback: requests as the server receives them, responses,
/// keep-alive, stale connections, the resend-once rule, pre-opened connections, limits, IPv6, lookups.
final class SocketTransportTests: SocketTransportAgainstMockServerTestCase {
    func testGetRequestAsTheServerReceivesItAndItsAnswer() async throws {
        server.enqueue(.json(status: 201, body: ["answer": 42], headers: ["X-Test": "yes"]))
        var request = URLRequest(url: server.url("/v1/models?supported_parameters=tools"))
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        request.setValue("gzip", forHTTPHeaderField: "Accept-Encoding")
        let response = try await transport.fetch(request)
        XCTAssertEqual(response.head.status, 201)
        XCTAssertEqual(response.head.headers["x-test"], "yes")
        XCTAssertEqual(response.head.headers["content-type"], "application/json")
        XCTAssertEqual(response.text, #"{"answer":42}"#)
        let received = try XCTUnwrap(server.lastRequest)
        XCTAssertEqual(received.method, "GET")
        XCTAssertEqual(received.path, "/v1/models?supported_parameters=tools")
        XCTAssertEqual(received.version, "HTTP/1.1")
        XCTAssertEqual(received.header("Host"), "127.0.0.1:\(server.port)")
        XCTAssertEqual(received.header("Accept"), "application/json")
        XCTAssertEqual(received.headers.values("Accept-Encoding"), ["identity"], "no content coding is asked for")
        XCTAssertNil(received.header("Content-Length"))
    }

    func testPostSendsTheBodyWholeWithItsLength() async throws {
        server.enqueue(.json(body: ["ok": true]))
        var request = URLRequest(url: server.url("/v1/chat/completions"))
        request.httpMethod = "POST"
        let body = Data(#"{"model":"m","messages":[{"role":"user","content":"hé"}]}"#.utf8)
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("Bearer " + "test-" + "token", forHTTPHeaderField: "Authorization")
        _ = try await transport.fetch(request)
        let received = try XCTUnwrap(server.lastRequest)
        XCTAssertEqual(received.method, "POST")
        XCTAssertEqual(received.body, body)
        XCTAssertEqual(received.header("Content-Length"), String(body.count))
        XCTAssertNil(received.header("Transfer-Encoding"))
        XCTAssertNil(received.header("Expect"))
        XCTAssertEqual(received.header("Authorization"), "Bearer " + "test-" + "token")
    }

    func testChunkedEventStreamArrivesWhole() async throws {
        server.enqueue(.sseStream(events: ["one", "two", "three"], delay: 0.01))
        let response = try await transport.fetch(server.url("/v1/chat/completions"))
        XCTAssertEqual(response.head.headers["content-type"], "text/event-stream")
        XCTAssertEqual(response.text, "data: one\n\ndata: two\n\ndata: three\n\ndata: [DONE]\n\n")
    }

    func testTheEventStreamIsParsedWhereTheSocketPutIt() async throws {
        server.enqueue(.splitBytes(Data("data: {\"a\":1}\n\n: keep-alive\ndata: {\"b\":2}\n\ndata: [DONE]\n\n".utf8),
                                   at: [3, 17, 20], delay: 0.01, chunked: true))
        let exchange = transport.start(URLRequest(url: server.url("/v1/chat/completions")))
        _ = try await exchange.responseHead()
        var parser = SSEParser()
        var items: [SSEItem] = []
        while try await exchange.readBody({ try parser.feed($0) { items.append($0) } }) {}
        try parser.finish { items.append($0) }
        XCTAssertEqual(items, [.event(SSEEvent(data: Data(#"{"a":1}"#.utf8))), .comment,
                               .event(SSEEvent(data: Data(#"{"b":2}"#.utf8))), .event(SSEEvent(data: Data("[DONE]".utf8)))])
    }

    func testHeadRequestHasNoBody() async throws {
        server.enqueue([.status(200, headers: ["Content-Length": "100"]), .end])
        var request = URLRequest(url: server.url("/"))
        request.httpMethod = "HEAD"
        let response = try await transport.fetch(request)
        XCTAssertEqual(response.head.status, 200)
        XCTAssertEqual(response.body, [])
    }

    // MARK: Keep-alive

    func testSequentialRequestsReuseOneConnection() async throws {
        server.enqueue(contentsOf: (0..<3).map { .json(body: ["n": $0]) })
        for n in 0..<3 {
            let response = try await transport.fetch(server.url("/v1/models"))
            XCTAssertEqual(response.text, #"{"n":\#(n)}"#)
        }
        XCTAssertEqual(server.connectionCount, 1)
        XCTAssertEqual(server.requests.map(\.indexOnConnection), [0, 1, 2])
    }

    func testAnIdleConnectionTheServerClosedIsNotReused() async throws {
        server.idleTimeout = 0.05
        server.enqueue(contentsOf: [.json(body: ["n": 1]), .json(body: ["n": 2])])
        _ = try await transport.fetch(server.url("/v1/models"))
        let closed = await eventuallyAsync { server.openConnectionCount == 0 }
        XCTAssertTrue(closed, "the server closes its idle connection")
        let gone = await eventuallyAsync { await transport.idleConnectionCount(server.url("/")) == 0 }
        XCTAssertTrue(gone, "the transport notices and drops it")
        let response = try await transport.fetch(server.url("/v1/models"))
        XCTAssertEqual(response.text, #"{"n":2}"#)
        XCTAssertEqual(server.requests.map(\.connectionID), [1, 2], "no request was lost on the closed connection")
    }

    func testAReusedConnectionThatDiesBeforeAnyResponseByteIsResentOnceOnAFreshOne() async throws {
        server.enqueue(contentsOf: [.json(body: ["n": 1]), [.close], .json(body: ["n": 2])])
        _ = try await transport.fetch(server.url("/v1/models"))
        let response = try await transport.fetch(server.url("/v1/models"))
        XCTAssertEqual(response.text, #"{"n":2}"#)
        XCTAssertEqual(server.requests.map(\.connectionID), [1, 1, 2])
        XCTAssertEqual(server.requests.map(\.indexOnConnection), [0, 1, 0])
    }

    func testTheResendHappensOnlyOnce() async throws {
        server.enqueue(contentsOf: [.json(body: ["n": 1]), [.close], [.close], .json(body: ["n": 3])])
        _ = try await transport.fetch(server.url("/v1/models"))
        let error = await transport.failure(of: server.url("/v1/models"))
        XCTAssertEqual(error?.kind, .connectionLost)
        XCTAssertEqual(error?.afterResponseBytes, false)
        XCTAssertEqual(server.requests.count, 3)
    }

    func testAFreshConnectionThatDiesIsNotResent() async throws {
        server.enqueue(contentsOf: [[.close], .json(body: ["n": 2])])
        let error = await transport.failure(of: server.url("/v1/models"))
        XCTAssertEqual(error?.kind, .connectionLost)
        XCTAssertEqual(error?.afterResponseBytes, false, "nothing was answered: the caller's retry policy may send it again")
        XCTAssertEqual(server.requests.count, 1)
    }

    func testAReusedConnectionThatDiesAfterResponseBytesIsNotResent() async throws {
        server.enqueue(contentsOf: [.json(body: ["n": 1]), [.status(200, headers: ["Content-Length": "10"]), .body(Data("abc".utf8)), .close], .json(body: ["n": 3])])
        _ = try await transport.fetch(server.url("/v1/models"))
        let error = await transport.failure(of: server.url("/v1/models"))
        XCTAssertEqual(error?.kind, .connectionLost)
        XCTAssertEqual(error?.afterResponseBytes, true)
        XCTAssertEqual(server.requests.count, 2)
    }

    func testAPreOpenedConnectionCarriesTheNextRequest() async throws {
        server.enqueue(.json(body: ["ok": true]))
        transport.preconnect(to: server.url("/v1"))
        XCTAssertTrue(server.waitForConnections(count: 1, timeout: 20))
        let idle = await eventuallyAsync { await transport.idleConnectionCount(server.url("/")) == 1 }
        XCTAssertTrue(idle)
        _ = try await transport.fetch(server.url("/v1/models"))
        XCTAssertEqual(server.connectionCount, 1)
        XCTAssertEqual(server.requests.first?.connectionID, 1)
    }

    func testARequestTakesAConnectionStillBeingOpenedAhead() async throws {
        server.enqueue(.json(body: ["ok": true]))
        transport.preconnect(to: server.url("/v1"))
        _ = try await transport.fetch(server.url("/v1/models"))
        XCTAssertEqual(server.connectionCount, 1)
    }

    // MARK: Limits

    func testMoreThanSixConcurrentRequestsToOneServerAllGetAConnection() async throws {
        let wanted = 20
        let core = server!
        server.handler = { _ in
            // Answers only once every request has its own connection: a cap of six would never get here.
            let all = core.waitForConnections(count: wanted, timeout: 30)
            return .json(body: ["all": all])
        }
        let transport = self.transport!
        try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<wanted { group.addTask { try await transport.fetch(core.url("/slow")).text } }
            for try await text in group { XCTAssertEqual(text, #"{"all":true}"#) }
        }
        XCTAssertEqual(server.connectionCount, wanted)
    }

    func testRequestsBeyondTheConnectionLimitWaitForAConnection() async throws {
        transport.shutdown()
        transport = SocketTransport(configuration: .init(pool: .init(maxConnectionsPerEndpoint: 2)))
        server.handler = { _ in .json(body: ["ok": true]) }
        let (transport, server) = (self.transport!, self.server!)
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 { group.addTask { try await transport.fetch(server.url("/x")).head.status } }
            for try await status in group { XCTAssertEqual(status, 200) }
        }
        XCTAssertEqual(server.requests.count, 8)
        XCTAssertLessThanOrEqual(server.connectionCount, 2)
    }

    // MARK: Connecting

    func testConnectionRefusedIsCannotConnect() async throws {
        let port = try unusedPort()
        let error = await transport.failure(of: URL(string: "http://127.0.0.1:\(port)/v1/models")!)
        XCTAssertEqual(error?.kind, .cannotConnect)
        XCTAssertTrue(error?.message.contains("refused") ?? false, error?.message ?? "")
        XCTAssertEqual(error?.afterResponseBytes, false)
    }

    func testIPv6Loopback() async throws {
        let server = RawTCPServer(host: "::1") { connection in
            guard let head = connection.readHead() else { return }
            let host = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("host:") } ?? ""
            let body = String(host)
            connection.write("HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        }
        guard let server else { throw XCTSkip("no IPv6 loopback here") }
        defer { server.stop() }
        let response = try await transport.fetch(server.url("/v1/models"))
        XCTAssertEqual(response.text, "Host: [::1]:\(server.port)")
    }

    func testAHostNameIsLookedUp() async throws {
        server.enqueue(.json(body: ["ok": true]))
        let response = try await transport.fetch(URL(string: "http://localhost:\(server.port)/v1/models")!)
        XCTAssertEqual(response.head.status, 200)
        XCTAssertEqual(server.lastRequest?.header("Host"), "localhost:\(server.port)")
    }

    func testALookupThatTakesTooLongFails() async throws {
        transport.shutdown()
        let never = DispatchSemaphore(value: 0)
        defer { never.signal() }
        let resolver = HostResolver(timeout: 0.05) { _, _ in
            never.wait()
            return .failure(TransportError(.cannotResolve, "unreachable"))
        }
        transport = SocketTransport(configuration: .init(resolver: resolver))
        let error = await transport.failure(of: URL(string: "http://model-server.invalid:8080/v1")!)
        XCTAssertEqual(error?.kind, .cannotResolve)
        XCTAssertTrue(error?.message.contains("took longer") ?? false, error?.message ?? "")
    }

    func testARequestTheTransportCannotCarryFailsThroughItsExchange() async throws {
        let error = await transport.failure(of: URL(string: "https://127.0.0.1:1/v1")!)
        XCTAssertEqual(error?.kind, .invalidRequest)
    }

    private func unusedPort() throws -> Int {
        let probe = try MockHTTPServer()
        let port = probe.port
        probe.stop()
        return port
    }
}
