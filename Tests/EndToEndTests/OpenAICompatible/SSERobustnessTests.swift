import XCTest
@testable import LLMWorkerTestSupport

/// The SSE framing servers really use, and the network splitting it anywhere: every variant must give the same
/// deltas and the same result.
final class SSERobustnessTests: XCTestCase {
    private let question = chatRequest([["role": "user", "content": "Greet me"]])

    /// A realistic vLLM-style stream whose text has 2-, 3- and 4-byte UTF-8 characters.
    private let pieces = ["Grüße", ", 漢字", " 👋🏽", "!"]
    private var stream: SSEBody { ServerShape.vLLM.textStream(content: pieces, usage: FixtureUsage(prompt: 7, completion: 4)) }
    private var expected: JSON {
        expectedResult(content: pieces.joined(), usage: FixtureUsage(prompt: 7, completion: 4).expected, model: ServerShape.vLLM.model)
    }

    /// Sends a stream whose body is `body`, cut at `offsets` with `delay` between the pieces; checks the whole outcome.
    private func assertStreamsCorrectly(_ worker: WorkerProcess, _ server: MockHTTPServer, body: Data, offsets: [Int] = [],
                                        delay: TimeInterval = 0, chunked: Bool = false, id: JSON = 1,
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        server.enqueue(.splitBytes(body, at: offsets, delay: delay, chunked: chunked))
        let (deltas, response) = try worker.stream(question, id: id)
        XCTAssertEqual(checkDeltas(deltas, id: id, file: file, line: line).content, pieces.joined(), file: file, line: line)
        assertChatResult(response, id: id, expected, file: file, line: line)
    }

