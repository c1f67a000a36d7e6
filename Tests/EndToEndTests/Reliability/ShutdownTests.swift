import XCTest
@testable import LLMWorkerTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Ending the worker with 100 streams in flight against a slow server (PROTOCOL §10): end of input, SIGTERM and
/// `shutdown` each give every request its final answer (a result, or -32800 with the partial content once the
/// grace is over), flush stdout, exit 0, and leave no upstream connection open.
final class ShutdownTests: XCTestCase {
    static let streams = 100

    /// A server whose every chat answer is `events` content events, `delay` apart.
    private func slowServer(events: Int, delay: TimeInterval) throws -> MockHTTPServer {
        let server = try MockHTTPServer()
        server.route(Wire.path) { _ in Wire.stream((0..<events).map { "w\($0) " }, delay: delay) }
        return server
    }

    /// Starts the streams and waits until each has sent a first delta (all are really in flight upstream).
    private func startStreams(_ worker: WorkerProcess, _ server: MockHTTPServer) throws -> Tracker {
        var lines: [String] = []
        for n in 0..<Self.streams { lines.append(RPC.request("chatStream", RPC.chatParams("n\(n)"), id: .number("\(n)")).text) }
        try worker.sendRaw(Array((lines.joined(separator: "\n") + "\n").utf8))
        XCTAssertTrue(server.waitForRequests(count: Self.streams, timeout: 30), "every stream reached the server")
        var tracker = Tracker()
        while tracker.started.count < Self.streams { try tracker.take(try worker.nextMessage(timeout: 30)) }
        return tracker
    }

    struct Tracker {
        var text: [Int: String] = [:]
        var started: Set<Int> = []
        var finals: [Int: JSON] = [:]
        var others: [JSON] = []
        var last: JSON?

        mutating func take(_ message: JSON) throws {
            last = message
            if message["method"] == "chatStream.delta", let id = message["params"]?["id"]?.int {
                XCTAssertNil(finals[id], "a delta after the final answer of \(id)")
                started.insert(id)
                text[id, default: ""] += message["params"]?["content"]?.string ?? ""
            } else if let id = message["id"]?.int {
                XCTAssertNil(finals[id], "two final answers for \(id)")
                finals[id] = message
            } else {
                others.append(message)
            }
        }

        /// Each final answer is the whole answer, or a cancellation carrying exactly what was streamed.
        func check(results: Int? = nil, cancelled: Int? = nil, events: Int) {
            XCTAssertEqual(finals.count, ShutdownTests.streams, "every request got its final answer")
            var resultCount = 0, cancelCount = 0
            for (id, final) in finals {
                if let result = final["result"] {
                    resultCount += 1
                    XCTAssertEqual(result["content"]?.string, (0..<events).map { "w\($0) " }.joined(), "stream \(id)")
                    XCTAssertEqual(text[id], result["content"]?.string, "stream \(id)")
                } else {
                    cancelCount += 1
                    let data = assertProviderError(final, id: .number("\(id)"), code: -32800, kind: "cancelled")
                    XCTAssertEqual(data["partial_content"]?.string ?? "", text[id] ?? "", "partial content of \(id)")
                }
            }
            if let results { XCTAssertEqual(resultCount, results) }
            if let cancelled { XCTAssertEqual(cancelCount, cancelled) }
        }
    }

    private func assertNoUpstreamConnectionLeft(_ server: MockHTTPServer, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(eventually(timeout: 10) { server.openConnectionCount == 0 },
                      "\(server.openConnectionCount) upstream connection(s) still open", file: file, line: line)
    }

    func testEndOfInputLetsEveryStreamFinish() throws {
        let server = try slowServer(events: 8, delay: 0.1)
        let worker = try startHTTPWorker(server)
        var tracker = try startStreams(worker, server)
        worker.closeInput()
        XCTAssertEqual(try worker.waitForExit(timeout: 60), 0)
        for message in try worker.remainingMessages() { try tracker.take(message) }
        tracker.check(results: Self.streams, events: 8)
        XCTAssertEqual(tracker.others, [])
        assertNoUpstreamConnectionLeft(server)
    }

    func testSigtermCancelsWhatOutlastsTheGrace() throws {
        let server = try slowServer(events: 300, delay: 0.1)
        let worker = try startHTTPWorker(server, arguments: ["--shutdown-grace", "1"])
        var tracker = try startStreams(worker, server)
        worker.sendSignal(SIGTERM)
        XCTAssertEqual(try worker.waitForExit(timeout: 30), 0)
        for message in try worker.remainingMessages() { try tracker.take(message) }
        tracker.check(cancelled: Self.streams, events: 300)
        XCTAssertEqual(tracker.others, [])
        XCTAssertGreaterThanOrEqual(server.closeEvents.filter { $0.phase == .responding }.count, Self.streams,
                                    "each cancelled stream's connection was closed mid-answer")
        assertNoUpstreamConnectionLeft(server)
    }

    func testShutdownMethodAnswersLastAndExits() throws {
        let server = try slowServer(events: 300, delay: 0.1)
        let worker = try startHTTPWorker(server, arguments: ["--shutdown-grace", "1"])
        var tracker = try startStreams(worker, server)
        try worker.send(RPC.request("shutdown", id: "bye"))
        try worker.send(RPC.request("chat", RPC.chatParams(), id: "late"))
        try worker.send(RPC.request("ping", id: "p"))
        XCTAssertEqual(try worker.waitForExit(timeout: 30), 0)
        for message in try worker.remainingMessages() { try tracker.take(message) }
        tracker.check(cancelled: Self.streams, events: 300)
        let byID = Dictionary(tracker.others.map { ($0["id"]?.string ?? "?", $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(tracker.others.count, 3, "\(tracker.others)")
        XCTAssertEqual(byID["bye"]?["result"], ["ok": true])
        XCTAssertEqual(byID["late"]?["error"]?["data"]?["kind"], "shutting_down")
        XCTAssertEqual(byID["p"]?["result"]?["ok"], true, "ping is still served while shutting down")
        XCTAssertEqual(tracker.last?["id"], "bye", "the shutdown answer is the last line")
        assertNoUpstreamConnectionLeft(server)
    }

    func testEveryRequestReadAfterShutdownIsRefused() throws {
        // The shutdown and 200 requests in one write: each request read after the shutdown line is refused,
        // whichever task happens to run first.
        let worker = try startMockWorker()
        try worker.send(RPC.request("chatStream", RPC.chatParams(mock: ["first_token_delay_ms": 300]), id: "in-flight"))
        var lines = [RPC.request("shutdown", id: "bye").text]
        for n in 0..<200 { lines.append(RPC.request(n % 2 == 0 ? "chat" : "listModels", RPC.chatParams(), id: .number("\(n)")).text) }
        try worker.sendRaw(Array((lines.joined(separator: "\n") + "\n").utf8))
        XCTAssertEqual(try worker.waitForExit(timeout: 30), 0)
        var refused = 0
        for message in try worker.remainingMessages() where message["id"]?.int != nil {
            XCTAssertEqual(message["error"]?["data"]?["kind"], "shutting_down", "\(message)")
            refused += 1
        }
        XCTAssertEqual(refused, 200)
    }
}
