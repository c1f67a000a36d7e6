import XCTest
@testable import LLMWorkerTestSupport

/// CAAL's barge-in: `cancel` ends the request with -32800 and the partial answer, and closes the upstream
/// connection at once so the server stops generating: the mock server sees the worker close the connection while
/// it is still answering (stalled for ever, or seconds away from its end). How fast is the benchmark's business
/// (`protocol/bench`, cancel p50 under 1 ms); tests do not time the machine.
final class CancellationTests: XCTestCase {
    private let question = chatRequest([["role": "user", "content": "Tell me a long story"]])
    private let shape = ServerShape.vLLM
    /// The server saw the worker close the connection (after `mark`) while the response was still going.
    private func assertClosedWhileAnswering(_ server: MockHTTPServer, since mark: UInt64? = nil,
                                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotNil(server.waitForClientClose(timeout: 10, since: mark), "the upstream connection was not closed",
                        file: file, line: line)
        XCTAssertEqual(server.closeEvents.last?.phase, .responding, "closed by the cancel, not after the answer ended",
                       file: file, line: line)
    }

    /// A stream that sends `pieces` and then either stalls (the model is "thinking") or keeps trickling text.
    private func startedStream(_ pieces: [String], thenStall: Bool = true) -> MockResponse {
        var actions: [MockAction] = [.status(200, headers: ["Content-Type": "text/event-stream"])]
        actions.append(.chunkText(SSEBody.render(.data(shape.chunk(["role": "assistant", "content": ""], finishReason: .null)))))
        for text in pieces { actions.append(.chunkText(SSEBody.render(.data(shape.chunk(["content": .string(text)], finishReason: .null))))) }
        if thenStall {
            actions.append(.stall)
        } else {
            for n in 0..<2_000 {
                actions.append(.sleep(0.002))
                actions.append(.chunkText(SSEBody.render(.data(shape.chunk(["content": .string(" more\(n)")], finishReason: .null)))))
            }
            actions.append(.end)
        }
        return MockResponse(actions)
    }

    /// Reads deltas of `id` until their content starts with `content` (more may have come in the same delta).
    private func readDeltas(_ worker: WorkerProcess, id: JSON, until content: String) throws -> [JSON] {
        var deltas: [JSON] = []
        var text = ""
        while !text.hasPrefix(content) {
            let message = try worker.nextMessage()
            XCTAssertEqual(message["method"], "chatStream.delta", "\(message)")
            XCTAssertEqual(message["params"]?["id"], id, "\(message)")
            deltas.append(message)
            text += message["params"]?["content"]?.string ?? ""
        }
        return deltas
    }

    func testCancelDuringAStreamClosesTheConnectionAndReturnsThePartialContent() throws {
        let server = try MockHTTPServer()
        server.enqueue(startedStream(["Once upon", " a time"]))
        let worker = try startUpstreamWorker(server)
        try worker.send(RPC.request("chatStream", question, id: "s1"))
        let deltas = try readDeltas(worker, id: "s1", until: "Once upon a time")
        checkDeltas(deltas, id: "s1")

        server.mark()
        try worker.send(RPC.notification("cancel", ["id": "s1"]))
        let response = try worker.nextMessage()
        assertProviderFailure(response, id: "s1", code: -32800, data: expectedErrorData(
            kind: "cancelled", status: nil, retryable: false, partialContent: "Once upon a time"))
        assertClosedWhileAnswering(server)
        XCTAssertEqual(worker.unreadLineCount, 0, "nothing after the error")
    }

    /// The same while the server is still sending (not stalled), with `cancel` sent as a request.
    func testCancelRequestWhileTheServerKeepsSending() throws {
        let server = try MockHTTPServer()
        server.enqueue(startedStream(["Chapter one."], thenStall: false))
        let worker = try startUpstreamWorker(server)
        try worker.send(RPC.request("chatStream", question, id: 7))
        var sent = try readDeltas(worker, id: 7, until: "Chapter one.")
        server.mark()
        try worker.send(RPC.request("cancel", ["id": 7], id: "c"))
        var cancelled: JSON?
        var answer: JSON?
        while cancelled == nil || answer == nil {
            let message = try worker.nextMessage()
            if message["id"] == 7 { cancelled = message } else if message["id"] == "c" { answer = message } else { sent.append(message) }
        }
        XCTAssertEqual(assertResult(answer ?? .null, id: "c"), ["cancelled": true])
        // Deltas may still have been sent between the cancel line and its effect: the partial content is exactly
        // what was sent, no more, no less.
        let partial = checkDeltas(sent, id: 7).content
        XCTAssertTrue(partial.hasPrefix("Chapter one."), partial)
        XCTAssertEqual(cancelled?["error"]?["data"]?["partial_content"]?.string, partial)
        assertProviderFailure(cancelled ?? .null, id: 7, code: -32800, data: expectedErrorData(
            kind: "cancelled", status: nil, retryable: false, partialContent: partial))
        assertClosedWhileAnswering(server)
    }

