import XCTest
@testable import LLMWorkerTestSupport

/// `<think>` spans written into the content by models served without a reasoning parser (Qwen3, DeepSeek-R1 on
/// LM Studio, llama.cpp with `--reasoning-format none`, vLLM without `--reasoning-parser`): moved to reasoning by
/// default, even when the tags are cut across chunks; passed through untouched with `strip_think: false`.
final class ThinkStrippingTests: XCTestCase {
    private let question = chatRequest([["role": "user", "content": "Is 7 prime?"]])
    private let shape = ServerShape.lmStudio

    /// A content stream, one chunk per piece.
    private func contentStream(_ pieces: [String], reasoningContent: [String] = []) -> MockResponse {
        var events: [SSEPiece] = [.data(shape.chunk(["role": "assistant", "content": ""], finishReason: .null))]
        for text in reasoningContent { events.append(.data(shape.chunk(["reasoning_content": .string(text)], finishReason: .null))) }
        for text in pieces { events.append(.data(shape.chunk(["content": .string(text)], finishReason: .null))) }
        events += [.data(shape.chunk([:], finishReason: "stop")), .done]
        return SSEBody(events).response(delay: 0.002)
    }

    private func assertSplit(_ worker: WorkerProcess, _ pieces: [String], content: String?, reasoning: String?, id: JSON,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let (deltas, response) = try worker.stream(question, id: id)
        let transcript = checkDeltas(deltas, id: id, file: file, line: line)
        XCTAssertEqual(transcript.content, content ?? "", "content deltas", file: file, line: line)
        XCTAssertEqual(transcript.reasoning, reasoning ?? "", "reasoning deltas", file: file, line: line)
        for delta in deltas {
            let text = delta["params"]?["content"]?.string ?? ""
            XCTAssertFalse(text.contains("think>") || text.contains("<think") || text.contains("</th"),
                           "a tag in a content delta: \(delta)", file: file, line: line)
        }
        assertChatResult(response, id: id, expectedResult(content: content, reasoning: reasoning, model: shape.model),
                         file: file, line: line)
    }

    func testThinkSpansAreMovedToReasoningWhereverTheTagsAreCut() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        let cases: [(pieces: [String], content: String?, reasoning: String?)] = [
            (["<think>", "\nSeven has no divisors", " but 1 and 7.\n", "</think>", "\n\n", "Yes, 7 is prime."],
             "Yes, 7 is prime.", "\nSeven has no divisors but 1 and 7.\n"),
            (["<", "t", "h", "i", "n", "k", ">", "ok", "<", "/", "t", "h", "i", "n", "k", ">", "Yes", "."],
             "Yes.", "ok"),
            (["<th", "ink>hmm</thi", "nk>  \n", " Yes"], "Yes", "hmm"),
            (["<thinking>", "long form", "</thinking>", "Yes"], "Yes", "long form"),
            (["a < b", " and <b>bold</b>"], "a < b and <b>bold</b>", nil),
            (["Yes. ", "<think>", "second thoughts"], "Yes. ", "second thoughts"),
            (["<think></think>", "Only an answer"], "Only an answer", nil),
        ]
        for (n, item) in cases.enumerated() {
            server.enqueue(contentStream(item.pieces))
            try assertSplit(worker, item.pieces, content: item.content, reasoning: item.reasoning, id: .number(String(n)))
        }
    }

    /// A reasoning field and an inline span in the same answer both go to reasoning, in order.
    func testReasoningFieldAndInlineSpanTogether() throws {
        let server = try MockHTTPServer()
        server.enqueue(contentStream(["<think>inline</think>", "Answer"], reasoningContent: ["field "]))
        let worker = try startUpstreamWorker(server)
        try assertSplit(worker, [], content: "Answer", reasoning: "field inline", id: 1)
    }

    func testStripThinkFalsePassesTheContentThrough() throws {
        let server = try MockHTTPServer()
        let pieces = ["<th", "ink>plan</th", "ink>\n\nYes"]
        server.enqueue(contentStream(pieces, reasoningContent: ["from the field"]))
        let worker = try startUpstreamWorker(server, config: ["strip_think": false])
        let (deltas, response) = try worker.stream(question, id: 1)
        let transcript = checkDeltas(deltas, id: 1)
        XCTAssertEqual(transcript.content, pieces.joined())
        XCTAssertEqual(transcript.reasoning, "from the field", "reasoning fields still go to reasoning")
        assertChatResult(response, id: 1, expectedResult(content: pieces.joined(), reasoning: "from the field", model: shape.model))
    }
}
