import Foundation
import XCTest
@testable import LLMWorkerTestSupport

/// The log explains each request (PROTOCOL §10, logging): at `debug`, every line about a request carries its tag
/// (`[id "abc" #3] chatStream: …`), and together they say where it was sent, what came back and when, what was
/// retried and why, how long the server was silent, and how it ended; at `info`, at most one line per request.
final class DebugLogTests: XCTestCase {
    /// A log line split into its level, tag (the JSON text of the id, `nil` for an untagged line), method and message.
    struct LogLine {
        let level: String
        let id: JSON?
        let number: Int?
        let method: String
        let message: String

        /// `caal-llm-worker debug [id "abc" #3] chatStream: message`, or `caal-llm-worker info: message`.
        init?(_ line: Substring) {
            let prefix = "caal-llm-worker "
            guard line.hasPrefix(prefix) else { return nil }
            let rest = line.dropFirst(prefix.count)
            guard let space = rest.firstIndex(where: { $0 == " " || $0 == ":" }) else { return nil }
            level = String(rest[..<space])
            if rest[space] == ":" {
                (id, number, method, message) = (nil, nil, "", String(rest[rest.index(space, offsetBy: 2)...]))
                return
            }
            let tagged = rest[rest.index(after: space)...]
            // The tag ends at its first "]": nothing inside it is a bracket.
            guard tagged.hasPrefix("["), let close = tagged.firstIndex(of: "]") else { return nil }
            let tag = tagged[tagged.index(after: tagged.startIndex)..<close]
            guard let hash = tag.range(of: " #", options: .backwards), let number = Int(tag[hash.upperBound...]) else { return nil }
            let name = tag[..<hash.lowerBound]
            if name == "notification" {
                id = nil
            } else if name.hasPrefix("id "), let parsed = try? JSON.parse(String(name.dropFirst(3))) {
                id = parsed
            } else {
                return nil
            }
            self.number = number
            let body = tagged[tagged.index(close, offsetBy: 2)...]
            guard let colon = body.range(of: ": ") else { return nil }
            method = String(body[..<colon.lowerBound])
            message = String(body[colon.upperBound...])
        }
    }

    private func lines(_ worker: WorkerProcess) -> [Substring] {
        worker.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
    }

    /// The messages of the lines tagged with `id`, in order.
    private func messages(_ worker: WorkerProcess, id: JSON, level: String? = nil) -> [String] {
        lines(worker).compactMap(LogLine.init).filter { $0.id == id && (level == nil || $0.level == level) }.map(\.message)
    }

    private func index(of text: String, in messages: [String], file: StaticString = #filePath, line: UInt = #line) -> Int {
        guard let found = messages.firstIndex(where: { $0.contains(text) }) else {
            XCTFail("no line with \"\(text)\" in \(messages)", file: file, line: line)
            return -1
        }
        return found
    }

    private func assertInOrder(_ texts: [String], in messages: [String], file: StaticString = #filePath, line: UInt = #line) {
        let positions = texts.map { index(of: $0, in: messages, file: file, line: line) }
        XCTAssertEqual(positions, positions.sorted(), "in this order: \(texts) in \(messages)", file: file, line: line)
    }

