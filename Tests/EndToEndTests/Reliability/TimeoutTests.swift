import XCTest
@testable import LLMWorkerTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The worker's own deadlines (PROTOCOL §8), with small limits set in `configure`. Each ends the request with
/// -32008 `timeout` naming the setting, with the partial answer; only connect timeouts are retried. No test
/// asserts how long anything took (two busy cores): only that the right limit fired.
final class TimeoutTests: XCTestCase {
    private func assertTimeout(_ reply: JSON, id: JSON, setting: String, partial: String = "",
                               file: StaticString = #filePath, line: UInt = #line) {
        let data = assertProviderError(reply, id: id, code: -32008, kind: "timeout", file: file, line: line)
        XCTAssertEqual(data["status"], .null, file: file, line: line)
        XCTAssertEqual(data["partial_content"]?.string, partial, file: file, line: line)
        XCTAssertEqual(data["partial_tool_calls"], [], file: file, line: line)
        let message = reply["error"]?["message"]?.string ?? ""
        XCTAssertTrue(message.contains(setting), "the message names \(setting): \(message)", file: file, line: line)
    }

    /// A stream of `comment` lines every `every` seconds, `count` times, then nothing.
    private func comments(_ count: Int, every: TimeInterval) -> [MockAction] {
        (0..<count).flatMap { _ in [MockAction.sleep(every), .chunkText(": keep-alive\n\n")] }
    }

    func testFirstTokenTimeoutWhenTheServerStallsBeforeTheFirstEvent() throws {
        let server = try MockHTTPServer()
        server.enqueue([Wire.streamHead, .stall], path: Wire.path)
        server.enqueue([.stall], path: Wire.path)  // nothing at all, not even the head
        let worker = try startHTTPWorker(server, settings: ["first_token_timeout_s": 0.6])
        let (deltas, reply) = try worker.stream(RPC.chatParams(), id: 1)
        XCTAssertEqual(deltas, [])
        assertTimeout(reply, id: 1, setting: "first_token_timeout_s")
        let (_, silent) = try worker.stream(RPC.chatParams(), id: 2)
        assertTimeout(silent, id: 2, setting: "first_token_timeout_s")
        XCTAssertEqual(server.requests(to: Wire.path).count, 2, "a first-token timeout is not retried")
        XCTAssertNotNil(server.waitForClientClose(timeout: 10, since: 0), "the stalled connection was closed")
    }

    func testKeepAliveCommentsDoNotResetTheFirstTokenTimer() throws {
        let server = try MockHTTPServer()
        server.enqueue(MockResponse([Wire.streamHead] + comments(100, every: 0.1)), path: Wire.path)
        let worker = try startHTTPWorker(server, settings: ["first_token_timeout_s": 0.8, "idle_timeout_s": 30])
        let (deltas, reply) = try worker.stream(RPC.chatParams(), id: 1)
        XCTAssertEqual(deltas, [])
        assertTimeout(reply, id: 1, setting: "first_token_timeout_s")
        XCTAssertEqual(server.requests(to: Wire.path).count, 1)
    }

    func testIdleTimeoutWhenTheStreamStallsMidway() throws {
        let server = try MockHTTPServer()
        server.enqueue([Wire.streamHead, .sse(Wire.content("Once ")), .sse(Wire.content("upon")), .stall], path: Wire.path)
        // The other limits are longer than the test's 20 s wait: only the idle limit can end this in time.
        let worker = try startHTTPWorker(server, settings: ["idle_timeout_s": 0.6, "first_token_timeout_s": 30, "connect_timeout_s": 30])
        let (deltas, reply) = try worker.stream(RPC.chatParams(), id: 1)
        let sent = deltas.compactMap { $0["params"]?["content"]?.string }.joined()
        XCTAssertEqual(sent, "Once upon")
        assertTimeout(reply, id: 1, setting: "idle_timeout_s", partial: sent)
        XCTAssertEqual(server.requests(to: Wire.path).count, 1, "an idle timeout is not retried")
        try worker.assertAlive()
    }

