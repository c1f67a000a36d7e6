import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
@testable import LLMWorkerTestSupport
@testable import LLMWorker

/// What a hand-written parser meets, sent by a real server over a real socket: each case is a correct answer or a
/// clear error of the right kind, and the connection it came on is never used again in a doubtful state (the
/// request after it goes on a connection of its own, or on the same one only when the response was clean).
final class SocketTransportBadInputTests: SocketTransportAgainstMockServerTestCase {
    /// The bytes, verbatim, as the answer to one request; the server keeps the connection open after them.
    private func answer(_ text: String) {
        server.enqueue([.rawText(text), .end])
    }

    /// Sends one more request and tells whether it went on the same connection as the one before.
    private func nextRequestReusedTheConnection(file: StaticString = #filePath, line: UInt = #line) async throws -> Bool {
        server.enqueue(.json(body: ["next": true]))
        let response = try await transport.fetch(server.url("/next"))
        XCTAssertEqual(response.text, #"{"next":true}"#, file: file, line: line)
        let requests = server.requests
        return requests.count >= 2 && requests[requests.count - 1].connectionID == requests[requests.count - 2].connectionID
    }

    private func assertMalformed(_ text: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) async throws {
        answer(text)
        let error = await transport.failure(of: server.url("/v1/chat/completions"), file: file, line: line)
        XCTAssertEqual(error?.kind, .malformedResponse, file: file, line: line)
        XCTAssertTrue(error?.message.contains(fragment) ?? false, error?.message ?? "no error", file: file, line: line)
        let reused = try await nextRequestReusedTheConnection(file: file, line: line)
        XCTAssertFalse(reused, "a connection that carried a malformed response is not reused", file: file, line: line)
    }

    func testStatusLineWithoutReasonPhrase() async throws {
        answer("HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok")
        let response = try await transport.fetch(server.url("/v1/models"))
        XCTAssertEqual(response.head.status, 200)
        XCTAssertEqual(response.text, "ok")
        let reused = try await nextRequestReusedTheConnection()
        XCTAssertTrue(reused)
    }

    func testInterimResponsesBeforeTheRealStatus() async throws {
        answer("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        let response = try await transport.fetch(server.url("/v1/models"))
        XCTAssertEqual(response.head.status, 200)
        XCTAssertEqual(response.text, "ok")
    }

    func testFoldedHeaderLine() async throws {
        answer("HTTP/1.1 200 OK\r\nX-Folded: one\r\n two\r\nContent-Length: 2\r\n\r\nok")
        let response = try await transport.fetch(server.url("/v1/models"))
        XCTAssertEqual(response.head.headers["x-folded"], "one two")
    }

    func testHeaderLineOver64KiB() async throws {
        try await assertMalformed("HTTP/1.1 200 OK\r\nX-Big: \(String(repeating: "a", count: 65 * 1024))\r\nContent-Length: 0\r\n\r\n", "longer than 64 KiB")
    }

    func testAThousandHeaders() async throws {
        let fields = (0..<1000).map { "X-\($0): v\r\n" }.joined()
        try await assertMalformed("HTTP/1.1 200 OK\r\n\(fields)Content-Length: 0\r\n\r\n", "more than 100 header fields")
    }

    func testDuplicateContentLength() async throws {
        answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok")
        let same = try await transport.fetch(server.url("/v1/models"))
        XCTAssertEqual(same.text, "ok")
        try await assertMalformed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!", "conflicting Content-Length")
    }

    func testContentLengthWithChunked() async throws {
        answer("HTTP/1.1 200 OK\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        let response = try await transport.fetch(server.url("/v1/models"))
        XCTAssertEqual(response.text, "ok")
        let reused = try await nextRequestReusedTheConnection()
        XCTAssertFalse(reused, "a response framed two ways leaves the connection in doubt")
    }

    func testChunkSizeWithExtensions() async throws {
        answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;a=b;c\r\nok\r\n0;end\r\n\r\n")
        let response = try await transport.fetch(server.url("/v1/models"))
        XCTAssertEqual(response.text, "ok")
        let reused = try await nextRequestReusedTheConnection()
        XCTAssertTrue(reused)
    }

    func testChunkSizeOfTwentyHexDigits() async throws {
        try await assertMalformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000000002\r\nok\r\n0\r\n\r\n", "chunk size that is too large")
    }

    func testMissingFinalChunk() async throws {
        server.enqueue([.rawText("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n"), .close])
        let exchange = transport.start(URLRequest(url: server.url("/v1/chat/completions")))
        _ = try await exchange.responseHead()
        var body: [UInt8] = []
        do {
            while try await exchange.readBody({ body.append(contentsOf: $0) }) {}
            XCTFail("a body without its last chunk is not complete")
        } catch let error as TransportError {
            XCTAssertEqual(error.kind, .connectionLost)
            XCTAssertTrue(error.afterResponseBytes)
        }
        XCTAssertEqual(String(decoding: body, as: UTF8.self), "ok", "what arrived before the close is delivered first")
    }

    func testBytesAfterTheResponseOnAKeptAliveConnection() async throws {
        answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n")
        let response = try await transport.fetch(server.url("/v1/models"))
        XCTAssertEqual(response.text, "ok")
        let reused = try await nextRequestReusedTheConnection()
        XCTAssertFalse(reused, "bytes nobody asked for make the connection unusable")
    }

    func testAnEncodedBodyIsRefused() async throws {
        try await assertMalformed("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\n\u{1F}\u{8B}\u{8}", "Content-Encoding: gzip")
    }

    func testGarbageInsteadOfAResponse() async throws {
        try await assertMalformed("<html><body>Bad Gateway</body></html>\r\n", "does not start with an HTTP/1.x status line")
    }

    func testABodyThatEndsWithTheConnection() async throws {
        server.enqueue([.rawText("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: a\n\ndata: b\n\n"), .close])
        let response = try await transport.fetch(server.url("/v1/chat/completions"))
        XCTAssertEqual(response.text, "data: a\n\ndata: b\n\n")
        let reused = try await nextRequestReusedTheConnection()
        XCTAssertFalse(reused)
    }

    func testAResetInTheMiddleOfTheBody() async throws {
        server.enqueue([.status(200, headers: ["Content-Length": "100"]), .body(Data("partial".utf8)), .reset])
        let error = await transport.failure(of: server.url("/v1/models"))
        XCTAssertEqual(error?.kind, .connectionLost)
        XCTAssertEqual(error?.afterResponseBytes, true)
    }
}