    func testAStreamIsToldUnderItsTagWithoutItsKey() throws {
        let key = ["sk", "test", "debuglog", "1234567890"].joined(separator: "-")
        let comment = ": OPENROUTER PROCESSING\n\n"
        let events = [Wire.content("Hello "), Wire.content("there."), Wire.finish()]
        let server = try MockHTTPServer()
        let actions: [MockAction] = [Wire.streamHead, .chunkText(comment), .chunkText(comment)] + events.map { MockAction.sse($0) }
            + [.sse("[DONE]"), .end]
        server.enqueue(MockResponse(actions), path: Wire.path)
        let worker = try startHTTPWorker(server, settings: ["api_key": .string(key)], arguments: ["--log-level", "debug"])
        let (deltas, response) = try worker.stream(RPC.chatParams(), id: "abc")
        XCTAssertEqual(assertResult(response, id: "abc")["content"], "Hello there.")
        XCTAssertFalse(deltas.isEmpty)
        XCTAssertTrue(eventually { self.messages(worker, id: "abc").contains { $0.hasPrefix("answered after") } }, worker.stderr)

        let log = messages(worker, id: "abc")
        let url = server.v1BaseURL + "/chat/completions"
        assertInOrder(["started", "attempt 1: POST \(url) (stream, \(TestTransport.forMockServer))", "attempt 1: HTTP 200 (text/event-stream) after ",
                       "attempt 1: keep-alive comment after", "first delta after", "attempt 1: answered ([DONE]) after ",
                       "answered after "], in: log)
        let bytes = 2 * comment.utf8.count + (events + ["[DONE]"]).map { "data: \($0)\n\n".utf8.count }.reduce(0, +)
        let received = "received \(bytes) bytes, 4 events, 2 keep-alive comments"
        XCTAssertEqual(log.filter { $0.contains(received) }.count, 1, "the attempt's end says what came: \(log)")
        let end = log.last ?? ""
        XCTAssertTrue(end.hasPrefix("answered after "), end)
        XCTAssertTrue(end.contains("finish_reason stop, \(deltas.count) delta\(deltas.count == 1 ? "" : "s") (first after "), end)
        XCTAssertTrue(end.contains("upstream: 1 attempt, \(bytes) bytes, 4 events, 2 keep-alive comments"), end)
        XCTAssertEqual(log.filter { $0.contains("keep-alive comment after") }.count, 1, "one line for the first comment only")
        XCTAssertTrue(lines(worker).compactMap(LogLine.init).filter { $0.id == "abc" }.allSatisfy { $0.method == "chatStream" })
        XCTAssertFalse(worker.stderr.contains(key), "the key is never logged")
        XCTAssertFalse(worker.stderr.lowercased().contains("authorization"), "nor its header")
    }

    func testARetryIsLoggedWithItsReasonAndWaitAtDebugOnly() throws {
        for level in ["debug", "info"] {
            let server = try MockHTTPServer()
            server.enqueue(.openAIError(status: 429, message: "slow down", headers: ["Retry-After": "1"]), path: Wire.path)
            server.enqueue(Wire.stream(["ok"]), path: Wire.path)
            let worker = try startHTTPWorker(server, arguments: ["--log-level", level])
            XCTAssertEqual(assertResult(try worker.stream(RPC.chatParams(), id: 7).response, id: 7)["content"], "ok")
            XCTAssertEqual(server.requests(to: Wire.path).count, 2)
            guard level == "debug" else {
                XCTAssertEqual(messages(worker, id: 7), [], "a request answered in the end has no line at info: \(worker.stderr)")
                continue
            }
            XCTAssertTrue(eventually { self.messages(worker, id: 7).contains { $0.hasPrefix("answered after") } }, worker.stderr)
            let log = messages(worker, id: 7)
            assertInOrder(["attempt 1: POST ", "attempt 1: HTTP 429 (", "attempt 1: failed: rate_limited: ",
                           "attempt 1 failed (rate_limited: ", "; retrying in 1.00 s", "attempt 2: POST ", "attempt 2: HTTP 200",
                           "answered after "], in: log)
            XCTAssertTrue(log.last?.contains("upstream: 2 attempts") == true, "\(log)")
        }
    }

