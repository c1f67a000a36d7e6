import XCTest
@testable import LLMWorkerTestSupport

/// A server that misbehaves in every way the issue lists: each fault becomes a result or the documented error
/// (PROTOCOL §6.5), never a crash or a hang, and the worker keeps serving (`ping` after each).
final class UpstreamFaultTests: XCTestCase {
    private func content(_ deltas: [JSON]) -> String {
        deltas.compactMap { $0["params"]?["content"]?.string }.joined()
    }

    func testConnectionRefused() throws {
        let placeholder = try MockHTTPServer()
        let baseURL = placeholder.v1BaseURL
        placeholder.stop()
        let worker = try startWorker()
        assertResult(try worker.call("configure", ["provider": "openai_compatible", "base_url": .string(baseURL), "model": "m",
                                                   "max_retry_wait_s": 0.05], id: "setup"), id: "setup")
        for (id, method) in [("c", "chat"), ("s", "chatStream")] {
            let reply = try worker.call(method, RPC.chatParams(), id: .string(id))
            let data = assertProviderError(reply, id: .string(id), code: -32009, kind: "connection")
            XCTAssertEqual(data["status"], .null)
            XCTAssertEqual(data["attempts"], 3, "connection failures are retried twice by default")
            XCTAssertEqual(data["partial_content"], "")
            XCTAssertTrue(reply["error"]?["message"]?.string?.contains("refused") == true, "\(reply)")
        }
        try worker.assertAlive()
    }

    /// configure's warm-up is answered with `Connection: close`, so the first attempt goes on a fresh connection (a
    /// reset on a kept-alive one is the known limitation pinned below).
    private let warmUpClosing = MockResponse.json(body: ["data": [] as [Any]], headers: ["Connection": "close"])

    func testResetBeforeTheHeadersIsRetried() throws {
        let server = try MockHTTPServer()
        server.enqueue(contentsOf: [[.reset], Wire.stream(["fine"])], path: Wire.path)
        let worker = try startHTTPWorker(server, settings: ["max_retry_wait_s": 0.05], warmUpAnswer: warmUpClosing)
        let (_, reply) = try worker.stream(RPC.chatParams(), id: 1)
        XCTAssertEqual(assertResult(reply, id: 1)["content"], "fine")
        XCTAssertEqual(server.requests(to: Wire.path).count, 2)
        try worker.assertAlive()
    }

    func testResetBeforeTheHeadersEveryTimeIsAConnectionError() throws {
        let server = try MockHTTPServer()
        // Each reset closes its connection, so each attempt is on a fresh one.
        server.enqueue(contentsOf: [[.reset], [.reset], [.reset]], path: Wire.path)
        let worker = try startHTTPWorker(server, settings: ["max_retry_wait_s": 0.05], warmUpAnswer: warmUpClosing)
        let data = assertProviderError(try worker.call("chat", RPC.chatParams(), id: 1), id: 1, code: -32009, kind: "connection")
        XCTAssertEqual(data["attempts"], 3)
        XCTAssertEqual(server.requests(to: Wire.path).count, 3)
        try worker.assertAlive()
    }

    func testResetAfterTheHeadersButBeforeAnyDeltaIsRetried() throws {
        let server = try MockHTTPServer()
        server.enqueue(contentsOf: [[Wire.streamHead, .chunkText(": warming up\n\n"), .reset], Wire.stream(["second ", "try"])],
                       path: Wire.path)
        let worker = try startHTTPWorker(server, settings: ["max_retry_wait_s": 0.05])
        let (deltas, reply) = try worker.stream(RPC.chatParams(), id: 1)
        XCTAssertEqual(assertResult(reply, id: 1)["content"], "second try")
        XCTAssertEqual(content(deltas), "second try", "nothing of the failed attempt reached the client")
        XCTAssertEqual(server.requests(to: Wire.path).count, 2)
    }