    func testDataWithoutASpaceAndEveryLineEnding() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        var n = 0
        for prefix in ["data: ", "data:"] {
            for ending in ["\n", "\r\n", "\r"] {
                n += 1
                try assertStreamsCorrectly(worker, server, body: stream.bytes(dataPrefix: prefix, lineEnding: ending),
                                           id: .number(String(n)))
            }
        }
    }

    /// Every byte in its own network write (a few milliseconds apart), CRLF line endings so that CR and LF are
    /// split too: every offset of the stream, inside `data:`, inside the JSON, inside each multi-byte character,
    /// inside `[DONE]`, is a read boundary.
    func testEveryByteInItsOwnRead() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        let body = stream.bytes(lineEnding: "\r\n")
        try assertStreamsCorrectly(worker, server, body: body, offsets: Array(1..<body.count), delay: 0.0005, chunked: true)
    }

    /// The stream cut in two at each byte offset in turn (many streams at once, each told its offset through `extra`).
    func testTheStreamCutInTwoAtEveryOffset() throws {
        let server = try MockHTTPServer()
        let body = stream.bytes()
        server.route("/v1/chat/completions") { request in
            let offset = request.bodyJSON?["x_cut"] as? Int ?? 0
            return .splitBytes(body, at: [offset], delay: 0.005, chunked: offset % 2 == 0)
        }
        let worker = try startUpstreamWorker(server)
        let batch = 40
        for start in stride(from: 1, to: body.count, by: batch) {
            let offsets = Array(start..<min(body.count, start + batch))
            for offset in offsets {
                try worker.send(RPC.request("chatStream", chatRequest(question["messages"]!, more: ["extra": ["x_cut": .number(String(offset))]]),
                                            id: .number(String(offset))))
            }
            var deltas: [Int: [JSON]] = [:]
            var responses: [Int: JSON] = [:]
            while responses.count < offsets.count {
                let message = try worker.nextMessage()
                if let id = message["params"]?["id"]?.int, message["method"] == "chatStream.delta" {
                    deltas[id, default: []].append(message)
                } else if let id = message["id"]?.int {
                    responses[id] = message
                } else {
                    XCTFail("unexpected line \(message)")
                }
            }
            for offset in offsets {
                let id = JSON.number(String(offset))
                XCTAssertEqual(checkDeltas(deltas[offset] ?? [], id: id).content, pieces.joined(), "cut at \(offset)")
                assertChatResult(responses[offset] ?? .null, id: id, expected)
            }
        }
        XCTAssertEqual(server.requests(to: Wire.path).count, body.count - 1)
    }

    func testSeveralEventsInOneRead() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        try assertStreamsCorrectly(worker, server, body: stream.bytes())
        // All of it in one write: one read, hence a single delta with the whole text.
        server.enqueue([.status(200, headers: ["Content-Type": "text/event-stream"]), .chunk(stream.bytes()), .end])
        let (deltas, response) = try worker.stream(question, id: 2)
        XCTAssertEqual(deltas.count, 1, "events that arrived together are sent together: \(deltas)")
        XCTAssertEqual(checkDeltas(deltas, id: 2).content, pieces.joined())
        assertChatResult(response, id: 2, expected)
    }

    /// Comments (keep-alives), `event:`, `id:` and `retry:` fields, a BOM, an unknown field and a JSON event split
    /// over two `data:` lines are all valid SSE.
    func testCommentsAndOtherFields() throws {
        let server = try MockHTTPServer()
        let events = stream.dataEvents
        var text = "\u{FEFF}: keep-alive\n\n:\n\nretry: 3000\n\n"
        for (n, event) in events.enumerated() {
            text += ": ping \(n)\n"
            text += "id: \(n)\nevent: message\n"
            if n == 1 {
                // One event whose JSON is split over two data lines (joined with "\n", which JSON allows).
                let cut = event.index(event.startIndex, offsetBy: event.count / 2)
                let (head, tail) = (event[..<cut], event[cut...])
                if let comma = head.lastIndex(of: ",") {
                    text += "data: \(event[...comma])\ndata: \(event[event.index(after: comma)...])\n\n"
                } else {
                    text += "data: \(head)\(tail)\n\n"
                }
            } else {
                text += "x-vendor: something\ndata: \(event)\n\n"
            }
        }
        text += "event: done\ndata: [DONE]\n\n"
        let worker = try startUpstreamWorker(server)
        try assertStreamsCorrectly(worker, server, body: Data(text.utf8), offsets: [3, 40, 41, 120], delay: 0.002)
    }

    func testUsageChunkWithEmptyChoicesAfterTheFinishChunk() throws {
        let server = try MockHTTPServer()
        let shape = ServerShape.openAI
        let usage: JSON = ["prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5]
        server.enqueue(SSEBody([
            .data(shape.chunk(["role": "assistant", "content": ""], finishReason: .null)),
            .data(shape.chunk(["content": "Hi!"], finishReason: .null)),
            .data(shape.chunk([:], finishReason: "stop")),
            .data(shape.envelope(choices: [], extra: ["usage": usage])),
            .done,
        ]).response())
        let worker = try startUpstreamWorker(server)
        let (_, response) = try worker.stream(question, id: 1)
        assertChatResult(response, id: 1, expectedResult(content: "Hi!", usage: usage, model: shape.model))
    }

    /// No `[DONE]`: the end of the body ends the stream, whether the body is chunked, has a Content-Length, or
    /// ends with the server closing the connection.
    func testEndOfBodyWithoutDoneEndsTheStream() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        var withoutDone = stream
        withoutDone.pieces.removeLast()
        XCTAssertFalse(withoutDone.pieces.contains(.done))
        try assertStreamsCorrectly(worker, server, body: withoutDone.bytes(), id: 1)
        try assertStreamsCorrectly(worker, server, body: withoutDone.bytes(), chunked: true, id: 2)
        server.enqueue(withoutDone.response(close: true))
        let (deltas, response) = try worker.stream(question, id: 3)
        XCTAssertEqual(checkDeltas(deltas, id: 3).content, pieces.joined())
        assertChatResult(response, id: 3, expected)
        // A last event without its blank line (the server closed right after "data: {…}\n").
        var text = String(decoding: withoutDone.bytes(), as: UTF8.self)
        text.removeLast()
        try assertStreamsCorrectly(worker, server, body: Data(text.utf8), id: 4)
    }

    /// A connection dropped in the middle of the answer (before any finish_reason, the chunked body not ended) is a
    /// connection error carrying what was said; it is not retried, since part of the answer was sent.
    func testConnectionDroppedMidAnswerIsAnErrorWithThePartialContent() throws {
        let server = try MockHTTPServer()
        let shape = ServerShape.vLLM
        for ending in [MockAction.close, .reset] {
            server.enqueue(MockResponse([.status(200, headers: ["Content-Type": "text/event-stream"]),
                                         .chunkText(SSEBody.render(.data(shape.chunk(["content": "Hello, I am"], finishReason: .null)))),
                                         .sleep(0.01), ending]))
        }
        let worker = try startUpstreamWorker(server, config: ["max_retries": 2])
        for id in [1, 2] {
            let (deltas, response) = try worker.stream(question, id: .number(String(id)))
            XCTAssertEqual(checkDeltas(deltas, id: .number(String(id))).content, "Hello, I am")
            assertProviderFailure(response, id: .number(String(id)), code: -32009, data: expectedErrorData(
                kind: "connection", status: nil, retryable: true, partialContent: "Hello, I am"))
        }
        XCTAssertEqual(server.requests(to: Wire.path).count, 2, "nothing is retried once part of the answer was sent")
    }

    /// A stream that stops without a finish_reason keeps its content, with finish_reason null and a warning.
    func testEndWithoutFinishReasonGivesNullAndAWarning() throws {
        let server = try MockHTTPServer()
        let shape = ServerShape.lmStudio
        server.enqueue(SSEBody([
            .data(shape.chunk(["role": "assistant", "content": ""], finishReason: .null)),
            .data(shape.chunk(["content": "The answer is"], finishReason: .null)),
            .data(shape.chunk(["content": " cut"], finishReason: .null)),
        ]).response(delay: 0.002))
        let worker = try startUpstreamWorker(server)
        let (deltas, response) = try worker.stream(question, id: "w")
        XCTAssertEqual(checkDeltas(deltas, id: "w").content, "The answer is cut")
        let result = assertResult(response, id: "w")
        XCTAssertEqual(result.removing("timing", "warnings"), expectedResult(content: "The answer is cut", finishReason: nil,
                                                                          model: shape.model).removing("warnings"))
        let warnings = result["warnings"]?.array ?? []
        XCTAssertEqual(warnings.count, 1, "\(result)")
        XCTAssertTrue(warnings.first?.string?.contains("finish_reason") ?? false, "\(warnings)")
        assertTiming(result["timing"] ?? .null)
    }

    /// A stream with nothing in it (LM Studio over its context: 200, zero deltas, no finish_reason) is an error.
    func testAStreamWithNoAnswerAtAllIsInvalidResponse() throws {
        let server = try MockHTTPServer()
        let shape = ServerShape.lmStudio
        server.enqueue(SSEBody([.data(shape.chunk(["role": "assistant", "content": ""], finishReason: .null)), .done]).response())
        server.enqueue(.splitBytes(Data(), at: []))
        let worker = try startUpstreamWorker(server)
        for id in [1, 2] {
            let (deltas, response) = try worker.stream(question, id: .number(String(id)))
            XCTAssertEqual(deltas, [])
            assertProviderFailure(response, id: .number(String(id)), code: -32007,
                                  data: expectedErrorData(kind: "invalid_response", status: nil, retryable: false))
        }
    }

    /// An `{"error": …}` event in the middle of a 200 stream (OpenAI's recorded shape: no choices, then the stream
    /// closes) ends the request with that error and the partial answer; so does vLLM's flat `{"object": "error"}`.
    func testErrorEventsMidStream() throws {
        let server = try MockHTTPServer()
        let shape = ServerShape.openAI
        let openAIMessage = "The server had an error while processing your request. Sorry about that!"
        let cases: [(event: String, code: Int, kind: String, status: Int?, retryable: Bool, message: String)] = [
            (#"{"error": {"message": "\#(openAIMessage)", "type": "server_error", "param": null, "code": null}}"#,
             -32007, "upstream_error", nil, true, openAIMessage),
            (#"{"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.","type":"BadRequestError","param":null,"code":400}"#,
             -32006, "context_length", 400, false, "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens."),
            (#"{"error":{"message":"Rate limit reached","type":"throttling_error","param":"None","code":"429"}}"#,
             -32002, "rate_limited", 429, true, "Rate limit reached"),
        ]
        let worker = try startUpstreamWorker(server)
        for (n, item) in cases.enumerated() {
            server.enqueue(SSEBody([
                .data(shape.chunk(["role": "assistant", "content": ""], finishReason: .null)),
                .data(shape.chunk(["content": "Half an"], finishReason: .null)),
                .data(shape.chunk(["content": " answer"], finishReason: .null)),
                .data(item.event),
            ]).response(delay: 0.002, close: true))
            let id = JSON.number(String(n))
            let (deltas, response) = try worker.stream(question, id: id)
            XCTAssertEqual(checkDeltas(deltas, id: id).content, "Half an answer")
            assertProviderFailure(response, id: id, code: item.code, data: expectedErrorData(
                kind: item.kind, status: item.status, retryable: item.retryable, upstreamMessage: item.message,
                partialContent: "Half an answer"))
        }
        XCTAssertEqual(server.requests(to: Wire.path).count, cases.count, "an error inside a stream is never retried")
    }

    /// A data event that is not JSON is an invalid_response (quoting it), with what came before as partial content.
    func testAnEventThatIsNotJSON() throws {
        let server = try MockHTTPServer()
        let shape = ServerShape.openAI
        server.enqueue(SSEBody([
            .data(shape.chunk(["content": "Before"], finishReason: .null)),
            .data("<html>oops</html>"),
        ]).response(delay: 0.002))
        let worker = try startUpstreamWorker(server)
        let (deltas, response) = try worker.stream(question, id: 1)
        XCTAssertEqual(checkDeltas(deltas, id: 1).content, "Before")
        assertProviderFailure(response, id: 1, code: -32007, data: expectedErrorData(
            kind: "invalid_response", status: 200, retryable: false, upstreamMessage: "oops", partialContent: "Before"),
            mentioning: ["<html>oops</html>"])
    }

    /// The same with the good event and the bad one in one network read: what came before is still sent.
    func testAnEventThatIsNotJSONInTheSameReadAsContent() throws {
        let server = try MockHTTPServer()
        let shape = ServerShape.openAI
        let body = SSEBody([.data(shape.chunk(["content": "Before"], finishReason: .null)), .data("not json")]).bytes()
        server.enqueue([.status(200, headers: ["Content-Type": "text/event-stream"]), .chunk(body), .end])
        let worker = try startUpstreamWorker(server)
        let (deltas, response) = try worker.stream(question, id: 1)
        XCTAssertEqual(checkDeltas(deltas, id: 1).content, "Before")
        assertProviderFailure(response, id: 1, code: -32007, data: expectedErrorData(
            kind: "invalid_response", status: 200, retryable: false, upstreamMessage: "not json", partialContent: "Before"))
    }

    /// A server that sends `[DONE]` but never ends the body: the answer is complete, the worker stops waiting
    /// (about a second later), answers and closes the connection. (Until the watchdog re-arms its timer when the
    /// drain limit starts, the wait lasts until the connect limit, 10 s.)
    func testDoneWithoutTheEndOfTheBody() throws {
        let server = try MockHTTPServer()
        var actions: [MockAction] = [.status(200, headers: ["Content-Type": "text/event-stream"])]
        for piece in stream.pieces { actions.append(.chunkText(SSEBody.render(piece))) }
        actions.append(.stall)
        server.enqueue(MockResponse(actions))
        let worker = try startUpstreamWorker(server)
        let (deltas, response) = try worker.stream(question, id: 1)
        XCTAssertEqual(checkDeltas(deltas, id: 1).content, pieces.joined())
        assertChatResult(response, id: 1, expected)
        XCTAssertNotNil(server.waitForClientClose(timeout: 10), "the stalled connection is closed")
    }
}
