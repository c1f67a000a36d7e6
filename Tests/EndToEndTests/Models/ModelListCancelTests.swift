import XCTest
@testable import LLMWorkerTestSupport

/// `listModels` can be cancelled like any request: it ends at once with -32800 and its upstream request is
/// closed, also when another identical call shares that request.
final class ModelListCancelTests: XCTestCase {
    func testCancelEndsTheCallAndClosesTheRequest() throws {
        let server = try startServer()
        server.route(OR.modelsPath) { _ in [.stall] }
        let worker = try startOpenRouterWorker(server)
        try worker.send(RPC.request("listModels", [:], id: "l"))
        XCTAssertTrue(server.waitForRequests(count: 2, timeout: 10), "configure's warm-up, then the list")
        server.mark()
        try worker.send(RPC.notification("cancel", ["id": "l"]))
        let reply = try worker.nextMessage(timeout: 10)
        XCTAssertEqual(reply, ["jsonrpc": "2.0", "id": "l", "error": [
            "code": -32800, "message": "Request cancelled",
            "data": ["kind": "cancelled", "status": nil, "retryable": false, "provider": "openrouter"],
        ]])
        XCTAssertNotNil(server.waitForClientClose(timeout: 10), "the upstream request was closed")
        try assertNothingInFlight(worker)
    }

    /// Two identical calls share one upstream request: cancelling one leaves the other waiting for it; the
    /// survivor gets the list when it comes.
    func testCancellingOneOfTwoSharedCallsKeepsTheOther() throws {
        let server = try startServer()
        server.route(OR.modelsPath) { _ in MockResponse([.sleep(1.5)] + OR.json(["data": [OR.gpt4o]]).actions) }
        let worker = try startOpenRouterWorker(server, arguments: ["--log-level", "debug"])
        try worker.send(RPC.request("listModels", [:], id: "a"))
        XCTAssertTrue(server.waitForRequests(count: 2, timeout: 10), "configure's warm-up, then the list")
        try worker.send(RPC.request("listModels", [:], id: "b"))
        // b runs on its own task: cancel a only once b has joined a's request (else b would rightly start its own).
        XCTAssertTrue(worker.waitForStderr(containing: "sharing the openrouter model list request already in flight"))
        try worker.send(RPC.notification("cancel", ["id": "a"]))
        let first = try worker.nextMessage(timeout: 10)
        XCTAssertEqual(first["id"], "a")
        XCTAssertEqual(first["error"]?["code"], -32800)
        let second = try worker.nextMessage(timeout: 10)
        XCTAssertEqual(second, ["jsonrpc": "2.0", "id": "b", "result": ["provider": "openrouter", "cached": false, "models": [OR.gpt4oInfo]]])
        XCTAssertEqual(server.requests.map(\.path), ["/api/v1/models/count", OR.modelsPath])
    }
}