    func testGarbageInsteadOfAnHTTPResponse() throws {
        let server = try MockHTTPServer()
        let garbage = Data([0x00, 0xFF, 0xFE]) + Data("garbage\r\n\r\nmore garbage \u{1}\u{2}\r\n".utf8)
        for _ in 0..<6 { server.enqueue([.raw(garbage), .close], path: Wire.path) }
        let worker = try startHTTPWorker(server, settings: ["max_retry_wait_s": 0.05])
        for (id, method) in [("c", "chat"), ("s", "chatStream")] {
            let reply = try worker.call(method, RPC.chatParams(), id: .string(id))
            let data = assertProviderError(reply, id: .string(id), code: -32009, kind: "connection")
            XCTAssertEqual(data["status"], .null)
        }
        try worker.assertAlive()
    }

    func testGarbageBytesInAStreamBody() throws {
        let server = try MockHTTPServer()
        // Lines that are not SSE fields are ignored; a stream with nothing in it has no answer.
        server.enqueue([Wire.streamHead, .chunk(Data([0x00, 0x01, 0xFF, 0x0A, 0x0A]) + Data("%%%% not sse\n\n".utf8)), .end], path: Wire.path)
        // A data line that is not JSON ends the stream after what came before.
        server.enqueue([Wire.streamHead, .sse(Wire.content("Good ")), .sse("<<not json>>"), .sse(Wire.content("never"))], path: Wire.path)
        let worker = try startHTTPWorker(server)
        let (_, empty) = try worker.stream(RPC.chatParams(), id: 1)
        assertProviderError(empty, id: 1, code: -32007, kind: "invalid_response")
        let (deltas, bad) = try worker.stream(RPC.chatParams(), id: 2)
        let data = assertProviderError(bad, id: 2, code: -32007, kind: "invalid_response")
        XCTAssertEqual(data["partial_content"]?.string, content(deltas))
        XCTAssertEqual(content(deltas), "Good ")
        XCTAssertTrue(bad["error"]?["message"]?.string?.contains("not json") == true, "the bad event is quoted: \(bad)")
        XCTAssertEqual(server.requests(to: Wire.path).count, 2, "an invalid 2xx body is never retried")
        try worker.assertAlive()
    }

