import XCTest
@testable import LLMWorkerTestSupport

/// Several requests in flight at once: each is answered with its own id as it finishes, and a slow one holds up
/// nothing else.
final class ConcurrencyTests: XCTestCase {
    func testHundredConcurrentRequestsAreAllAnsweredWithTheirIDs() throws {
        let worker = try startMockWorker(mock: ["delay_ms": 5, "chunk_chars": 2])
        var lines: [String] = []
        for n in 0..<100 {
            let method = n % 2 == 0 ? "chat" : "chatStream"
            let request = RPC.request(method, RPC.chatParams("request \(n)"), id: n % 3 == 0 ? .string("s\(n)") : .number("\(n)"))
            lines.append(request.text)
        }
        try worker.sendRaw(Array((lines.joined(separator: "\n") + "\n").utf8))
        var answered: [String: JSON] = [:]
        var deltaIndexes: [String: [Int]] = [:]
        var deltaText: [String: String] = [:]
        while answered.count < 100 {
            let message = try worker.nextMessage()
            if message["method"] == "chatStream.delta" {
                let key = message["params"]?["id"]?.text ?? "?"
                XCTAssertNil(answered[key], "a delta after the response of \(key)")
                deltaIndexes[key, default: []].append(message["params"]?["index"]?.int ?? -1)
                deltaText[key, default: ""] += message["params"]?["content"]?.string ?? ""
                continue
            }
            let key = message["id"]?.text ?? "?"
            XCTAssertNil(answered[key], "two responses for \(key)")
            answered[key] = message
        }
        for n in 0..<100 {
            let id: JSON = n % 3 == 0 ? .string("s\(n)") : .number("\(n)")
            let result = assertResult(answered[id.text] ?? .null, id: id)
            XCTAssertEqual(result["content"], .string("You said: request \(n)"), "answer of request \(n)")
            if n % 2 == 1 {
                let indexes = deltaIndexes[id.text] ?? []
                XCTAssertEqual(indexes, Array(0..<indexes.count), "delta indexes of \(id)")
                XCTAssertEqual(deltaText[id.text], "You said: request \(n)")
            } else {
                XCTAssertNil(deltaIndexes[id.text], "chat (not streamed) sends no deltas")
            }
        }
    }

    func testSlowRequestNeverHoldsUpPingOrAnotherRequest() throws {
        let worker = try startMockWorker()
        try worker.send(RPC.request("chatStream", RPC.chatParams("slow", mock: ["first_token_delay_ms": 600_000]), id: "slow"))
        try worker.send(RPC.request("chat", RPC.chatParams("slow too", mock: ["first_token_delay_ms": 600_000]), id: "slow2"))
        try worker.send(RPC.request("ping", id: "p"))
        let ping = assertResult(try worker.nextMessage(), id: "p")
        XCTAssertEqual(ping["in_flight"], 2, "the two slow requests are in flight: \(ping)")
        try worker.send(RPC.request("chat", RPC.chatParams("quick"), id: "quick"))
        XCTAssertEqual(assertResult(try worker.nextMessage(), id: "quick")["content"], "You said: quick")
        try worker.send(RPC.request("listModels", id: "models"))
        assertResult(try worker.nextMessage(), id: "models")
        try worker.send(RPC.request("cancel", ["id": "slow"], id: "c"))
        let (cancelReply, others) = try worker.readUntilResponse(id: "c")
        XCTAssertEqual(assertResult(cancelReply, id: "c"), ["cancelled": true])
        let slowEnd = others.isEmpty ? try worker.nextMessage() : others[0]
        assertProviderError(slowEnd, id: "slow", code: -32800, kind: "cancelled")
    }

    func testPingCountsRequestsInFlight() throws {
        let worker = try startMockWorker(mock: ["first_token_delay_ms": 600_000])
        XCTAssertEqual(assertResult(try worker.call("ping", id: "p0"), id: "p0")["in_flight"], 0)
        for n in 0..<3 { try worker.send(RPC.request("chat", RPC.chatParams(), id: .number("\(n)"))) }
        XCTAssertEqual(assertResult(try worker.call("ping", id: "p1"), id: "p1")["in_flight"], 3)
        try worker.send(RPC.notification("cancel", ["id": 1]))
        XCTAssertEqual(try worker.nextMessage()["id"], 1, "the cancelled request ends")
        XCTAssertEqual(assertResult(try worker.call("ping", id: "p2"), id: "p2")["in_flight"], 2)
    }

    /// A request whose answer the client has read is no longer in flight (tried a few times: the worker's
    /// bookkeeping of a request goes on for a moment after its answer is written).
    func testAnsweredRequestsAreNotCountedInFlight() throws {
        let worker = try startMockWorker()
        for round in 0..<20 {
            assertResult(try worker.call("chat", RPC.chatParams(), id: "chat"), id: "chat")
            XCTAssertEqual(assertResult(try worker.call("ping", id: "p"), id: "p")["in_flight"], 0, "round \(round)")
        }
    }
}
