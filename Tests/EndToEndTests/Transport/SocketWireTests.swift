import XCTest
@testable import LLMWorkerTestSupport

/// Responses URLSession on Linux misreads (PROTOCOL 9.1) and the worker's own HTTP/1.1 client reads correctly,
/// through the binary, whichever default the suite runs under (`transport: socket` is set explicitly).
final class SocketWireTests: XCTestCase {
    private func startSocketWorker(_ server: MockHTTPServer, file: StaticString = #filePath, line: UInt = #line) throws -> WorkerProcess {
        try startHTTPWorker(server, settings: ["transport": "socket", "max_retries": 0], file: file, line: line)
    }

    private static let completionBody = #"{"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Sunny."},"finish_reason":"stop"}]}"#

    /// `head` (status line and any interim responses before it) then a JSON completion: the chat is answered.
    private func assertAnswered(after head: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let server = try MockHTTPServer()
        let body = Self.completionBody
        server.enqueue(MockResponse([.rawText("\(head)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"), .end]),
                       path: Wire.path)
        let worker = try startSocketWorker(server, file: file, line: line)
        let reply = try worker.call("chat", RPC.chatParams("Weather?"), id: 1)
        XCTAssertEqual(assertResult(reply, id: 1, file: file, line: line)["content"], "Sunny.", file: file, line: line)
    }

    func testAStatusLineWithoutAReasonPhraseIsRead() throws {
        try assertAnswered(after: "HTTP/1.1 200")
    }

    func testAnInterimResponseBeforeTheRealOneIsSkipped() throws {
        try assertAnswered(after: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")
    }

    /// Bytes after the announced end of a response leave the connection in an unknown state: the answer stands, the
    /// connection is not used again, and the next request goes out on a new one.
    func testBytesAfterTheResponseRetireItsConnection() throws {
        let server = try MockHTTPServer()
        let body = Self.completionBody
        server.enqueue(MockResponse([.rawText("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)HTTP/1.1 200 OK\r\n\r\n"), .stall]),
                       path: Wire.path)
        server.enqueue(Wire.completion("Still sunny."), path: Wire.path)
        let worker = try startSocketWorker(server)
        XCTAssertEqual(assertResult(try worker.call("chat", RPC.chatParams("Weather?"), id: 1), id: 1)["content"], "Sunny.")
        XCTAssertEqual(assertResult(try worker.call("chat", RPC.chatParams("And now?"), id: 2), id: 2)["content"], "Still sunny.")
        let requests = server.requests(to: Wire.path)
        XCTAssertEqual(requests.count, 2)
        if requests.count == 2 { XCTAssertNotEqual(requests[0].connectionID, requests[1].connectionID) }
    }

    /// `warm` knows exactly whether its request reused a connection (URLSession's answer is a guess from counting
    /// sockets, null when anything else ran).
    func testWarmSaysWhetherTheConnectionWasReused() throws {
        let server = try MockHTTPServer()
        let worker = try startSocketWorker(server)
        server.enqueue(warmUpAnswer, path: "/v1/models")
        let warm = assertResult(try worker.call("warm", nil, id: 1), id: 1)
        XCTAssertEqual(warm["ok"], true, "\(warm)")
        XCTAssertEqual(warm["reused"], true, "configure's warm-up left its connection open: \(warm)")
    }
}
