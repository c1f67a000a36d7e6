import XCTest
@testable import LLMWorkerTestSupport

/// A server that drops a kept-alive connection after reading a request, without answering (a restart, a proxy, an
/// idle timeout racing the request): the request is sent again, whole, on a new connection, and answered; the
/// client sees only the answer (PROTOCOL §8). The mock reads each request whole before it runs the request's script,
/// so a script of only `.reset` (RST) or `.close` (FIN) is exactly that server.
final class DroppedConnectionTests: XCTestCase {
    private let question = RPC.chatParams("What is the weather like?")

    /// A first request leaves the connection open; the second one is dropped on it, then answered on a new one.
    private func assertResentWhole(dropping drop: MockAction, stream: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let server = try MockHTTPServer()
        let answer = stream ? Wire.stream(["Sunny ", "and warm."]) : Wire.completion("Sunny and warm.")
        server.enqueue(contentsOf: [Wire.completion("first"), [drop], answer], path: Wire.path)
        let worker = try startHTTPWorker(server, arguments: ["--log-level", "debug"])
        XCTAssertEqual(assertResult(try worker.call("chat", RPC.chatParams("hi"), id: 1), id: 1, file: file, line: line)["content"],
                       "first", file: file, line: line)

        let cpuBefore = ProcessMemory.cpuSeconds(worker.pid)
        let reply = stream ? try worker.stream(question, id: 2).response : try worker.call("chat", question, id: 2)
        let cpuAfter = ProcessMemory.cpuSeconds(worker.pid)

        let result = assertResult(reply, id: 2, file: file, line: line)
        XCTAssertEqual(result["content"], "Sunny and warm.", file: file, line: line)
        XCTAssertEqual(result["warnings"], [], "nothing of the dropped connection reaches the client", file: file, line: line)
        let requests = server.requests(to: Wire.path)
        XCTAssertEqual(requests.count, 3, "\(requests)", file: file, line: line)
        guard requests.count == 3 else { return }
        let (dropped, resent) = (requests[1], requests[2])
        XCTAssertEqual(dropped.connectionID, requests[0].connectionID, "the dropped request went out on the kept-alive connection",
                       file: file, line: line)
        XCTAssertNotEqual(resent.connectionID, dropped.connectionID, "sent again on a new connection", file: file, line: line)
        XCTAssertEqual(resent.indexOnConnection, 0, file: file, line: line)
        XCTAssertFalse(dropped.body.isEmpty, file: file, line: line)
        XCTAssertEqual(resent.body, dropped.body, "the whole body, the second time too", file: file, line: line)
        for request in [dropped, resent] {
            XCTAssertEqual(request.header("Content-Length"), String(request.body.count), file: file, line: line)
            XCTAssertNil(request.header("Transfer-Encoding"), "the body is not sent chunked", file: file, line: line)
        }
        XCTAssertEqual(worker.stderrLines(containing: "sent again on a new connection", waitingFor: 1).count, 1,
                       "said in the debug log: \(worker.stderr)", file: file, line: line)
        // Nothing waits for the server, nor spins meanwhile (a generous bound: a hang would last 30 s, a core's worth).
        if let cpuBefore, let cpuAfter {
            XCTAssertLessThan(cpuAfter - cpuBefore, 2, "the worker's CPU time during the request", file: file, line: line)
        }
        try worker.assertAlive()
    }

    func testChatWhoseKeptAliveConnectionIsResetIsSentAgain() throws {
        try assertResentWhole(dropping: .reset, stream: false)
    }

    func testStreamWhoseKeptAliveConnectionIsResetIsSentAgain() throws {
        try assertResentWhole(dropping: .reset, stream: true)
    }

    func testChatWhoseKeptAliveConnectionIsClosedIsSentAgain() throws {
        try assertResentWhole(dropping: .close, stream: false)
    }

    func testStreamWhoseKeptAliveConnectionIsClosedIsSentAgain() throws {
        try assertResentWhole(dropping: .close, stream: true)
    }

    func testModelListWhoseKeptAliveConnectionIsResetIsSentAgain() throws {
        let server = try MockHTTPServer()
        server.enqueue(Wire.completion("first"), path: Wire.path)
        server.enqueue(contentsOf: [[.reset], .json(body: ["data": [["id": "local-model"]]])], path: "/v1/models")
        let worker = try startHTTPWorker(server)
        assertResult(try worker.call("chat", RPC.chatParams("hi"), id: 1), id: 1)
        let reply = try worker.call("listModels", [:], id: 2)
        XCTAssertEqual(assertResult(reply, id: 2)["models"], [["id": "local-model"]])
        // After configure's warm-up request on the same connection.
        XCTAssertEqual(server.requests.dropFirst().map(\.connectionID), [1, 1, 2])
    }

    /// A server that drops every request, on new connections too: the request is sent again once at once, then the
    /// worker's retries (two by default) each try once more, and the answer is a connection error.
    func testAServerDroppingEveryRequestIsAConnectionError() throws {
        let server = try MockHTTPServer()
        server.enqueue(contentsOf: [Wire.completion("first"), [.reset], [.reset], [.reset], [.reset]], path: Wire.path)
        let worker = try startHTTPWorker(server, settings: ["max_retry_wait_s": 0.05])
        assertResult(try worker.call("chat", RPC.chatParams("hi"), id: 1), id: 1)
        let (deltas, reply) = try worker.stream(question, id: 2)
        XCTAssertEqual(deltas, [])
        let data = assertProviderError(reply, id: 2, code: -32009, kind: "connection")
        XCTAssertEqual(data["attempts"], 3)
        XCTAssertEqual(data["partial_content"], "")
        let requests = server.requests(to: Wire.path)
        XCTAssertEqual(requests.count, 5, "\(requests)")
        XCTAssertEqual(Set(requests.dropFirst().map(\.body)).count, 1, "every request carried the same body")
        XCTAssertFalse(requests.last?.body.isEmpty ?? true)
        XCTAssertEqual(server.queuedResponseCount, 0)
        try worker.assertAlive()
    }
}
