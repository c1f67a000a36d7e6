import XCTest
@testable import LLMWorkerTestSupport

/// Smaller quirks seen in the wild (LocalAI, Azure OpenAI, proxies): odd but harmless chunk shapes must not
/// change the answer, and tool calls sent in unusual ways are still assembled.
final class StreamQuirksTests: XCTestCase {
    private let question = chatRequest([["role": "user", "content": "Hi"]])

    private func stream(_ events: [String], done: Bool = true) -> MockResponse {
        SSEBody(events.map(SSEPiece.data) + (done ? [.done] : [])).response(delay: 0.002)
    }

    /// Azure's first chunk has `choices: []` with `prompt_filter_results`; LocalAI sends `finish_reason: ""` and a
    /// zeroed usage on every chunk before the real one; some proxies send content as an array of text parts.
    func testOddButHarmlessChunkShapes() throws {
        let server = try MockHTTPServer()
        server.enqueue(stream([
            #"{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}"#,
            #"{"id":"a","object":"chat.completion.chunk","model":"local","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":""}],"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}}"#,
            #"{"id":"a","model":"local","choices":[{"index":0,"delta":{"content":[{"type":"text","text":"lo"}]},"finish_reason":""}]}"#,
            #"{"id":"a","model":"local","choices":[{"index":0,"delta":null,"finish_reason":null}]}"#,
            #"{"id":"a","model":"local","choices":null}"#,
            #"{"id":"a","model":"local","choices":[{"index":0,"delta":{"content":"!","reasoning":null,"reasoning_content":null,"tool_calls":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#,
        ]))
        let worker = try startUpstreamWorker(server)
        let (deltas, response) = try worker.stream(question, id: 1)
        XCTAssertEqual(checkDeltas(deltas, id: 1).content, "Hello!")
        assertChatResult(response, id: 1, expectedResult(
            content: "Hello!", usage: ["prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5], model: "local"))
    }

    /// Tool calls streamed as whole objects with `arguments` as a JSON object; and calls without `index`,
    /// told apart by their ids.
    func testToolCallsWithObjectArgumentsAndWithoutIndexes() throws {
        let server = try MockHTTPServer()
        server.enqueue(stream([
            #"{"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"get_weather","arguments":{"city":"Oslo"}}}]}}]}"#,
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"c2","type":"function","function":{"name":"get_time","arguments":"{\"tz\":"}}]}}]}"#,
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":"\"UTC\"}"}}]}}]}"#,
            #"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        ]))
        let worker = try startUpstreamWorker(server)
        let (deltas, response) = try worker.stream(question, id: 1)
        let transcript = checkDeltas(deltas, id: 1)
        XCTAssertEqual(transcript.toolArguments, [0: #"{"city":"Oslo"}"#, 1: #"{"tz":"UTC"}"#])
        XCTAssertEqual(transcript.toolHeads[1]?.id, "c2")
        assertChatResult(response, id: 1, expectedResult(
            content: nil,
            toolCalls: [expectedToolCall(id: "c1", name: "get_weather", arguments: ["city": "Oslo"], raw: #"{"city":"Oslo"}"#),
                        expectedToolCall(id: "c2", name: "get_time", arguments: ["tz": "UTC"], raw: #"{"tz":"UTC"}"#)],
            finishReason: "tool_calls", model: nil))
    }

    /// Invalid arguments in a streamed call: the call is kept with `arguments: {}`, its text in `arguments_raw`
    /// and a warning, never an error.
    func testInvalidStreamedArgumentsGiveAWarning() throws {
        let server = try MockHTTPServer()
        let shape = ServerShape.vLLM
        let call = FixtureToolCall(id: shape.toolCallID(0), name: "get_weather", argumentPieces: [#"{"city": "#, #"Paris}"#])
        server.enqueue(shape.toolStream([call]).response(delay: 0.002))
        let worker = try startUpstreamWorker(server)
        let (deltas, response) = try worker.stream(question, id: 1)
        XCTAssertEqual(checkDeltas(deltas, id: 1).toolArguments, [0: #"{"city": Paris}"#])
        let result = assertResult(response, id: 1)
        XCTAssertEqual(result["tool_calls"], [expectedToolCall(id: call.id, name: "get_weather", arguments: [:], raw: #"{"city": Paris}"#)])
        XCTAssertEqual(result["finish_reason"], "tool_calls")
        let warnings = result["warnings"]?.array?.compactMap(\.string) ?? []
        XCTAssertEqual(warnings.count, 1, "\(result)")
        XCTAssertTrue(warnings.first?.contains(call.id) ?? false, "\(warnings)")
    }

    /// A stream whose events come slowly is passed on as they come: the reasoning before the content, and the
    /// first delta well before the end (no absolute bounds: only the order is checked).
    func testSlowEventsArePassedOnAsTheyCome() throws {
        let server = try MockHTTPServer()
        let shape = ServerShape.ollama
        server.enqueue(shape.textStream(reasoning: ["Hmm."], content: ["One", " two", " three"]).response(delay: 0.05))
        let worker = try startUpstreamWorker(server)
        let (deltas, response) = try worker.stream(question, id: "slow")
        let transcript = checkDeltas(deltas, id: "slow")
        XCTAssertEqual(transcript.reasoning, "Hmm.")
        XCTAssertEqual(transcript.content, "One two three")
        XCTAssertGreaterThan(deltas.count, 1, "events 50 ms apart are not held back until the end")
        XCTAssertEqual(deltas.first?["params"]?["reasoning"], "Hmm.")
        let result = assertResult(response, id: "slow")
        let timing = result["timing"] ?? .null
        assertTiming(timing)
        XCTAssertLessThan(timing["ttft_ms"]?.double ?? .infinity, timing["total_ms"]?.double ?? 0)
    }

    /// Python servers (LiteLLM, vLLM behind some proxies) write JSON with `ensure_ascii`: every non-ASCII character
    /// as a `\u` escape, emoji as surrogate pairs.
    func testASCIIEscapedJSON() throws {
        let server = try MockHTTPServer()
        server.enqueue(stream([
            #"{"choices":[{"index":0,"delta":{"role":"assistant","content":"Gr\u00fc\u00dfe "},"finish_reason":null}]}"#,
            #"{"choices":[{"index":0,"delta":{"content":"\ud83d\udc4b \u6f22\u5b57 \"q\" \\ \/ \n\t"},"finish_reason":null}]}"#,
            #"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        ]))
        let worker = try startUpstreamWorker(server)
        let (deltas, response) = try worker.stream(question, id: 1)
        let text = "Grüße 👋 漢字 \"q\" \\ / \n\t"
        XCTAssertEqual(checkDeltas(deltas, id: 1).content, text)
        assertChatResult(response, id: 1, expectedResult(content: text, model: nil))
    }

    /// Parallel calls whose fragments interleave: assembled by `index`, each forwarded with its own index.
    func testInterleavedParallelToolCalls() throws {
        let server = try MockHTTPServer()
        func fragment(_ index: Int, id: String? = nil, name: String? = nil, _ arguments: String) -> String {
            var call: [String: JSON] = ["index": .number(String(index)), "function": ["arguments": .string(arguments)]]
            if let id { call["id"] = .string(id); call["type"] = "function" }
            if let name, var function = call["function"]?.object { function["name"] = .string(name); call["function"] = .object(function) }
            let chunk: JSON = ["choices": [["index": 0, "delta": ["tool_calls": [.object(call)]], "finish_reason": nil]]]
            return chunk.text
        }
        server.enqueue(stream([
            fragment(0, id: "a", name: "lights", ""),
            fragment(1, id: "b", name: "music", ""),
            fragment(0, #"{"room":"#), fragment(1, #"{"song":"#), fragment(1, #""Jazz"}"#), fragment(0, #""hall"}"#),
            #"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        ]))
        let worker = try startUpstreamWorker(server)
        let (deltas, response) = try worker.stream(question, id: 1)
        let transcript = checkDeltas(deltas, id: 1)
        XCTAssertEqual(transcript.toolArguments, [0: #"{"room":"hall"}"#, 1: #"{"song":"Jazz"}"#])
        XCTAssertEqual(transcript.toolHeads[0]?.name, "lights")
        XCTAssertEqual(transcript.toolHeads[1]?.name, "music")
        XCTAssertEqual(assertResult(response, id: 1)["tool_calls"], [
            expectedToolCall(id: "a", name: "lights", arguments: ["room": "hall"], raw: #"{"room":"hall"}"#),
            expectedToolCall(id: "b", name: "music", arguments: ["song": "Jazz"], raw: #"{"song":"Jazz"}"#),
        ])
    }
}