    func testSilenceIsReportedWhileItLastsAndTheLimitThatEndedIt() throws {
        let server = try MockHTTPServer()
        // No response head at all, then a head and one keep-alive comment and nothing more.
        server.enqueue([.stall], path: Wire.path)
        server.enqueue([Wire.streamHead, .chunkText(": OPENROUTER PROCESSING\n\n"), .stall], path: Wire.path)
        let worker = try startHTTPWorker(server, settings: ["first_token_timeout_s": 1.5, "max_retries": 0],
                                         arguments: ["--log-level", "debug"])
        for (id, waiting, received) in [("no-head", "no response head yet", "; no byte received yet"),
                                        ("no-delta", "no delta yet (first_token_timeout_s 1.5 s); last byte ", "25 bytes, 0 events, 1 keep-alive comments so far")] {
            let reply = try worker.stream(RPC.chatParams(), id: .string(id)).response
            assertProviderError(reply, id: .string(id), code: -32008, kind: "timeout")
            let tag = JSON.string(id)
            XCTAssertTrue(eventually { self.messages(worker, id: tag).contains { $0.hasPrefix("failed after") } }, worker.stderr)
            let log = messages(worker, id: tag)
            assertInOrder(["attempt 1: POST ", "attempt 1: still waiting, ", "attempt 1: failed: timeout: ", "failed after "], in: log)
            let report = log.first { $0.contains("still waiting") } ?? ""
            XCTAssertTrue(report.contains(waiting) && report.contains(received), report)
            XCTAssertTrue(log.last?.contains("timeout: The model sent nothing within 1.5 s (first_token_timeout_s)") == true, "\(log)")
        }
    }

    func testTwoHundredFiftySixConcurrentStreamsKeepTheirLinesApart() throws {
        let streams = 256
        let server = try MockHTTPServer()
        server.route(Wire.path) { request in
            let messages = request.bodyJSON?["messages"] as? [[String: Any]]
            let name = messages?.first?["content"] as? String ?? "?"
            return Wire.stream(["\(name) one ", "\(name) two"], delay: 0.01)
        }
        let worker = try startHTTPWorker(server, settings: ["first_token_timeout_s": 60, "idle_timeout_s": 60, "timeout_s": 120],
                                         arguments: ["--log-level", "debug"])
        let ids = (0..<streams).map { "stream \($0)" }
        let requests = ids.map { RPC.request("chatStream", RPC.chatParams($0), id: .string($0)).text }
        try worker.sendRaw(Array((requests.joined(separator: "\n") + "\n").utf8))
        var answered = Set<String>()
        var deltaLines: [String: Int] = [:]
        while answered.count < streams {
            let message = try worker.nextMessage(timeout: 60)
            if let id = message["params"]?["id"]?.string { deltaLines[id, default: 0] += 1 }
            if let id = message["id"]?.string {
                XCTAssertEqual(assertResult(message, id: .string(id))["content"]?.string, "\(id) one \(id) two")
                answered.insert(id)
            }
        }
        XCTAssertTrue(eventually(timeout: 30) { ids.allSatisfy { id in self.messages(worker, id: .string(id)).contains { $0.hasPrefix("answered after") } } })

        var numbers: [String: Set<Int>] = [:]
        for line in lines(worker) {
            guard let parsed = LogLine(line) else {
                XCTFail("a line that is not one whole log line: \(line)")
                continue
            }
            guard let id = parsed.id else {
                XCTAssertFalse(parsed.message.contains("attempt") || parsed.message.contains("delta"), "a request's line without its tag: \(line)")
                continue
            }
            guard let name = id.string, ids.contains(name) || name == "setup" else {
                XCTFail("a tag naming no request: \(line)")
                continue
            }
            numbers[name, default: []].insert(parsed.number ?? -1)
        }
        for id in ids {
            XCTAssertEqual(numbers[id]?.count, 1, "\(id): one request number on all its lines")
            let log = messages(worker, id: .string(id))
            assertInOrder(["started", "attempt 1: POST ", "attempt 1: HTTP 200", "first delta after ", "attempt 1: answered ([DONE])",
                           "answered after "], in: log)
            let count = deltaLines[id] ?? 0
            XCTAssertTrue(log.last?.contains("finish_reason stop, \(count) delta\(count == 1 ? "" : "s") (first after ") == true,
                          "\(id): its delta lines counted: \(log)")
        }
        XCTAssertEqual(Set(numbers.filter { ids.contains($0.key) }.values.flatMap { $0 }).count, streams, "every request its own number")
    }

