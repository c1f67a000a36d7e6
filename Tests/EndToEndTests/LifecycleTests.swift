import XCTest
@testable import LLMWorkerTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// How the worker ends: end of input, `shutdown` and SIGTERM/SIGINT let requests in flight finish (bounded by
/// `--shutdown-grace`), answer every request, and exit 0.
final class LifecycleTests: XCTestCase {
    private static let paced: JSON = ["first_token_delay_ms": 200, "delay_ms": 10, "chunk_chars": 3]
    private static let stalled: JSON = ["text": "partial answer", "chunk_chars": 8, "delay_ms": 600_000]

    func testEndOfInputWithNothingInFlightExitsZero() throws {
        let worker = try startWorker()
        XCTAssertEqual(try worker.finish(), 0)
        XCTAssertEqual(worker.stdout, [])
    }

    func testEndOfInputFinishesEveryRequestInFlight() throws {
        let worker = try startMockWorker()
        for n in 0..<10 {
            try worker.send(RPC.request(n % 2 == 0 ? "chat" : "chatStream", RPC.chatParams("n\(n)", mock: Self.paced),
                                        id: .number("\(n)")))
        }
        XCTAssertEqual(try worker.finish(), 0)
        let responses = try worker.remainingMessages().filter { $0["method"] == nil }
        XCTAssertEqual(Set(responses.compactMap { $0["id"]?.int }), Set(0..<10))
        for response in responses {
            let n = response["id"]?.int ?? -1
            XCTAssertEqual(assertResult(response, id: .number("\(n)"))["content"], .string("You said: n\(n)"))
        }
    }

    /// `cat requests.jsonl | caal-llm-worker`: the input ends right after the last request, before the worker
    /// has started on most of them; every one is still served (none refused as "shutting down").
    func testEveryRequestReadBeforeTheEndOfInputIsServed() throws {
        for round in 0..<5 {
            let worker = try startWorker(["--provider", "mock"])
            let lines = (0..<500).map { RPC.request($0 % 2 == 0 ? "chat" : "listModels", RPC.chatParams(), id: .number("\($0)")).text }
            try worker.sendRaw(Array((lines.joined(separator: "\n") + "\n").utf8))
            XCTAssertEqual(try worker.finish(), 0)
            let replies = try worker.remainingMessages()
            XCTAssertEqual(replies.count, 500)
            for reply in replies {
                XCTAssertNotNil(reply["result"], "round \(round): \(reply)")
            }
        }
    }

    func testEndOfInputPastTheGraceCancelsWhatIsLeft() throws {
        let worker = try startMockWorker(arguments: ["--shutdown-grace", "0.5"])
        try worker.send(RPC.request("chatStream", RPC.chatParams(mock: Self.stalled), id: "stream"))
        XCTAssertEqual(try worker.nextMessage()["params"]?["content"], "partial ")
        try worker.send(RPC.request("chat", RPC.chatParams(mock: ["first_token_delay_ms": 600_000]), id: "chat"))
        XCTAssertEqual(try worker.finish(), 0)
        let responses = try worker.remainingMessages()
        XCTAssertEqual(responses.count, 2, "\(responses)")
        let stream = responses.first { $0["id"] == "stream" } ?? .null
        let chat = responses.first { $0["id"] == "chat" } ?? .null
        XCTAssertEqual(assertProviderError(stream, id: "stream", code: -32800, kind: "cancelled")["partial_content"], "partial ")
        assertProviderError(chat, id: "chat", code: -32800, kind: "cancelled")
    }

    func testShutdownLetsRequestsFinishThenAnswersAndExits() throws {
        let worker = try startMockWorker()
        try worker.send(RPC.request("chat", RPC.chatParams("first", mock: Self.paced), id: "work"))
        try worker.send(RPC.request("shutdown", id: "bye"))
        let work = try worker.nextMessage()
        XCTAssertEqual(assertResult(work, id: "work")["content"], "You said: first", "the request in flight finishes first")
        XCTAssertEqual(assertResult(try worker.nextMessage(), id: "bye"), ["ok": true])
        XCTAssertEqual(try worker.waitForExit(), 0, "shutdown exits without waiting for the end of input")
        XCTAssertEqual(try worker.remainingMessages(), [])
    }

