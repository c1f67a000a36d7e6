import XCTest
@testable import LLMWorkerTestSupport

/// Line framing on stdin and stdout: `\n` or `\r\n` in, blank lines ignored, lines split across writes joined,
/// a last line without newline still read; out, one compact JSON message per `\n`-terminated line, nothing else.
final class FramingTests: XCTestCase {
    private let ping1 = #"{"jsonrpc":"2.0","id":1,"method":"ping"}"#

    func testResponseLineIsExactlyTheCompactEnvelope() throws {
        let worker = try startWorker()
        try worker.send(ping1)
        let line = try worker.nextLine()
        let version = try JSON.parse(line)["result"]?["version"]?.string ?? "?"
        XCTAssertEqual(line, #"{"jsonrpc":"2.0","id":1,"result":{"in_flight":0,"ok":true,"version":"\#(version)"}}"#)
        XCTAssertEqual(try worker.finish(), 0)
        XCTAssertEqual(worker.stdout, Array((line + "\n").utf8), "exactly one line, ending in a single \\n")
    }

    func testCRLFLinesAndBlankLines() throws {
        let worker = try startWorker()
        let input = "\n\r\n   \n\t\r\n" + ping1 + "\r\n" + "\r\n\n" + #"{"jsonrpc":"2.0","id":2,"method":"ping"}"# + "\r\n  \r\n"
        try worker.sendRaw(Array(input.utf8))
        XCTAssertEqual(try worker.finish(), 0)
        let replies = try worker.remainingMessages()
        XCTAssertEqual(Set(replies.compactMap { $0["id"]?.int }), [1, 2], "blank lines are ignored, not answered: \(replies)")
        XCTAssertEqual(replies.count, 2)
        XCTAssertFalse(worker.stdout.contains(0x0D), "no \\r in the output")
    }

    func testBytesWrittenOneAtATimeMakeOneLine() throws {
        let worker = try startWorker()
        for byte in Array((ping1 + "\r\n").utf8) {
            try worker.sendRaw([byte])
        }
        assertResult(try worker.nextMessage(), id: 1)
    }

    func testLinesSplitAcrossWritesAndSeveralLinesInOneWrite() throws {
        let worker = try startWorker()
        let text = (1...5).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"ping"}"# }.joined(separator: "\n") + "\n"
        let bytes = Array(text.utf8)
        try worker.sendRaw(Array(bytes[0..<17]))
        try worker.sendRaw(Array(bytes[17..<100]))
        try worker.sendRaw(Array(bytes[100...]))
        let ids = try worker.nextMessages(5).compactMap { $0["id"]?.int }
        XCTAssertEqual(Set(ids), [1, 2, 3, 4, 5])
    }

    func testLastLineWithoutNewlineIsReadAtEndOfInput() throws {
        let worker = try startWorker()
        try worker.sendRaw(Array(ping1.utf8))
        XCTAssertEqual(try worker.finish(), 0)
        let replies = try worker.remainingMessages()
        XCTAssertEqual(replies.count, 1)
        assertResult(replies.first ?? .null, id: 1)
    }

