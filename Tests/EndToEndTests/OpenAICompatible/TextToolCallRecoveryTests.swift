import XCTest
@testable import LLMWorkerTestSupport

/// Issue 12, item 2: a server without a tool-call parser returns the model's tool calls as text in `content`; the
/// worker recovers them as ordinary `tool_calls` in `chat` and in `chatStream`, however the text is cut into
/// events, and never sends a piece of a recovered call as content.
final class TextToolCallRecoveryTests: XCTestCase {
    private let shape = ServerShape.vLLM
    private let question = chatRequest([["role": "user", "content": "Weather and time in Paris?"]], tools: textToolCallTools,
                                       toolChoice: "auto")
    private var streamUsage: JSON { shape.expectedUsage(FixtureUsage(prompt: 12, completion: 5)) }

    func testEachFormIsRecoveredInChat() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        for (n, fixture) in TextToolCallFixture.all.enumerated() {
            server.enqueue(shape.completion(content: fixture.text))
            let id = JSON.number(String(n))
            assertRecovered(try worker.call("chat", question, id: id), id: id, fixture,
                            usage: shape.expectedUsage(FixtureUsage(prompt: 30, completion: 9)), model: shape.model)
        }
        XCTAssertEqual(server.requests(to: "/v1/chat/completions").first?.json["tools"], textToolCallTools, "the tools are sent as given")
    }

    func testEachFormIsRecoveredInChatStream() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        for (n, fixture) in TextToolCallFixture.all.enumerated() {
            // As a model streams it: a few characters per event.
            let pieces = stride(from: 0, to: fixture.text.count, by: 5).map {
                String(fixture.text.dropFirst($0).prefix(5))
            }
            server.enqueue(contentStream(shape, pieces))
            let id = JSON.number(String(n))
            try streamAndAssertRecovered(worker, fixture, id: id)
        }
    }

    /// Every form cut in two at every character, and one character per event.
    func testEachFormIsRecoveredWhereverTheEventsCutIt() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        var request = 0
        for fixture in TextToolCallFixture.all {
            let characters = characterPieces(fixture.text)
            var splits = (1..<characters.count).map { [characters[..<$0].joined(), characters[$0...].joined()] }
            splits.append(characters)
            for pieces in splits {
                server.enqueue(contentStream(shape, pieces))
                request += 1
                let id = JSON.number(String(request))
                try streamAndAssertRecovered(worker, fixture, id: id)
                if (testRun?.totalFailureCount ?? 0) > 0 { return XCTFail("\(fixture.name), cut as \(pieces.map(\.count))") }
            }
        }
    }

    /// One character per event, and the body itself written one byte per `send()`.
    func testEachFormIsRecoveredFromABodyWrittenOneByteAtATime() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        for (n, fixture) in TextToolCallFixture.all.enumerated() {
            let body = shape.textStream(content: characterPieces(fixture.text)).bytes()
            server.enqueue(.splitBytes(body, at: Array(1..<body.count)))
            let id = JSON.number(String(n))
            try streamAndAssertRecovered(worker, fixture, id: id)
        }
    }

    /// The text before a call is sent at once, while the call is still being written (here the server stalls in its
    /// middle); a cancel then ends the stream with the text held back in `partial_content`, and nothing more is sent.
    func testTextBeforeACallIsSentAtOnceAndACancelReturnsWhatWasHeld() throws {
        let server = try MockHTTPServer()
        var actions: [MockAction] = [.status(200, headers: ["Content-Type": "text/event-stream"])]
        for text in ["Let me check", " that. <tool_call>{\"name\": \"get_"] {
            actions.append(.chunkText(SSEBody.render(.data(shape.chunk(["content": .string(text)], finishReason: .null)))))
        }
        actions.append(.stall)
        server.enqueue(MockResponse(actions))
        let worker = try startUpstreamWorker(server)
        try worker.send(RPC.request("chatStream", question, id: 1))
        var deltas: [JSON] = []
        var spoken = ""
        while spoken != "Let me check that. " {
            let delta = try worker.nextMessage()
            deltas.append(delta)
            spoken += delta["params"]?["content"]?.string ?? ""
            XCTAssertTrue("Let me check that. ".hasPrefix(spoken), "only the text before the call is sent: \(spoken)")
        }
        checkDeltas(deltas, id: 1)
        try worker.send(RPC.notification("cancel", ["id": 1]))
        assertProviderFailure(try worker.nextMessage(), id: 1, code: -32800, data: expectedErrorData(
            kind: "cancelled", status: nil, retryable: false, partialContent: "Let me check that. <tool_call>{\"name\": \"get_"))
        XCTAssertEqual(try worker.finish(), 0)
        XCTAssertEqual(try worker.remainingMessages(), [])
    }

    /// Streams the question and checks that the fixture's calls were recovered, in the result and in the deltas.
    private func streamAndAssertRecovered(_ worker: WorkerProcess, _ fixture: TextToolCallFixture, id: JSON,
                                          file: StaticString = #filePath, line: UInt = #line) throws {
        let (deltas, response) = try worker.stream(question, id: id)
        let ids = assertRecovered(response, id: id, fixture, usage: streamUsage, model: shape.model, file: file, line: line)
        assertRecoveredDeltas(deltas, id: id, fixture, ids: ids, file: file, line: line)
    }
}
