import XCTest
@testable import LLMWorkerTestSupport

/// The examples of the JSON-RPC 2.0 specification (section 7), sent to the binary as written there.
/// Where the spec's example calls a method this worker does not serve, the answer is the worker's own.
final class SpecExamplesTests: XCTestCase {
    func testInvalidJSONIsAParseErrorWithNullID() throws {
        let worker = try startWorker()
        try worker.send(#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#)
        assertError(try worker.nextMessage(), id: nil, code: -32700, data: RPC.parseErrorData)
    }

    func testInvalidRequestObjectIsAnsweredWithNullID() throws {
        let worker = try startWorker()
        try worker.send(#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#)
        assertError(try worker.nextMessage(), id: nil, code: -32600, data: RPC.invalidRequestData)
    }

    func testBatchWithInvalidJSONIsOneParseError() throws {
        let worker = try startWorker()
        try worker.send(#"[ {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method" ]"#)
        assertError(try worker.nextMessage(), id: nil, code: -32700, data: RPC.parseErrorData)
    }

    func testEmptyArrayIsOneInvalidRequest() throws {
        let worker = try startWorker()
        try worker.send("[]")
        assertError(try worker.nextMessage(), id: nil, code: -32600, data: RPC.invalidRequestData)
    }

    func testBatchOfOneNonObjectIsAnArrayOfOneError() throws {
        let worker = try startWorker()
        try worker.send("[1]")
        let reply = try worker.nextMessage()
        XCTAssertEqual(reply.array?.count, 1, "\(reply)")
        assertError(reply[0] ?? .null, id: nil, code: -32600, data: RPC.invalidRequestData)
    }

    func testBatchOfThreeNonObjectsIsAnArrayOfThreeErrors() throws {
        let worker = try startWorker()
        try worker.send("[1,2,3]")
        let reply = try worker.nextMessage()
        XCTAssertEqual(reply.array?.count, 3, "\(reply)")
        for item in reply.array ?? [] {
            assertError(item, id: nil, code: -32600, data: RPC.invalidRequestData)
        }
    }

    /// The spec's mixed batch, with the worker's methods in place of `sum`, `subtract` and `get_data`.
    func testMixedBatchAnswersEveryRequestButNoNotification() throws {
        let worker = try startWorker()
        try worker.send("""
            [{"jsonrpc": "2.0", "method": "ping", "id": "1"},
             {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
             {"jsonrpc": "2.0", "method": "ping", "params": {}, "id": "2"},
             {"foo": "boo"},
             {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
             {"jsonrpc": "2.0", "method": "rpc.discover", "id": "9"}]
            """.replacingOccurrences(of: "\n", with: ""))
        let reply = try worker.nextMessage()
        let items = reply.array ?? []
        XCTAssertEqual(items.count, 5, "one response per request, none for the notification: \(reply)")
        var byID: [String: JSON] = [:]
        for item in items { byID[item["id"]?.string ?? "null"] = item }
        XCTAssertEqual(Set(byID.keys), ["1", "2", "null", "5", "9"])
        XCTAssertEqual(assertResult(byID["1"] ?? .null, id: "1").keys, RPC.pingResultKeys)
        XCTAssertEqual(assertResult(byID["2"] ?? .null, id: "2").keys, RPC.pingResultKeys)
        assertError(byID["null"] ?? .null, id: nil, code: -32600, data: RPC.invalidRequestData)
        assertError(byID["5"] ?? .null, id: "5", code: -32601, data: RPC.methodNotFoundData("foo.get"), mentioning: ["foo.get"])
        XCTAssertEqual(assertResult(byID["9"] ?? .null, id: "9")["openrpc"]?.string?.hasPrefix("1."), true)
    }

    /// The spec: "If the batch rpc call itself fails to be recognized … or if there are no Response objects
    /// contained within the Response array as it is to be sent to the client, the server MUST NOT return an empty Array
    /// and should return nothing at all."
    func testAllNotificationBatchGetsNoOutputAtAll() throws {
        let worker = try startWorker()
        try worker.send(#"[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]"#)
        try worker.send(#"[{"jsonrpc": "2.0", "method": "ping"}, {"jsonrpc": "2.0", "method": "notify_hello", "params": {}}]"#)
        XCTAssertEqual(try worker.finish(), 0)
        XCTAssertEqual(try worker.remainingMessages(), [], "an all-notification batch must produce no output")
        XCTAssertEqual(String(decoding: worker.stdout, as: UTF8.self), "")
    }

    func testNotificationsAreNeverAnswered() throws {
        let worker = try startWorker()
        try worker.send(#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#)
        try worker.send(#"{"jsonrpc": "2.0", "method": "foobar"}"#)
        try worker.send(#"{"jsonrpc": "2.0", "method": "ping"}"#)
        try worker.send(#"{"jsonrpc": "2.0", "method": "rpc.discover"}"#)
        try worker.send(#"{"jsonrpc": "2.0", "method": "configure", "params": {"provider": "nope"}}"#)
        try worker.send(#"{"jsonrpc": "2.0", "method": "cancel"}"#)
        try worker.send(#"{"jsonrpc": "2.0", "method": "cancel", "params": {"id": 42}}"#)
        try worker.send(#"{"jsonrpc": "2.0", "method": "chat", "params": {}}"#)
        try worker.send(#"{"jsonrpc": "2.0", "method": "chatStream", "params": {"messages": [{"role": "user", "content": "hi"}]}}"#)
        try worker.send(#"{"jsonrpc": "2.0", "method": "listModels", "params": "x"}"#)
        XCTAssertEqual(try worker.finish(), 0)
        XCTAssertEqual(try worker.remainingMessages(), [], "notifications must never be answered, not even with an error")
    }
}