    /// A client that stops reading holds the worker's reader up (its output queue is full): the server, still
    /// sending, is not silent, so no idle or first-token limit may fire, and once everything has arrived only
    /// `timeout_s` is left. Before, the reader's pause looked like a silent server (-32008 idle).
    func testASlowClientIsNotASilentServer() throws {
        let server = try MockHTTPServer()
        let big = String(repeating: "x", count: 64 << 10)
        var actions: [MockAction] = [Wire.streamHead]
        actions += (0..<100).map { _ in MockAction.sse(Wire.content(big)) }  // 6.4 MB: more than the output queue holds
        for _ in 0..<10 { actions += [.sleep(0.1), .sse(Wire.content("tick "))] }
        actions += [.sse("[DONE]"), .end]
        server.enqueue(MockResponse(actions), path: Wire.path)
        // The server's own gaps (0.1 s) are 15 times shorter than the idle limit, so a busy machine that stretches them
        // does not make the server really silent; the client's pause is four times the limit.
        let worker = try startHTTPWorker(server, settings: ["idle_timeout_s": 1.5, "first_token_timeout_s": 30, "connect_timeout_s": 30])
        worker.pauseStdout()
        try worker.send(RPC.request("chatStream", RPC.chatParams(), id: 1))
        // Paused far longer than the idle limit, both while the server still sends and after it has finished.
        Thread.sleep(forTimeInterval: 6)
        worker.resumeStdout()
        let (reply, deltas) = try worker.readUntilResponse(id: 1)
        let expected = String(repeating: big, count: 100) + String(repeating: "tick ", count: 10)
        XCTAssertEqual(assertResult(reply, id: 1)["content"]?.string?.count, expected.count, "\(reply["error"] ?? .null)")
        XCTAssertEqual(deltas.compactMap { $0["params"]?["content"]?.string }.joined().count, expected.count)
    }

    func testAStreamHeldOpenAfterDoneIsAnsweredWithoutWaitingForTheIdleLimit() throws {
        // [DONE], then the server keeps the body open: the worker waits about a second for its end, not
        // idle_timeout_s (30 s, longer than the test's 20 s wait), and answers with the result.
        let server = try MockHTTPServer()
        server.enqueue([Wire.streamHead, .sse(Wire.content("All")), .sse(Wire.content(" done")), .sse(Wire.finish()), .sse("[DONE]"), .stall],
                       path: Wire.path)
        let worker = try startHTTPWorker(server, settings: ["idle_timeout_s": 30, "connect_timeout_s": 30])
        let (_, reply) = try worker.stream(RPC.chatParams(), id: 1)
        XCTAssertEqual(assertResult(reply, id: 1)["content"], "All done")
    }

    /// finish_reason, then neither [DONE] nor the end of the body: the answer is complete, so the idle limit
    /// ends the stream with the result, not with a timeout error.
    func testSilenceAfterTheFinishReasonEndsTheStreamWithItsResult() throws {
        let server = try MockHTTPServer()
        server.enqueue([Wire.streamHead, .sse(Wire.content("All")), .sse(Wire.content(" done")), .sse(Wire.finish()), .stall],
                       path: Wire.path)
        let worker = try startHTTPWorker(server, settings: ["idle_timeout_s": 0.5, "connect_timeout_s": 30])
        let (_, reply) = try worker.stream(RPC.chatParams(), id: 1)
        let result = assertResult(reply, id: 1)
        XCTAssertEqual(result["content"], "All done")
        XCTAssertEqual(result["finish_reason"], "stop")
    }

    /// finish_reason, then only keep-alive comments (never [DONE], never the end): the answer is complete, so the
    /// worker answers after its short drain limit, not after idle_timeout_s or timeout_s (60 s, beyond the test's wait).
    func testKeepAlivesAfterTheFinishReasonDoNotHoldTheAnswer() throws {
        let server = try MockHTTPServer()
        let actions: [MockAction] = [Wire.streamHead, .sse(Wire.content("All")), .sse(Wire.content(" done")), .sse(Wire.finish())]
            + comments(300, every: 0.2) + [.stall]
        server.enqueue(MockResponse(actions), path: Wire.path)
        let worker = try startHTTPWorker(server, settings: ["idle_timeout_s": 30, "timeout_s": 60, "connect_timeout_s": 30])
        let (_, reply) = try worker.stream(RPC.chatParams(), id: 1)
        XCTAssertEqual(assertResult(reply, id: 1)["content"], "All done")
    }

    func testKeepAliveCommentsResetTheIdleTimer() throws {
        // Comments every 0.2 s for 2.4 s with a 1 s idle limit (slack for a busy machine): the stream survives.
        let server = try MockHTTPServer()
        let actions: [MockAction] = [Wire.streamHead, .sse(Wire.content("Hello"))] + comments(12, every: 0.2)
            + [.sse(Wire.content(" world")), .sse(Wire.finish()), .sse("[DONE]"), .end]
        server.enqueue(MockResponse(actions), path: Wire.path)
        let worker = try startHTTPWorker(server, settings: ["idle_timeout_s": 1])
        let (_, reply) = try worker.stream(RPC.chatParams(), id: 1)
        XCTAssertEqual(assertResult(reply, id: 1)["content"], "Hello world")
    }

