import XCTest
@testable import LLMWorkerTestSupport

/// `chatStream` through the mock provider: deltas first (index 0, 1, 2, …), then the aggregated ChatResult;
/// the content deltas add up to the final content, reasoning travels in its own deltas.
final class ChatStreamTests: XCTestCase {
    private static let deltaParamKeys: Set<String> = ["id", "index", "content", "reasoning", "tool_calls"]

    /// Checks each delta's envelope and index sequence; returns (content, reasoning) concatenated.
    private func checkDeltas(_ deltas: [JSON], id: JSON, file: StaticString = #filePath, line: UInt = #line) -> (String, String) {
        var content = ""
        var reasoning = ""
        for (position, delta) in deltas.enumerated() {
            XCTAssertEqual(delta.keys, ["jsonrpc", "method", "params"], "\(delta)", file: file, line: line)
            XCTAssertEqual(delta["jsonrpc"], "2.0", file: file, line: line)
            XCTAssertEqual(delta["method"], "chatStream.delta", file: file, line: line)
            let params = delta["params"] ?? .null
            XCTAssertTrue(params.keys.isSubset(of: Self.deltaParamKeys), "\(delta)", file: file, line: line)
            XCTAssertTrue(params.keys.count > 2, "a delta carries something: \(delta)", file: file, line: line)
            XCTAssertEqual(params["id"], id, file: file, line: line)
            XCTAssertEqual(params["index"], .number("\(position)"), "indexes go 0, 1, 2, …", file: file, line: line)
            content += params["content"]?.string ?? ""
            reasoning += params["reasoning"]?.string ?? ""
        }
        return (content, reasoning)
    }