    func testAnIdCannotBreakALineNorForgeATag() throws {
        let hostile = "x\n] chatStream: answered after 1 ms\r[id \"other\" #1]\u{2028}end"
        let worker = try startWorker(["--log-level", "debug", "--provider", "mock"])
        assertResult(try worker.stream(RPC.chatParams("hi"), id: .string(hostile)).response, id: .string(hostile))
        XCTAssertTrue(eventually { self.messages(worker, id: .string(hostile)).contains { $0.hasPrefix("answered after") } }, worker.stderr)
        for line in lines(worker) {
            XCTAssertNotNil(LogLine(line), "every line is a whole log line: \(line)")
        }
        XCTAssertEqual(messages(worker, id: "other"), [], "no line passes for another request's")
        let own = lines(worker).compactMap(LogLine.init).filter { $0.id == .string(hostile) }
        XCTAssertEqual(own.map(\.message).filter { $0.hasPrefix("answered after") }.count, 1, "\(own.map(\.message))")
        XCTAssertTrue(worker.stderr.contains(#"[id "x\n\u005d chatStream: answered after 1 ms\r\u005bid \"other\" #1\u005d\u2028end" #"#),
                      worker.stderr)
    }

    func testInfoGivesAtMostOneLinePerRequest() throws {
        let server = try MockHTTPServer()
        server.enqueue(Wire.stream(["fine"]), path: Wire.path)
        server.enqueue(contentsOf: [.openAIError(status: 503, message: "busy", headers: ["retry-after-ms": "10"]), Wire.stream(["later"])],
                       path: Wire.path)
        server.enqueue(contentsOf: Array(repeating: .openAIError(status: 503, message: "busy", headers: ["retry-after-ms": "10"]), count: 2),
                       path: Wire.path)
        let worker = try startHTTPWorker(server, settings: ["max_retries": 1], arguments: ["--log-level", "info"])
        assertResult(try worker.stream(RPC.chatParams(), id: 1).response, id: 1)
        assertResult(try worker.stream(RPC.chatParams(), id: 2).response, id: 2)
        assertProviderError(try worker.stream(RPC.chatParams(), id: 3).response, id: 3, code: -32007, kind: "unavailable")
        XCTAssertTrue(eventually { !self.messages(worker, id: 3).isEmpty }, worker.stderr)
        XCTAssertEqual(messages(worker, id: 1), [])
        XCTAssertEqual(messages(worker, id: 2), [], "retries are told at debug")
        let failed = messages(worker, id: 3)
        XCTAssertEqual(failed.count, 1, "\(failed)")
        XCTAssertTrue(failed.first?.hasPrefix("failed after ") == true && failed.first?.contains(": unavailable: ") == true
                      && failed.first?.contains("Gave up after 2 attempts.") == true, "\(failed)")
    }

    func testACancelSaysWhoCancelled() throws {
        let server = try MockHTTPServer()
        server.enqueue([Wire.streamHead, .sse(Wire.content("Hel")), .stall], path: Wire.path)
        let worker = try startHTTPWorker(server, arguments: ["--log-level", "debug"])
        try worker.send(RPC.request("chatStream", RPC.chatParams(), id: "talk"))
        XCTAssertEqual(try worker.nextMessage()["method"], "chatStream.delta")
        let (cancelled, others) = try worker.sendAndReadUntilResponse(RPC.request("cancel", ["id": "talk"], id: "stop"), id: "stop")
        XCTAssertEqual(assertResult(cancelled, id: "stop"), ["cancelled": true])
        let answer = try others.first { $0["id"] == "talk" } ?? worker.nextMessage()
        assertProviderError(answer, id: "talk", code: -32800, kind: "cancelled")
        XCTAssertTrue(eventually { self.messages(worker, id: "talk").contains { $0.hasPrefix("cancelled") } }, worker.stderr)
        let log = messages(worker, id: "talk")
        assertInOrder(["first delta after ", "attempt 1: cancelled after ", "cancelled by a cancel request after "], in: log)
        XCTAssertTrue(log.last?.contains("upstream: 1 attempt") == true, "\(log)")
    }
}