    /// The same with the good event and the bad one in one network read: the good one is still delivered.
    func testInvalidUTF8InTheSameReadAsContent() throws {
        let server = try MockHTTPServer()
        var read = Data("data: \(Wire.content("fine "))\n\n".utf8)
        read.append(Data("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"bad ".utf8))
        read.append(contentsOf: [0xFF, 0xFE])
        read.append(Data("\"},\"finish_reason\":null}]}\n\n".utf8))
        server.enqueue([Wire.streamHead, .chunk(read), .sse("[DONE]"), .end], path: Wire.path)
        let worker = try startHTTPWorker(server)
        let (deltas, reply) = try worker.stream(RPC.chatParams(), id: 1)
        let data = assertProviderError(reply, id: 1, code: -32007, kind: "invalid_response")
        XCTAssertEqual(content(deltas), "fine ")
        XCTAssertEqual(data["partial_content"], "fine ")
    }

    func testInvalidUTF8InAnSSEEvent() throws {
        let server = try MockHTTPServer()
        var event = Data("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"bad ".utf8)
        event.append(contentsOf: [0xFF, 0xFE, 0xC3])
        event.append(Data("\"},\"finish_reason\":null}]}\n\n".utf8))
        server.enqueue([Wire.streamHead, .sse(Wire.content("fine ")), .chunk(event), .sse(Wire.finish()), .sse("[DONE]"), .end],
                       path: Wire.path)
        let worker = try startHTTPWorker(server)
        let (deltas, reply) = try worker.stream(RPC.chatParams(), id: 1)
        // Not valid JSON text, hence not what the wire format promises: invalid_response, with what came before.
        let data = assertProviderError(reply, id: 1, code: -32007, kind: "invalid_response")
        XCTAssertEqual(content(deltas), "fine ")
        XCTAssertEqual(data["partial_content"], "fine ")
        // The same in a whole (non-streamed) answer.
        var body = Data("{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"bad ".utf8)
        body.append(contentsOf: [0xFF, 0xFE])
        body.append(Data("\"},\"finish_reason\":\"stop\"}]}".utf8))
        server.enqueue(.fixed(status: 200, body: body, contentType: "application/json"), path: Wire.path)
        assertProviderError(try worker.call("chat", RPC.chatParams(), id: 2), id: 2, code: -32007, kind: "invalid_response")
        // stdout stayed valid UTF-8, even where the bad bytes were quoted.
        XCTAssertNotNil(String(validating: worker.stdout, as: UTF8.self))
        try worker.assertAlive()
    }

    func testHTMLErrorPageFromAProxy() throws {
        let server = try MockHTTPServer()
        let page = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
        for _ in 0..<3 {
            server.enqueue(.fixed(status: 502, body: Data(page.utf8), contentType: "text/html", headers: ["retry-after-ms": "10"]),
                           path: Wire.path)
        }
        let worker = try startHTTPWorker(server)
        let reply = try worker.call("chat", RPC.chatParams(), id: 1)
        let data = assertProviderError(reply, id: 1, code: -32007, kind: "unavailable")
        XCTAssertEqual(data["status"], 502)
        XCTAssertEqual(data["attempts"], 3, "5xx is retried")
        XCTAssertTrue(data["upstream_message"]?.string?.contains("502 Bad Gateway") == true, "the page is quoted: \(reply)")
        XCTAssertLessThan(data["upstream_message"]?.string?.count ?? 0, 1000)
        try worker.assertAlive()
    }

    func testTwoHundredWithAJSONErrorBody() throws {
        let server = try MockHTTPServer()
        let body: [String: Any] = ["error": ["message": "Rate limit reached", "code": 429] as [String: Any]]
        server.enqueue(.json(body: body), path: Wire.path)
        server.enqueue(.json(body: body), path: Wire.path)  // a stream request answered with one JSON body
        server.enqueue(.json(body: ["error": ["message": "something broke"]]), path: Wire.path)
        let worker = try startHTTPWorker(server)
        let chat = assertProviderError(try worker.call("chat", RPC.chatParams(), id: 1), id: 1, code: -32002, kind: "rate_limited")
        XCTAssertEqual(chat["upstream_message"], "Rate limit reached")
        let (deltas, stream) = try worker.stream(RPC.chatParams(), id: 2)
        XCTAssertEqual(deltas, [])
        assertProviderError(stream, id: 2, code: -32002, kind: "rate_limited")
        assertProviderError(try worker.call("chat", RPC.chatParams(), id: 3), id: 3, code: -32007, kind: "upstream_error")
        XCTAssertEqual(server.requests(to: Wire.path).count, 3, "an error inside a 2xx body is the server's answer: never retried")
        try worker.assertAlive()
    }

    func testStreamWithoutDone() throws {
        let server = try MockHTTPServer()
        // With a finish_reason, no [DONE]: a normal answer.
        server.enqueue(.sseStream(events: [Wire.content("no "), Wire.content("done"), Wire.finish()], done: false), path: Wire.path)
        // Without a finish_reason either, and the connection closed: the answer, flagged.
        server.enqueue([Wire.streamHead, .sse(Wire.content("cut off")), .close], path: Wire.path)
        let worker = try startHTTPWorker(server)
        let (_, first) = try worker.stream(RPC.chatParams(), id: 1)
        let result = assertResult(first, id: 1)
        XCTAssertEqual(result["content"], "no done")
        XCTAssertEqual(result["finish_reason"], "stop")
        XCTAssertEqual(result["warnings"], [])
        let (_, second) = try worker.stream(RPC.chatParams(), id: 2)
        if second["result"] != nil {
            let cut = assertResult(second, id: 2)
            XCTAssertEqual(cut["content"], "cut off")
            XCTAssertEqual(cut["finish_reason"], .null)
            XCTAssertEqual(cut["warnings"]?.array?.count, 1, "a warning says the answer may be incomplete: \(cut)")
        } else {
            // A chunked body cut short may also be reported as a lost connection, with the partial answer.
            let data = assertProviderError(second, id: 2, code: -32009, kind: "connection")
            XCTAssertEqual(data["partial_content"], "cut off")
        }
        try worker.assertAlive()
    }
}