    /// A `chat` cancelled while the server has said nothing, and while it is half-way through its answer's body.
    func testCancelDuringAChatClosesTheConnection() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        let halfBody: MockResponse = [.status(200, headers: ["Content-Type": "application/json", "Content-Length": "500"]),
                                      .body(Data(#"{"choices":[{"message":{"content":"Once"#.utf8)), .stall]
        for (n, response) in [MockResponse([.stall]), halfBody].enumerated() {
            server.enqueue(response)
            let id = JSON.number(String(n))
            try worker.send(RPC.request("chat", question, id: id))
            XCTAssertTrue(server.waitForRequests(count: n + 1, timeout: 10))
            Thread.sleep(forTimeInterval: 0.05)
            let mark = server.mark()
            try worker.send(RPC.notification("cancel", ["id": id]))
            assertProviderFailure(try worker.nextMessage(), id: id, code: -32800,
                                  data: expectedErrorData(kind: "cancelled", status: nil, retryable: false))
            assertClosedWhileAnswering(server, since: mark)
        }
        // The worker goes on serving.
        server.enqueue(ServerShape.openAI.completion(content: "Next answer"))
        assertResult(try worker.call("chat", question, id: 2), id: 2)
    }

    /// Cancelled in the middle of a tool call: the partial call is in `partial_tool_calls`.
    func testCancelDuringAToolCallCarriesThePartialCall() throws {
        let server = try MockHTTPServer()
        let call = FixtureToolCall(id: "call_x", name: "get_weather", argumentPieces: [#"{"city": "#, #""Par"#])
        var actions: [MockAction] = [.status(200, headers: ["Content-Type": "text/event-stream"])]
        for fragment in ServerShape.openAI.toolFragments(call, index: 0) {
            actions.append(.chunkText(SSEBody.render(.data(ServerShape.openAI.chunk(["tool_calls": [fragment]], finishReason: .null)))))
        }
        actions.append(.stall)
        server.enqueue(MockResponse(actions))
        let worker = try startUpstreamWorker(server)
        try worker.send(RPC.request("chatStream", question, id: "t"))
        var arguments = ""
        while arguments != call.arguments {
            let delta = try worker.nextMessage()
            arguments += delta["params"]?["tool_calls"]?.array?.compactMap { $0["arguments"]?.string }.joined() ?? ""
        }
        server.mark()
        try worker.send(RPC.notification("cancel", ["id": "t"]))
        assertProviderFailure(try worker.nextMessage(), id: "t", code: -32800, data: expectedErrorData(
            kind: "cancelled", status: nil, retryable: false,
            partialToolCalls: [expectedToolCall(id: "call_x", name: "get_weather", arguments: [:], raw: #"{"city": "Par"#)]))
        XCTAssertNotNil(server.waitForClientClose(timeout: 10))
    }

    /// Cancelled before the server sent anything (the model is loading): nothing was said.
    func testCancelBeforeTheFirstToken() throws {
        let server = try MockHTTPServer()
        server.enqueue([.status(200, headers: ["Content-Type": "text/event-stream"]), .chunkText(": keep-alive\n\n"), .stall])
        let worker = try startUpstreamWorker(server)
        try worker.send(RPC.request("chatStream", question, id: 3))
        XCTAssertTrue(server.waitForRequests(count: 1, timeout: 10))
        Thread.sleep(forTimeInterval: 0.05)
        server.mark()
        try worker.send(RPC.notification("cancel", ["id": 3]))
        let response = try worker.nextMessage()
        assertProviderFailure(response, id: 3, code: -32800, data: expectedErrorData(kind: "cancelled", status: nil, retryable: false))
        assertClosedWhileAnswering(server)
    }
}
