import XCTest
@testable import LLMWorkerTestSupport

/// A client that sends too much, too deep, too many or the same thing twice: each is answered as the contract
/// says, the worker stays alive, and its memory comes back down afterwards.
final class HostileInputTests: XCTestCase {
    func testDeepNestingWhereverJSONIsAccepted() throws {
        let worker = try startMockWorker()
        let depth = 10_000
        let deepArray = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let deepObject = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
        let lines = [
            // In a batch element, in extra (forwarded upstream as given), in the mock script, in an id, in cancel.
            "[" + #"{"jsonrpc":"2.0","id":1,"method":"ping"},"# + deepObject + "]",
            #"{"jsonrpc":"2.0","id":2,"method":"chat","params":{"messages":[{"role":"user","content":"hi"}],"extra":{"top":"# + deepArray + "}}}",
            #"{"jsonrpc":"2.0","id":3,"method":"configure","params":{"mock":"# + deepObject + "}}",
            #"{"jsonrpc":"2.0","id":"# + deepArray + #","method":"ping"}"#,
            #"{"jsonrpc":"2.0","method":"cancel","params":{"id":"# + deepArray + "}}",
            #"{"jsonrpc":"2.0","id":4,"method":"chat","params":{"messages":[{"role":"user","content":"# + deepObject + "}]}}",
        ]
        for line in lines {
            try worker.send(line)
            try worker.send(#"{"jsonrpc":"2.0","id":"after","method":"ping"}"#)
            let (_, others) = try worker.readUntilResponse(id: "after")
            XCTAssertLessThanOrEqual(others.count, 1, "at most one answer for one line: \(others)")
            for reply in others {
                XCTAssertEqual(reply["error"]?["code"], -32700, "too deep is a parse error: \(reply)")
                XCTAssertEqual(reply["id"], .null)
            }
        }
        XCTAssertEqual(assertResult(try worker.call("chat", RPC.chatParams("still fine"), id: 5), id: 5)["content"], "You said: still fine")
    }

    func testTenThousandRequestsInOneBatchAreAnsweredInOneArray() throws {
        let worker = try startMockWorker(mock: ["chunk_chars": 0])
        var elements: [String] = []
        var expected: Set<String> = []
        for n in 0..<10_000 {
            switch n % 5 {
            case 0: elements.append(#"{"jsonrpc":"2.0","id":"p\#(n)","method":"ping"}"#)
            case 1: elements.append(#"{"jsonrpc":"2.0","id":"c\#(n)","method":"chat","params":{"messages":[{"role":"user","content":"n\#(n)"}]}}"#)
            case 2: elements.append(#"{"jsonrpc":"2.0","id":"u\#(n)","method":"no.such"}"#)
            case 3: elements.append(#"{"jsonrpc":"2.0","method":"cancel","params":{"id":"x\#(n)"}}"#)  // a notification: no answer
            default: elements.append(#"{"jsonrpc":"2.0","id":"k\#(n)","method":"cancel","params":{"id":"x\#(n)"}}"#)
            }
            if n % 5 != 3 { expected.insert(["p", "c", "u", "", "k"][n % 5] + "\(n)") }
        }
        try worker.send("[" + elements.joined(separator: ",") + "]", timeout: 60)
        let reply = try worker.nextMessage(timeout: 60)
        let answers = try XCTUnwrap(reply.array, "one array: \(reply.text.prefix(300))")
        XCTAssertEqual(answers.count, expected.count)
        XCTAssertEqual(Set(answers.compactMap { $0["id"]?.string }), expected)
        for answer in answers {
            let id = answer["id"]?.string ?? ""
            switch id.first {
            case "p": XCTAssertEqual(answer["result"]?["ok"], true)
            case "c": XCTAssertEqual(answer["result"]?["content"], .string("You said: n\(id.dropFirst())"))
            case "u": XCTAssertEqual(answer["error"]?["code"], -32601)
            default: XCTAssertEqual(answer["result"], ["cancelled": false])
            }
        }
        try worker.assertAlive()
    }

    func testDuplicateIDsInFlightAreBothServedAndBothCancelled() throws {
        let worker = try startMockWorker()
        let slow = RPC.chatParams("dup", mock: ["chunk_chars": 1, "delay_ms": 5])
        try worker.send(RPC.request("chatStream", slow, id: "dup"))
        try worker.send(RPC.request("chatStream", slow, id: "dup"))
        var finals: [JSON] = []
        var deltas = 0
        while finals.count < 2 {
            let message = try worker.nextMessage()
            if message["method"] == "chatStream.delta" {
                XCTAssertEqual(message["params"]?["id"], "dup")
                deltas += 1
            } else {
                finals.append(message)
            }
        }
        for final in finals { XCTAssertEqual(assertResult(final, id: "dup")["content"], "You said: dup") }
        XCTAssertEqual(deltas, 2 * "You said: dup".count)

        let stalled = RPC.chatParams("dup", mock: ["first_token_delay_ms": 600_000])
        try worker.send(RPC.request("chat", stalled, id: 7))
        try worker.send(RPC.request("chatStream", stalled, id: 7))
        let (cancel, others) = try worker.sendAndReadUntilResponse(RPC.request("cancel", ["id": 7], id: "c"), id: "c")
        XCTAssertEqual(assertResult(cancel, id: "c"), ["cancelled": true])
        var cancelled = others
        while cancelled.count < 2 { cancelled.append(try worker.nextMessage()) }
        for reply in cancelled { assertProviderError(reply, id: 7, code: -32800, kind: "cancelled") }
        try worker.assertAlive()
    }

    func testCancelOfUnknownIDs() throws {
        let worker = try startMockWorker()
        let ids: [JSON] = ["nope", 0, -1, 1.5, nil, "", .number("99999999999999999999"), "7"]
        for (n, id) in ids.enumerated() {
            try worker.send(RPC.notification("cancel", ["id": id]))
            XCTAssertEqual(assertResult(try worker.call("cancel", ["id": id], id: .number("\(n)")), id: .number("\(n)")), ["cancelled": false])
        }
        // An id that finished already: nothing to cancel, its answer stands.
        XCTAssertEqual(assertResult(try worker.call("chat", RPC.chatParams(), id: "done"), id: "done")["content"], "You said: hi")
        XCTAssertEqual(assertResult(try worker.call("cancel", ["id": "done"], id: "c"), id: "c"), ["cancelled": false])
        XCTAssertEqual(try worker.finish(), 0)
        XCTAssertEqual(try worker.remainingMessages(), [], "cancel notifications are never answered")
    }

    func testFloodOfNotificationsProducesNoOutput() throws {
        let worker = try startMockWorker()
        try worker.assertAlive(id: "baseline")
        let baseline = try XCTUnwrap(ProcessMemory.residentMiB(worker.pid))
        let kinds = [
            #"{"jsonrpc":"2.0","method":"ping"}"#,
            #"{"jsonrpc":"2.0","method":"cancel","params":{"id":"ghost"}}"#,
            #"{"jsonrpc":"2.0","method":"no.such.method","params":{"x":1}}"#,
            #"{"jsonrpc":"2.0","method":"ping","params":{"bad":[1,2,3]}}"#,
            #"{"jsonrpc":"2.0","method":"cancel","params":"not an object"}"#,
            #"{"jsonrpc":"2.0","method":"rpc.discover"}"#,
            #"{"jsonrpc":"2.0","method":"configure","params":{"temperature":99}}"#,
        ]
        let count = 100_000
        var batch: [UInt8] = []
        batch.reserveCapacity(count * 60)
        for n in 0..<count {
            // chat notifications are not run (each logs a warning): a few of them.
            let line = n % 1000 == 999 ? #"{"jsonrpc":"2.0","method":"chat","params":{"messages":[{"role":"user","content":"x"}]}}"#
                : kinds[n % kinds.count]
            batch += Array(line.utf8)
            batch.append(0x0A)
        }
        try worker.sendRaw(batch, timeout: 60)
        let (reply, others) = try worker.sendAndReadUntilResponse(RPC.request("ping", id: "after"), id: "after", timeout: 60)
        XCTAssertEqual(others, [], "notifications are never answered")
        XCTAssertEqual(assertResult(reply, id: "after")["ok"], true)
        XCTAssertTrue(eventually(timeout: 20) { (try? worker.call("ping", id: "idle"))?["result"]?["in_flight"] == 0 })
        let after = try XCTUnwrap(ProcessMemory.residentMiB(worker.pid))
        print("notification flood: RSS \(baseline) MiB before, \(after) MiB after, peak \(ProcessMemory.peakMiB(worker.pid) ?? -1) MiB")
        XCTAssertLessThan(after, baseline + 100, "memory came back near its baseline")
        XCTAssertEqual(worker.stderrLines(containing: "not run", waitingFor: count / 1000).count, count / 1000)
    }

    /// A client that floods requests without reading the answers meets back-pressure: past the output queue's
    /// limit the worker stops reading its input, so the client's writes wait and the worker's memory stays
    /// bounded; once the client reads, every request is answered.
    func testAFloodWithoutReadingTheAnswersIsHeldBack() throws {
        let worker = try startWorker()
        let baseline = try XCTUnwrap(ProcessMemory.residentMiB(worker.pid))
        worker.pauseStdout()
        let count = 120_000  // 5 MB of pings, 9 MB of answers: far more than the output queue's 4 MiB
        let flood = Array(String(repeating: RPC.request("ping", id: 1).text + "\n", count: count).utf8)
        let sent = DispatchSemaphore(value: 0)
        Thread {
            try? worker.sendRaw(flood, timeout: 120)
            sent.signal()
        }.start()
        XCTAssertEqual(sent.wait(timeout: .now() + 3), .timedOut, "the worker stopped taking input while nobody read")
        let held = try XCTUnwrap(ProcessMemory.residentMiB(worker.pid))
        // Without back-pressure such a flood took the worker to about 680 MB; bounded, it stays near 30 MB over its
        // baseline on a quiet machine, and a busy one (tasks scheduled late) has been seen at 100 MB over it.
        XCTAssertLessThan(held, baseline + 200, "memory stays bounded while the client does not read")
        worker.resumeStdout()
        var answered = 0
        while answered < count {
            let message = try worker.nextMessage()
            XCTAssertEqual(message["id"], 1)
            answered += 1
        }
        XCTAssertEqual(sent.wait(timeout: .now() + 60), .success)
    }

    /// The same with requests whose answers are large (`rpc.discover`, 46 KB each): lines read before the output
    /// queue filled up must not each add an answer without limit (a flood of them took the worker to 700 MB).
    func testAFloodOfLargeAnswersWithoutReadingStaysBounded() throws {
        let worker = try startWorker()
        assertResult(try worker.call("rpc.discover", id: 0), id: 0)
        let baseline = try XCTUnwrap(ProcessMemory.residentMiB(worker.pid))
        worker.pauseStdout()
        let flood = Array(String(repeating: RPC.request("rpc.discover", id: 1).text + "\n", count: 20_000).utf8)
        Thread { try? worker.sendRaw(flood, timeout: 120) }.start()
        var peak = baseline
        for _ in 0..<60 {
            Thread.sleep(forTimeInterval: 0.1)
            peak = max(peak, ProcessMemory.residentMiB(worker.pid) ?? 0)
        }
        print("large-answer flood: worker RSS \(baseline) MiB before, peak \(peak) MiB while the client did not read")
        XCTAssertLessThan(peak, baseline + 250, "memory stays bounded while the client does not read")
        worker.resumeStdout()
    }

    func testHundredMegabyteLineIsRefusedAndMemoryReturnsToBaseline() throws {
        let worker = try startMockWorker()
        try worker.assertAlive(id: "baseline")
        let baseline = try XCTUnwrap(ProcessMemory.residentMiB(worker.pid))
        let prefix = Array(#"{"jsonrpc":"2.0","id":1,"method":"chat","params":{"messages":[{"role":"user","content":""#.utf8)
        var line = prefix + [UInt8](repeating: UInt8(ascii: "z"), count: 100_000_000)
        line += Array(#""}]}}"#.utf8) + [0x0A]
        try worker.sendRaw(line, timeout: 120)
        line = []
        let refusal = try worker.nextMessage(timeout: 60)
        assertError(refusal, id: nil, code: -32600, data: RPC.invalidRequestData, mentioning: ["33554432"])
        try worker.assertAlive()
        XCTAssertEqual(assertResult(try worker.call("chat", RPC.chatParams("next"), id: 2), id: 2)["content"], "You said: next")
        let peak = try XCTUnwrap(ProcessMemory.peakMiB(worker.pid))
        let after = try XCTUnwrap(ProcessMemory.residentMiB(worker.pid))
        print("100 MB line: RSS \(baseline) MiB before, peak \(peak) MiB, \(after) MiB after")
        XCTAssertLessThan(peak, baseline + 150, "the line was never held whole (32 MiB at most)")
        XCTAssertLessThan(after, baseline + 64, "memory came back near its baseline")
    }
}