    /// `shutdown` inside a batch does not wait for its own batch (whose answer cannot be written before it
    /// answers): it waits for the requests before it, answers with the batch and exits, long before the grace.
    func testShutdownInsideABatchAnswersWithItsBatch() throws {
        let worker = try startMockWorker(arguments: ["--shutdown-grace", "600"])
        try worker.send("[" + RPC.request("chat", RPC.chatParams("first", mock: Self.paced), id: "work").text + ","
                        + RPC.request("shutdown", id: "bye").text + "]")
        let batch = try worker.nextMessage().array ?? []
        XCTAssertEqual(batch.count, 2)
        let work = batch.first { $0["id"] == "work" } ?? .null
        XCTAssertEqual(assertResult(work, id: "work")["content"], "You said: first", "the request before it finishes first")
        XCTAssertEqual(assertResult(batch.first { $0["id"] == "bye" } ?? .null, id: "bye"), ["ok": true])
        XCTAssertEqual(try worker.waitForExit(), 0, "the worker exits without waiting out the 600 s grace")
    }

    /// A `cancel` of the `shutdown` itself changes nothing: the shutdown goes on and the requests in flight
    /// still finish (before, it cancelled every other request and answered at once).
    func testCancellingTheShutdownChangesNothing() throws {
        let worker = try startMockWorker()
        try worker.send(RPC.request("chat", RPC.chatParams("first", mock: Self.paced), id: "work"))
        try worker.send(RPC.request("shutdown", id: "bye"))
        try worker.send(RPC.notification("cancel", ["id": "bye"]))
        try worker.send(RPC.request("cancel", ["id": "bye"], id: "c"))
        let seen = try worker.nextResponsesByID(3)
        XCTAssertEqual(assertResult(seen["c"] ?? .null, id: "c"), ["cancelled": false])
        XCTAssertEqual(assertResult(seen["work"] ?? .null, id: "work")["content"], "You said: first")
        XCTAssertEqual(assertResult(seen["bye"] ?? .null, id: "bye"), ["ok": true])
        XCTAssertEqual(try worker.waitForExit(), 0)
    }

    func testDuringShutdownNewWorkIsRefusedButPingAndCancelWork() throws {
        let worker = try startMockWorker()
        try worker.send(RPC.request("chatStream", RPC.chatParams(mock: Self.stalled), id: "stuck"))
        XCTAssertEqual(try worker.nextMessage()["params"]?["index"], 0)
        try worker.send(RPC.request("shutdown", id: "bye"))
        try worker.send(RPC.request("chat", RPC.chatParams(), id: "late"))
        assertError(try worker.nextMessage(), id: "late", code: -32603, data: ["kind": "shutting_down"])
        let ping = assertResult(try worker.call("ping", id: "p"), id: "p")
        XCTAssertEqual(ping["in_flight"], 2, "the stuck stream and the shutdown itself")
        try worker.send(RPC.request("cancel", ["id": "stuck"], id: "c"))
        let seen = try worker.nextResponsesByID(3)
        XCTAssertEqual(assertResult(seen["c"] ?? .null, id: "c"), ["cancelled": true])
        assertProviderError(seen["stuck"] ?? .null, id: "stuck", code: -32800, kind: "cancelled")
        XCTAssertEqual(assertResult(seen["bye"] ?? .null, id: "bye"), ["ok": true])
        XCTAssertEqual(try worker.waitForExit(), 0)
    }

    func testShutdownPastTheGraceCancelsWhatIsLeft() throws {
        let worker = try startMockWorker(arguments: ["--shutdown-grace", "0.5"])
        try worker.send(RPC.request("chat", RPC.chatParams(mock: ["first_token_delay_ms": 600_000]), id: "stuck"))
        try worker.send(RPC.request("shutdown", id: "bye"))
        assertProviderError(try worker.nextMessage(), id: "stuck", code: -32800, kind: "cancelled")
        XCTAssertEqual(assertResult(try worker.nextMessage(), id: "bye"), ["ok": true])
        XCTAssertEqual(try worker.waitForExit(), 0)
    }

