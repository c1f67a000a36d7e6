import XCTest
@testable import LLMWorkerTestSupport

/// The probe is bounded in time and never leaves a request running: a check that gets no answer ends with a
/// timeout and its connection is closed; a cancelled probe closes what it had open.
final class ProbeBoundsTests: XCTestCase {
    /// The chat and stream checks get a response head and then nothing: each ends when its time is up
    /// (`timeout_s` 1 here), the probe reports it, and the server sees both connections closed by the worker.
    func testStalledChecksTimeOutAndTheirConnectionsAreClosed() throws {
        let server = try startServer()
        server.handler = ProbeServer.handler { kind, _ in
            switch kind {
            case .chat: return [.status(200, headers: ["Content-Type": "application/json"]), .stall]
            case .stream: return [.status(200, headers: ["Content-Type": "text/event-stream"]), .chunkText(": OPENROUTER PROCESSING\n\n"), .stall]
            default: return nil
            }
        }
        let worker = try startCompatibleWorker(server)
        let reply = try worker.call("probe", ["timeout_s": 1, "max_retries": 0], id: "p", timeout: 30)
        let report = withoutTimings(assertResult(reply, id: "p"))
        XCTAssertEqual(report["ok"], false)
        XCTAssertEqual(report["checks"]?["models"], passed(["count": 2]))
        XCTAssertEqual(report["checks"]?["tools"], passed(["supported": true]))
        for name in ["chat", "stream"] {
            XCTAssertEqual(report["checks"]?[name]?["ok"], false, "\(report)")
            XCTAssertEqual(report["checks"]?[name]?["error"]?["kind"], "timeout", "\(report)")
            XCTAssertEqual(report["checks"]?[name]?["error"]?["code"], -32008)
        }
        XCTAssertTrue(server.waitForCloseEvents(count: 2, timeout: 10), "closes seen: \(server.closeEvents)")
        let stalled = Set(server.closeEvents.filter { $0.phase == .responding }.map(\.connectionID))
        let stalledRequests = Set(server.requests.filter { [.chat, .stream].contains(ProbeServer.kind(of: $0)) }.map(\.connectionID))
        XCTAssertEqual(stalled, stalledRequests, "both stalled requests were abandoned mid-response: \(server.closeEvents)")
        try assertNothingInFlight(worker)
    }

    /// `cancel` ends a probe at once (-32800) and closes the request it was waiting on.
    func testCancelledProbeClosesItsRequest() throws {
        let server = try startServer()
        server.handler = ProbeServer.handler { kind, _ in kind == .models ? [.stall] : nil }
        let worker = try startCompatibleWorker(server)
        try worker.send(RPC.request("probe", [:], id: "p"))
        XCTAssertTrue(server.waitForRequests(count: 2, timeout: 10), "configure's warm-up, then the probe's model list")
        server.mark()
        try worker.send(RPC.notification("cancel", ["id": "p"]))
        let reply = try worker.nextMessage()
        let data = assertProviderError(reply, id: "p", code: -32800, kind: "cancelled")
        XCTAssertNil(data["partial_content"], "probe is not a chat: no partial fields")
        XCTAssertNotNil(server.waitForClientClose(timeout: 10), "the stalled model-list request was closed")
        XCTAssertEqual(server.requests.count, 2, "no check ran after the cancel")
        try assertNothingInFlight(worker)
    }
}
