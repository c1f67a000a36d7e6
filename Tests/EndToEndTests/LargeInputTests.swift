import XCTest
@testable import LLMWorkerTestSupport

/// Big and hostile lines: a 10 MiB request is served, a line over `--max-line-bytes` is refused with -32600 and
/// id null without harming the next request, and pathological nesting is an error, not a crash.
final class LargeInputTests: XCTestCase {
    func testTenMebibyteChatMessageIsAnswered() throws {
        let worker = try startMockWorker()
        let text = String(repeating: "0123456789abcdef", count: (10 << 20) / 16)
        try worker.send(RPC.request("chat", RPC.chatParams(text), id: "big"), timeout: 60)
        let result = assertResult(try worker.nextMessage(timeout: 60), id: "big")
        XCTAssertEqual(result["content"]?.string?.utf8.count, "You said: ".utf8.count + text.utf8.count)
        XCTAssertEqual(result["content"]?.string?.hasSuffix("cdef"), true)
        try worker.send(#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#)
        assertResult(try worker.nextMessage(), id: 2)
    }

    func testFiveMebibyteStreamedAnswerArrivesWhole() throws {
        let worker = try startMockWorker()
        let text = String(repeating: "x", count: 5 << 20) // over the writer's 4 MiB high-water mark
        let (deltas, response) = try worker.stream(RPC.chatParams("hi", mock: ["text": .string(text), "chunk_chars": 0]),
                                                   timeout: 60)
        XCTAssertEqual(deltas.count, 1, "chunk_chars 0: the whole text in one delta")
        XCTAssertEqual(deltas.first?["params"]?["content"]?.string?.utf8.count, text.utf8.count)
        XCTAssertEqual(assertResult(response, id: 1)["content"]?.string?.utf8.count, text.utf8.count)
    }

    func testLineOverTheLimitIsInvalidRequestAndTheNextIsAnswered() throws {
        let worker = try startMockWorker(arguments: ["--max-line-bytes", "1048576"])
        let huge = RPC.request("chat", RPC.chatParams(String(repeating: "y", count: 3 << 20)), id: 1)
        try worker.send(huge, timeout: 60)
        try worker.send(#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#)
        let refusal = try worker.nextMessage()
        assertError(refusal, id: nil, code: -32600, data: RPC.invalidRequestData, mentioning: ["1048576"])
        assertResult(try worker.nextMessage(), id: 2)
        XCTAssertEqual(try worker.finish(), 0)
        XCTAssertEqual(try worker.remainingMessages(), [], "the oversized line is answered once, nothing more")
    }

    func testSeveralOversizedLinesInARowEachGetOneRefusal() throws {
        let worker = try startWorker(["--max-line-bytes", "1024"])
        let long = String(repeating: "z", count: 5000)
        try worker.send(long + "\n" + long + "\n" + #"{"jsonrpc":"2.0","id":3,"method":"ping"}"#)
        assertError(try worker.nextMessage(), id: nil, code: -32600, data: RPC.invalidRequestData)
        assertError(try worker.nextMessage(), id: nil, code: -32600, data: RPC.invalidRequestData)
        assertResult(try worker.nextMessage(), id: 3)
    }

    func testOversizedLastLineWithoutNewlineIsRefusedAtEndOfInput() throws {
        let worker = try startWorker(["--max-line-bytes", "1024"])
        try worker.sendRaw(Array(String(repeating: "z", count: 4096).utf8))
        XCTAssertEqual(try worker.finish(), 0)
        let replies = try worker.remainingMessages()
        XCTAssertEqual(replies.count, 1)
        assertError(replies.first ?? .null, id: nil, code: -32600, data: RPC.invalidRequestData)
    }

    func testLineOfExactlyTheLimitIsAcceptedAndOneByteMoreIsNot() throws {
        let worker = try startWorker(["--max-line-bytes", "1024"])
        func ping(id: Int, length: Int) -> String {
            let head = #"{"jsonrpc":"2.0","id":\#(id),"method":"ping""#
            return head + String(repeating: " ", count: length - head.utf8.count - 1) + "}"
        }
        try worker.send(ping(id: 1, length: 1024))
        assertResult(try worker.nextMessage(), id: 1)
        try worker.send(ping(id: 2, length: 1025))
        assertError(try worker.nextMessage(), id: nil, code: -32600, data: RPC.invalidRequestData)
        try worker.send(ping(id: 3, length: 1000))
        assertResult(try worker.nextMessage(), id: 3)
    }

    func testTenThousandLevelsOfNestingAreAnErrorAndTheWorkerLives() throws {
        let worker = try startWorker()
        let depth = 10_000
        let lines = [
            String(repeating: "[", count: depth) + String(repeating: "]", count: depth),
            String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth),
            #"{"jsonrpc":"2.0","id":1,"method":"ping","params":"# + String(repeating: #"{"a":"#, count: depth) + "1"
                + String(repeating: "}", count: depth) + "}",
            #"{"jsonrpc":"2.0","id":2,"method":"chat","params":{"messages":"# + String(repeating: "[", count: depth)
                + String(repeating: "]", count: depth) + "}}",
        ]
        for line in lines {
            try worker.send(line)
            let reply = try worker.nextMessage()
            XCTAssertEqual(reply.keys, ["jsonrpc", "id", "error"], "\(reply)")
            let code = reply["error"]?["code"]?.int
            XCTAssertTrue([-32700, -32600, -32602].contains(code ?? 0), "\(reply)")
        }
        try worker.send(#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#)
        assertResult(try worker.nextMessage(), id: 3)
        XCTAssertTrue(worker.isRunning)
    }

    func testBatchOfManyRequestsIsAnsweredInOneArray() throws {
        let worker = try startWorker()
        let count = 500
        try worker.send("[" + (0..<count).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"ping"}"# }.joined(separator: ",") + "]")
        let replies = try worker.nextMessage().array ?? []
        XCTAssertEqual(Set(replies.compactMap { $0["id"]?.int }), Set(0..<count))
    }
}