    func testDeltasThenTheExactResult() throws {
        let worker = try startMockWorker()
        let (deltas, response) = try worker.stream(RPC.chatParams("hi there"), id: "s")
        XCTAssertEqual(deltas.map { $0["params"]?["content"] }, ["You ", "said", ": hi", " the", "re"])
        let (content, reasoning) = checkDeltas(deltas, id: "s")
        XCTAssertEqual(reasoning, "")
        let result = assertResult(response, id: "s")
        XCTAssertEqual(result.keys, RPC.chatResultKeys)
        XCTAssertEqual(result["content"], .string(content))
        XCTAssertEqual(result.removing("timing"), [
            "content": "You said: hi there", "reasoning": nil, "tool_calls": [], "finish_reason": "stop",
            "usage": ["prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6],
            "model": "mock-1", "provider": "mock", "upstream_provider": nil, "warnings": [],
        ])
        let timing = result["timing"] ?? .null
        XCTAssertEqual(timing.keys, ["ttft_ms", "total_ms"])
        XCTAssertNotNil(timing["ttft_ms"]?.double)
        XCTAssertNotNil(timing["total_ms"]?.double)
    }

    func testReasoningDeltasAreSeparateFromContent() throws {
        let worker = try startMockWorker()
        let (deltas, response) = try worker.stream(RPC.chatParams(mock: ["reasoning": "Let me think.", "text": "Answer here.",
                                                                        "chunk_chars": 3]))
        let (content, reasoning) = checkDeltas(deltas, id: 1)
        for delta in deltas {
            let params = delta["params"] ?? .null
            XCTAssertFalse(params["content"] != nil && params["reasoning"] != nil, "reasoning and content mixed in \(delta)")
        }
        let firstContent = deltas.firstIndex { $0["params"]?["content"] != nil } ?? 0
        let lastReasoning = deltas.lastIndex { $0["params"]?["reasoning"] != nil } ?? 0
        XCTAssertLessThan(lastReasoning, firstContent, "the mock streams its reasoning before the text")
        let result = assertResult(response, id: 1)
        XCTAssertEqual(reasoning, "Let me think.")
        XCTAssertEqual(content, "Answer here.")
        XCTAssertEqual(result["reasoning"], "Let me think.")
        XCTAssertEqual(result["content"], "Answer here.")
    }

    func testThinkTagsInTheTextBecomeReasoning() throws {
        let worker = try startMockWorker()
        let (deltas, response) = try worker.stream(RPC.chatParams(mock: ["text": "<think>plan it</think>The answer.", "chunk_chars": 2]))
        let (content, reasoning) = checkDeltas(deltas, id: 1)
        let result = assertResult(response, id: 1)
        XCTAssertEqual(result["content"], "The answer.")
        XCTAssertEqual(result["reasoning"], "plan it")
        XCTAssertEqual(content, "The answer.")
        XCTAssertEqual(reasoning, "plan it")
    }

    func testStripThinkFalseKeepsTheTags() throws {
        let worker = try startMockWorker()
        _ = try worker.call("configure", ["strip_think": false], id: "c")
        let (deltas, response) = try worker.stream(RPC.chatParams(mock: ["text": "<think>x</think>y"]))
        let (content, _) = checkDeltas(deltas, id: 1)
        XCTAssertEqual(content, "<think>x</think>y")
        XCTAssertEqual(assertResult(response, id: 1)["reasoning"], .null)
    }

    func testToolCallFragmentsAndTheAssembledCalls() throws {
        let worker = try startMockWorker()
        let mock: JSON = ["tool_calls": [["name": "get_time", "arguments": ["tz": "Europe/Paris"], "id": "call_a"],
                                         ["name": "lights", "arguments": #"{"on": true}"#]], "chunk_chars": 5]
        let (deltas, response) = try worker.stream(RPC.chatParams(mock: mock))
        _ = checkDeltas(deltas, id: 1)
        var arguments: [Int: String] = [:]
        for delta in deltas {
            for fragment in delta["params"]?["tool_calls"]?.array ?? [] {
                XCTAssertTrue(fragment.keys.isSubset(of: ["index", "id", "name", "arguments"]), "\(fragment)")
                let index = fragment["index"]?.int ?? -1
                arguments[index, default: ""] += fragment["arguments"]?.string ?? ""
            }
        }
        XCTAssertEqual(arguments, [0: #"{"tz":"Europe/Paris"}"#, 1: #"{"on": true}"#])
        let result = assertResult(response, id: 1)
        XCTAssertEqual(result["finish_reason"], "tool_calls")
        XCTAssertEqual(result["content"], .null)
        XCTAssertEqual(result["tool_calls"], [
            ["id": "call_a", "name": "get_time", "arguments": ["tz": "Europe/Paris"], "arguments_raw": #"{"tz":"Europe/Paris"}"#],
            ["id": "call_mock_1", "name": "lights", "arguments": ["on": true], "arguments_raw": #"{"on": true}"#],
        ])
    }

    func testMidStreamErrorCarriesThePartialAnswer() throws {
        let worker = try startMockWorker()
        let mock: JSON = ["text": "abcdefghij", "chunk_chars": 3, "error": ["kind": "upstream_error", "status": 502, "after_deltas": 2]]
        let (deltas, response) = try worker.stream(RPC.chatParams(mock: mock), id: "e")
        let (content, _) = checkDeltas(deltas, id: "e")
        XCTAssertEqual(content, "abcdef")
        let data = assertProviderError(response, id: "e", code: -32007, kind: "upstream_error")
        XCTAssertEqual(data, ["kind": "upstream_error", "status": 502, "retryable": true, "provider": "mock",
                              "partial_content": "abcdef", "partial_tool_calls": []])
    }

    func testEmptyTextStreamsNoContentDelta() throws {
        let worker = try startMockWorker()
        let (deltas, response) = try worker.stream(RPC.chatParams(mock: ["text": ""]))
        XCTAssertEqual(deltas, [])
        let result = assertResult(response, id: 1)
        XCTAssertEqual(result["content"], .null)
        XCTAssertEqual(result["finish_reason"], "stop")
    }

    func testUnicodeSurvivesChunking() throws {
        let worker = try startMockWorker()
        let text = "Grüße 👋🏽 — 漢字 \"quoted\" \\ back\nslash\t"
        let (deltas, response) = try worker.stream(RPC.chatParams(mock: ["text": .string(text), "chunk_chars": 1]))
        let (content, _) = checkDeltas(deltas, id: 1)
        XCTAssertEqual(content, text)
        XCTAssertEqual(assertResult(response, id: 1)["content"], .string(text))
    }
}