    /// SIGTERM ends the worker even when the client has stopped reading: answers stuck behind a full stdout pipe
    /// do not keep it alive (it exits after the grace and a few seconds more, without them).
    func testSIGTERMExitsEvenWhenTheClientStopsReading() throws {
        let worker = try startMockWorker(arguments: ["--shutdown-grace", "1"])
        worker.pauseStdout()
        let long = String(repeating: "word ", count: 40_000)  // 200 KB answers: more than the pipe holds
        for n in 0..<2 {
            try worker.send(RPC.request("chat", RPC.chatParams(long, mock: ["chunk_chars": 0]), id: .number(String(n))))
        }
        Thread.sleep(forTimeInterval: 0.5)
        worker.sendSignal(SIGTERM)
        let deadline = Date().addingTimeInterval(60)
        while worker.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertFalse(worker.isRunning, "the worker exits although nobody reads its answers")
        worker.resumeStdout()
        XCTAssertEqual(try worker.waitForExit(), 0)
    }

    func testSIGTERMFinishesRequestsInFlightAndExitsZero() throws {
        for signal in [SIGTERM, SIGINT] {
            let worker = try startMockWorker()
            try worker.send(RPC.request("chatStream", RPC.chatParams("finish me", mock: Self.paced), id: "work"))
            // Once the ping behind it is answered, the worker has read the request.
            try worker.send(RPC.request("ping", id: "p"))
            let (_, early) = try worker.readUntilResponse(id: "p")
            worker.sendSignal(signal)
            XCTAssertEqual(try worker.waitForExit(), 0, "signal \(signal)")
            let messages = try early + worker.remainingMessages()
            let response = messages.last ?? .null
            XCTAssertEqual(assertResult(response, id: "work")["content"], "You said: finish me", "signal \(signal)")
            XCTAssertTrue(messages.dropLast().allSatisfy { $0["method"] == "chatStream.delta" })
        }
    }

    /// A supervisor stopping the worker must be able to count on it: no signal may be lost (libdispatch's
    /// signal sources on Linux lost about one in twenty).
    func testEverySignalIsHonoured() throws {
        for round in 0..<60 {
            let worker = try startWorker()
            assertResult(try worker.call("ping"), id: 1)
            worker.sendSignal(round % 2 == 0 ? SIGTERM : SIGINT)
            XCTAssertEqual(try worker.waitForExit(), 0, "round \(round)")
        }
    }

    func testSIGTERMPastTheGraceCancelsWhatIsLeft() throws {
        let worker = try startMockWorker(arguments: ["--shutdown-grace", "0.5"])
        try worker.send(RPC.request("chatStream", RPC.chatParams(mock: Self.stalled), id: "stuck"))
        XCTAssertEqual(try worker.nextMessage()["params"]?["index"], 0)
        worker.sendSignal(SIGTERM)
        XCTAssertEqual(try worker.waitForExit(), 0)
        let replies = try worker.remainingMessages()
        XCTAssertEqual(replies.count, 1)
        XCTAssertEqual(assertProviderError(replies.first ?? .null, id: "stuck", code: -32800, kind: "cancelled")["partial_content"],
                       "partial ")
    }

    func testTheWorkerSurvivesAStreamOfBadInput() throws {
        let worker = try startWorker()
        let garbage = ["", "{", "[]", "[1]", "null", "\u{7f}", #"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
                       #"{"jsonrpc":"2.0","id":{},"method":"ping"}"#, #"{"jsonrpc":"2.0","id":1}"#, #"{"id":1,"method":"ping"}"#]
        for _ in 0..<20 {
            for line in garbage { try worker.send(line) }
        }
        try worker.send(#"{"jsonrpc":"2.0","id":"alive","method":"ping"}"#)
        var (response, others) = try worker.readUntilResponse(id: "alive")
        assertResult(response, id: "alive")
        // Responses come in any order (PROTOCOL.md 3.6): a batch's error may be written after the ping's answer.
        while others.count < 20 * (garbage.count - 1) { others.append(try worker.nextMessage()) }
        XCTAssertEqual(others.count, 20 * (garbage.count - 1), "one error for each non-blank line")
        XCTAssertTrue(worker.isRunning)
    }
}