    func testWholeRequestTimeoutOnAStreamThatNeverEnds() throws {
        // A delta every 0.1 s forever: neither idle nor first-token fires, timeout_s does.
        let server = try MockHTTPServer()
        let trickle = (0..<600).flatMap { _ in [MockAction.sleep(0.1), .sse(Wire.content("x"))] }
        server.enqueue(MockResponse([Wire.streamHead] + trickle), path: Wire.path)
        let worker = try startHTTPWorker(server, settings: ["timeout_s": 1.5, "idle_timeout_s": 5])
        let (deltas, reply) = try worker.stream(RPC.chatParams(), id: 1)
        let sent = deltas.compactMap { $0["params"]?["content"]?.string }.joined()
        XCTAssertFalse(sent.isEmpty)
        assertTimeout(reply, id: 1, setting: "timeout_s", partial: sent)
        XCTAssertEqual(server.requests(to: Wire.path).count, 1)
        XCTAssertNotNil(server.waitForClientClose(timeout: 10, since: 0), "the endless stream's connection was closed")
    }

    func testWholeRequestTimeoutOnABodyThatTricklesForever() throws {
        // A non-streamed answer announced as 1 MB whose bytes arrive one every 0.05 s.
        let server = try MockHTTPServer()
        let trickle = (0..<2000).flatMap { _ in [MockAction.sleep(0.05), .body(Data(" ".utf8))] }
        server.enqueue(MockResponse([.status(200, headers: ["Content-Type": "application/json", "Content-Length": "1000000"]),
                                     .body(Data("{".utf8))] + trickle), path: Wire.path)
        server.enqueue([.stall], path: Wire.path)
        let worker = try startHTTPWorker(server, settings: ["timeout_s": 1.2])
        assertTimeout(try worker.call("chat", RPC.chatParams(), id: 1), id: 1, setting: "timeout_s")
        // A server that never answers at all: the same limit.
        assertTimeout(try worker.call("chat", RPC.chatParams(), id: 2), id: 2, setting: "timeout_s")
        XCTAssertEqual(server.requests(to: Wire.path).count, 2, "whole-request timeouts are not retried")
    }

    func testStallBeforeTheFirstByteOfAChatIsBoundedByTimeoutS() throws {
        let server = try MockHTTPServer()
        server.enqueue([.stall], path: Wire.path)
        let worker = try startHTTPWorker(server, settings: ["timeout_s": 1, "first_token_timeout_s": 0.2, "connect_timeout_s": 0.2])
        // A chat has no first-token limit, and its connection was up: only timeout_s applies.
        assertTimeout(try worker.call("chat", RPC.chatParams(), id: 1), id: 1, setting: "timeout_s")
        XCTAssertEqual(server.requests(to: Wire.path).count, 1)
    }

    /// A listening socket that never accepts, with its accept queue already full: the kernel drops further
    /// SYNs, so a connect to it stalls (the only way to produce a connect stall on loopback).
    private final class BlackHole {
        let port: Int
        private var fds: [Int32] = []

        init() throws {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard listen(listener, 0) == 0 else { throw WorkerProcess.Failure(description: "listen failed") }
            var bound = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &bound) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
            }
            port = Int(UInt16(bigEndian: bound.sin_port))
            fds.append(listener)
            // Fill the accept queue (backlog 0 holds one or two) with non-blocking connects.
            for _ in 0..<4 {
                let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
                var target = addr
                target.sin_port = bound.sin_port
                _ = withUnsafePointer(to: &target) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                fds.append(client)
            }
            usleep(100_000)
        }

        deinit { fds.forEach { close($0) } }
    }

    func testConnectTimeoutOnAServerThatNeverAcceptsIsRetriedThenReported() throws {
        let hole = try BlackHole()
        let worker = try startWorker(["--log-level", "debug"])
        let params: JSON = ["provider": "openai_compatible", "base_url": .string("http://127.0.0.1:\(hole.port)/v1"), "model": "m",
                            "connect_timeout_s": 0.5, "max_retries": 1, "max_retry_wait_s": 0.1]
        assertResult(try worker.call("configure", params, id: "setup"), id: "setup")
        let (deltas, reply) = try worker.stream(RPC.chatParams(), id: 1)
        XCTAssertEqual(deltas, [])
        let data = assertProviderError(reply, id: 1, code: -32008, kind: "timeout")
        XCTAssertEqual(data["attempts"], 2, "a connect timeout is retried like a connection error: \(reply)")
        XCTAssertEqual(data["partial_content"], "")
        XCTAssertTrue(reply["error"]?["message"]?.string?.contains("connect_timeout_s") == true, "\(reply)")
        XCTAssertEqual(worker.stderrLines(containing: "retrying", waitingFor: 1).count, 1, worker.stderr)
        // chat and listModels are bounded the same way.
        let chat = try worker.call("chat", RPC.chatParams(), id: 2)
        assertProviderError(chat, id: 2, code: -32008, kind: "timeout")
        let models = try worker.call("listModels", ["refresh": true], id: 3)
        assertProviderError(models, id: 3, code: -32008, kind: "timeout")
        try worker.assertAlive()
    }
}