    func testWhitespaceAroundTheMessageIsAccepted() throws {
        let worker = try startWorker()
        try worker.send("  \t" + ping1 + " \t ")
        assertResult(try worker.nextMessage(), id: 1)
        try worker.send(#"  [ {"jsonrpc":"2.0","id":2,"method":"ping"} ]  "#)
        XCTAssertEqual(try worker.nextMessage().array?.first?["id"], 2)
    }

    func testNonObjectJSONValuesAreInvalidRequests() throws {
        let worker = try startWorker()
        for line in ["1", #""ping""#, "null", "true", "3.5"] {
            try worker.send(line)
            assertError(try worker.nextMessage(), id: nil, code: -32600, data: RPC.invalidRequestData)
        }
    }

    func testMalformedJSONIsAParseErrorAndTheWorkerGoesOn() throws {
        let worker = try startWorker()
        // Foundation's decoder is lenient about trailing commas and duplicate keys; those are accepted as if
        // well-formed (PROTOCOL.md 3.1), so they are not listed here.
        let malformed = ["{", "}", "{'jsonrpc':'2.0'}", "nul", "{\"a\":1} {\"b\":2}", "{\"jsonrpc\":\"2.0\",\"id\":NaN}",
                         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}}", "\u{1}", "[{\"jsonrpc\":\"2.0\"", "abc", "[1 2]",
                         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} // comment"]
        for line in malformed {
            try worker.send(line)
            assertError(try worker.nextMessage(), id: nil, code: -32700, data: RPC.parseErrorData)
        }
        try worker.send(ping1)
        assertResult(try worker.nextMessage(), id: 1)
    }

    /// A raw control character (a pasted tab) or a lone surrogate escape inside any string makes the line not JSON,
    /// wherever the string is: a parse error with id null that says where and what to do, never a misleading
    /// invalid-request or invalid-params error about the field that held it.
    func testBadStringsAnywhereAreParseErrorsThatSayWhere() throws {
        let worker = try startMockWorker()
        let tab = "\u{9}"
        let cases = [
            #"{"jsonrpc":"2.0","id":1,"method":"chat","params":{"messages":[{"role":"user","content":"col1\#(tab)col2"}]}}"#,
            #"{"jsonrpc":"2.0","id":2,"method":"pi\#(tab)ng"}"#,
            #"{"jsonrpc":"2.0","id":"a\#(tab)b","method":"ping"}"#,
            #"{"jsonrpc":"2.0","id":3,"method":"configure","params":{"model":"a\#(tab)b"}}"#,
            #"{"jsonrpc":"2.0","id":4,"method":"chat","params":{"messages":[{"role":"user","content":"\ud800"}]}}"#,
            #"{"jsonrpc":"2.0","id":5,"method":"chat","params":{"messages":[{"role":"user","content":"a\#u{1}b"}]}}"#,
            // In members nobody reads: still not JSON.
            #"{"jsonrpc":"2.0","id":6,"method":"ping","x":"a\#(tab)b"}"#,
            #"{"jsonrpc":"2.0","id":7,"method":"chat","params":{"messages":[{"role":"user","content":"hi"}],"foo":"\udc00"}}"#,
        ]
        for line in cases {
            try worker.send(line)
            assertError(try worker.nextMessage(), id: nil, code: -32700, data: RPC.parseErrorData, mentioning: ["at byte"])
        }
        try worker.send(cases[0])
        assertError(try worker.nextMessage(), id: nil, code: -32700, data: RPC.parseErrorData, mentioning: [#"\t"#])
        try worker.send("{")
        assertError(try worker.nextMessage(), id: nil, code: -32700, data: RPC.parseErrorData, mentioning: ["one line"])
        // A tab between tokens is whitespace, an escaped backslash before "udc00" is text, a surrogate pair is a character.
        for line in [#"{"jsonrpc":"2.0",\#(tab)"id":8,"method":"ping"}"#, #"{"jsonrpc":"2.0","id":9,"method":"ping","x":"\\udc00"}"#,
                     #"{"jsonrpc":"2.0","id":10,"method":"ping","x":"\ud83d\ude00"}"#] {
            try worker.send(line)
            XCTAssertEqual(try worker.nextMessage()["result"]?["ok"], true, line)
        }
        // The model was not changed by the configure whose line was not JSON.
        XCTAssertEqual(assertResult(try worker.call("configure", [:], id: "c"), id: "c")["model"], "mock-1")
    }

    /// Pipes handed over in non-blocking mode: no input yet is not the end of input, and a full stdout is waited
    /// for. (Before, the worker took EAGAIN on stdin for the end of input and exited at once.)
    func testNonBlockingPipesWork() throws {
        let worker = try startWorker(["--provider", "mock"], nonBlockingPipes: true)
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertTrue(worker.isRunning, "no input yet is not the end of input")
        worker.pauseStdout()
        let long = String(repeating: "word ", count: 40_000)  // more than a pipe holds: stdout fills up
        try worker.send(RPC.request("chat", RPC.chatParams(long, mock: ["chunk_chars": 0]), id: 1))
        Thread.sleep(forTimeInterval: 0.3)
        worker.resumeStdout()
        XCTAssertEqual(assertResult(try worker.nextMessage(), id: 1)["content"]?.string, "You said: " + long)
        XCTAssertEqual(try worker.finish(), 0)
    }

    /// A byte order mark before the message (some Windows editors write one) is not part of it.
    func testByteOrderMarkIsIgnored() throws {
        let worker = try startWorker()
        try worker.sendRaw([0xEF, 0xBB, 0xBF] + Array(ping1.utf8) + [0x0A])
        assertResult(try worker.nextMessage(), id: 1)
        // A line of nothing but the mark (and white space) is a blank line: no output at all.
        try worker.sendRaw([0xEF, 0xBB, 0xBF, 0x0A, 0xEF, 0xBB, 0xBF, 0x20, 0x09, 0x0A])
        try worker.send(RPC.request("ping", id: 2))
        assertResult(try worker.nextMessage(), id: 2)
    }

    /// Only one mark is a leniency: a second one makes the line something that is not JSON.
    func testTwoByteOrderMarksAreAParseError() throws {
        let worker = try startWorker()
        try worker.sendRaw([0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF] + Array(ping1.utf8) + [0x0A])
        assertError(try worker.nextMessage(), id: nil, code: -32700, data: RPC.parseErrorData, mentioning: ["byte order mark"])
        try worker.send(RPC.request("ping", id: 2))
        assertResult(try worker.nextMessage(), id: 2)
    }

    /// RFC 8259 text is UTF-8: a line with invalid UTF-8 anywhere is not JSON, wherever the bad bytes are.
    func testInvalidUTF8IsAParseError() throws {
        let worker = try startMockWorker()
        let cases: [[UInt8]] = [
            [0xFF, 0xFE],
            Array(#"{"jsonrpc":"2.0","id":"a"#.utf8) + [0xFF] + Array(#"","method":"ping"}"#.utf8),
            Array(#"{"jsonrpc":"2.0","id":2,"method":"pi"#.utf8) + [0xC3] + Array(#"ng"}"#.utf8),
            Array(#"{"jsonrpc":"2.0","id":3,"method":"ping","params":{"x":""#.utf8) + [0xC0, 0xAF] + Array(#""}}"#.utf8),
            Array(#"{"jsonrpc":"2.0","id":4,"method":"chat","params":{"messages":[{"role":"user","content":"a"#.utf8)
                + [0xED, 0xA0, 0x80] + Array(#""}]}}"#.utf8),
            Array(#"{"jsonrpc":"2.0","id":5,"method":"ping","params":{"x":"truncated "#.utf8) + [0xE2, 0x82] + Array(#""}}"#.utf8),
            Array(#"[{"jsonrpc":"2.0","id":6,"method":"ping","params":{"x":""#.utf8) + [0x80] + Array(#""}}]"#.utf8),
        ]
        for bytes in cases {
            try worker.sendRaw(bytes + [0x0A])
            let reply = try worker.nextMessage()
            assertError(reply, id: nil, code: -32700, data: RPC.parseErrorData)
        }
        try worker.send(ping1)
        assertResult(try worker.nextMessage(), id: 1)
    }

    /// Whatever happens, stdout carries protocol messages only: every line is a JSON-RPC object (or a batch array
    /// of them), even at the most verbose log level, with errors, streams and provider failures along the way.
    func testStdoutCarriesOnlyProtocolLines() throws {
        let worker = try startWorker(["--log-level", "debug", "--provider", "mock"])
        let lines = [
            ping1, "not json", "[]", "[1,2]", #"{"jsonrpc":"2.0","id":3,"method":"nope"}"#,
            #"{"jsonrpc":"2.0","id":4,"method":"chatStream","params":{"messages":[{"role":"user","content":"hello there"}],"extra":{"mock":{"reasoning":"hmm","tool_calls":[{"name":"f","arguments":{"a":1}}]}}}}"#,
            #"{"jsonrpc":"2.0","id":5,"method":"chat","params":{"messages":[{"role":"user","content":"x"}],"extra":{"mock":{"error":{"kind":"rate_limited","status":429}}}}}"#,
            #"{"jsonrpc":"2.0","id":6,"method":"configure","params":{"provider":"openrouter","api_key":"sk-or-secret-123456789"}}"#,
            #"{"jsonrpc":"2.0","id":7,"method":"chat","params":{"messages":[{"role":"user","content":"x"}]}}"#,
            #"{"jsonrpc":"2.0","id":8,"method":"listModels"}"#, #"{"jsonrpc":"2.0","method":"chat","params":{}}"#,
            #"{"jsonrpc":"2.0","id":9,"method":"rpc.discover"}"#,
        ]
        for line in lines { try worker.send(line) }
        XCTAssertEqual(try worker.finish(), 0)
        let output = worker.stdout
        XCTAssertEqual(output.last, 0x0A, "the output ends with a newline")
        for line in output.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast() {
            let message = try JSON.parse(Array(line))
            for item in message.array ?? [message] {
                XCTAssertEqual(item["jsonrpc"], "2.0", "not a protocol message: \(item)")
                XCTAssertTrue(item.keys == ["jsonrpc", "id", "result"] || item.keys == ["jsonrpc", "id", "error"]
                              || item.keys == ["jsonrpc", "method", "params"], "not a protocol message: \(item)")
            }
        }
        XCTAssertFalse(String(decoding: output, as: UTF8.self).contains("sk-or-secret-123456789"), "a key reached stdout")
        XCTAssertFalse(worker.stderr.contains("sk-or-secret-123456789"), "a key reached the log")
        XCTAssertTrue(worker.stderr.contains("caal-llm-worker"), "the log goes to stderr: \(worker.stderr)")
    }
}
