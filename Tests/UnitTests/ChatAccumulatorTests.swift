import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport

/// ChatAccumulator: chunks from any provider into deltas and the final ChatResult, the same way for all.
final class ChatAccumulatorTests: XCTestCase {
    private let timing = Timing(ttftMs: 1, totalMs: 2)

    /// Adds every chunk then finishes; returns the concatenated deltas and the result.
    private func run(_ chunks: [CompletionChunk], stripThink: Bool = true) -> (content: String, reasoning: String, result: ChatResult) {
        var accumulator = ChatAccumulator(stripThink: stripThink)
        var content = ""
        var reasoning = ""
        for chunk in chunks {
            let delta = accumulator.add(chunk)
            content += delta.content
            reasoning += delta.reasoning
        }
        let last = accumulator.finish()
        content += last.content
        reasoning += last.reasoning
        return (content, reasoning, accumulator.result(provider: .mock, timing: timing))
    }

    func testThinkSpansSplitAcrossChunksBecomeReasoning() {
        let pieces = ["<th", "ink>Let me", " think</th", "ink>\n\nThe ", "answer."]
        let (content, reasoning, result) = run(pieces.map { CompletionChunk(content: $0) } + [CompletionChunk(finishReason: "stop")])
        XCTAssertEqual(content, "The answer.")
        XCTAssertEqual(reasoning, "Let me think")
        XCTAssertEqual(result.content, "The answer.", "the deltas add up to the result")
        XCTAssertEqual(result.reasoning, "Let me think")
    }

    func testStripThinkOffKeepsTheTags() {
        let (content, reasoning, result) = run([CompletionChunk(content: "<think>x</think>y"), CompletionChunk(finishReason: "stop")],
                                               stripThink: false)
        XCTAssertEqual(content, "<think>x</think>y")
        XCTAssertEqual(reasoning, "")
        XCTAssertNil(result.reasoning)
    }

    func testHeldBackTextIsReleasedAtTheEnd() {
        var accumulator = ChatAccumulator(stripThink: true)
        XCTAssertEqual(accumulator.add(CompletionChunk(content: "a <th")).content, "a ", "a possible tag start is held")
        XCTAssertEqual(accumulator.finish().content, "<th", "and released when the answer ends")
        XCTAssertEqual(accumulator.result(provider: .mock, timing: timing).content, "a <th")
    }

    func testReasoningFieldAndContentStayApart() {
        let (content, reasoning, result) = run([
            CompletionChunk(reasoning: "step 1. "), CompletionChunk(reasoning: "step 2."),
            CompletionChunk(content: "Done."), CompletionChunk(finishReason: "stop"),
        ])
        XCTAssertEqual(reasoning, "step 1. step 2.")
        XCTAssertEqual(content, "Done.")
        XCTAssertEqual(result.reasoning, "step 1. step 2.")
    }

    func testToolCallFragmentsIncludingMissingIndex() {
        var accumulator = ChatAccumulator(stripThink: true)
        let first = accumulator.add(CompletionChunk(toolCalls: [ToolCallFragment(id: "c1", name: "lights", arguments: "{\"on\":")]))
        XCTAssertEqual(first.toolCalls.map(\.index), [0])
        _ = accumulator.add(CompletionChunk(toolCalls: [ToolCallFragment(arguments: "true}")]))
        _ = accumulator.add(CompletionChunk(finishReason: "stop"))
        let result = accumulator.result(provider: .mock, timing: timing)
        XCTAssertEqual(result.toolCalls.map(\.arguments), [["on": .bool(true)]])
        XCTAssertEqual(result.finishReason, "tool_calls", "'stop' with tool calls would end the client's tool loop")
        XCTAssertNil(result.content)
    }

    func testFinishReasonRules() {
        XCTAssertEqual(run([CompletionChunk(content: "x"), CompletionChunk(finishReason: "stop"), CompletionChunk(finishReason: "length")])
            .result.finishReason, "stop", "a second finish chunk (OpenRouter sends one) does not override the first")
        XCTAssertEqual(run([CompletionChunk(content: "x"), CompletionChunk(finishReason: ""), CompletionChunk(finishReason: "length")])
            .result.finishReason, "length", "an empty finish_reason is no finish_reason")
        XCTAssertEqual(run([CompletionChunk(content: "x"), CompletionChunk(finishReason: "tool_calls")]).result.finishReason, "stop",
                       "tool_calls without any call")
        XCTAssertNil(run([CompletionChunk(content: "x")]).result.finishReason, "no finish chunk, no finish_reason")
    }

    func testUsageModelUpstreamAndWarnings() {
        var chunk = CompletionChunk(content: "x", model: "m-1")
        chunk.warnings = ["w1"]
        var last = CompletionChunk(finishReason: "stop", usage: Usage(promptTokens: 3, completionTokens: 4, cost: 0.5),
                                   model: "", upstreamProvider: "Groq")
        last.warnings = ["w1", "w2"]
        let result = run([CompletionChunk(usage: Usage(promptTokens: 1, completionTokens: 1)), chunk, last]).result
        XCTAssertEqual(result.usage, Usage(promptTokens: 3, completionTokens: 4, totalTokens: 7, cost: 0.5), "the last usage wins")
        XCTAssertEqual(result.model, "m-1", "an empty model does not erase the one reported")
        XCTAssertEqual(result.upstreamProvider, "Groq")
        XCTAssertEqual(result.warnings, ["w1", "w2"], "warnings once each")
        XCTAssertEqual(result.provider, "mock")
        XCTAssertEqual(result.timing, timing)
    }

    func testEmptyAnswer() {
        var accumulator = ChatAccumulator(stripThink: true)
        XCTAssertTrue(accumulator.add(CompletionChunk(content: "")).isEmpty)
        XCTAssertFalse(accumulator.hasAnswer)
        XCTAssertFalse(accumulator.hasFinishReason)
        let result = accumulator.result(provider: .mock, timing: timing)
        XCTAssertNil(result.content)
        XCTAssertNil(result.reasoning)
        XCTAssertEqual(result.toolCalls, [])
    }

    func testPartialAnswerAttachedToAnError() {
        var accumulator = ChatAccumulator(stripThink: true)
        _ = accumulator.add(CompletionChunk(content: "<think>r</think>Hello, "))
        _ = accumulator.add(CompletionChunk(content: "wor"))
        _ = accumulator.add(CompletionChunk(toolCalls: [ToolCallFragment(index: 0, id: "c", name: "f", arguments: "{\"a\":")]))
        var error = ProviderError.cancelled()
        accumulator.attachPartial(to: &error)
        XCTAssertEqual(error.partialContent, "Hello, wor", "content only: no reasoning, no tags")
        XCTAssertEqual(error.partialToolCalls?.map(\.name), ["f"])
        XCTAssertEqual(error.partialToolCalls?.map(\.argumentsRaw), ["{\"a\":"])
        let data = error.rpcError.data
        XCTAssertEqual(data?["partial_content"], .string("Hello, wor"))
        XCTAssertEqual(data?["kind"], .string("cancelled"))
    }

    // MARK: Tool calls written as text

    private let tools = TextToolCallParserTests.jsonArray(#"[{"type": "function", "function": {"name": "get_time"}}]"#)

    func testACallWrittenAsTextBecomesAToolCallInTheDeltasAndTheResult() {
        var accumulator = ChatAccumulator(stripThink: true, recoveringCallsTo: tools)
        let first = accumulator.add(CompletionChunk(content: "One moment. <tool_call>{\"name\": \"get_"))
        XCTAssertEqual(first.content, "One moment. ")
        XCTAssertEqual(first.toolCalls, [])
        let second = accumulator.add(CompletionChunk(content: "time\"}</tool_call>", finishReason: "stop"))
        XCTAssertEqual(second.content, "")
        XCTAssertEqual(second.toolCalls.count, 1)
        let fragment = second.toolCalls.first ?? ToolCallFragment()
        XCTAssertEqual(fragment.index, 0)
        XCTAssertEqual(fragment.name, "get_time")
        XCTAssertEqual(fragment.arguments, "{}")
        XCTAssertTrue((fragment.id ?? "").wholeMatch(of: /call_[A-Za-z0-9]{24}/) != nil, fragment.id ?? "no id")
        XCTAssertTrue(accumulator.finish().isEmpty)
        let result = accumulator.result(provider: .mock, timing: timing)
        XCTAssertEqual(result.content, "One moment. ")
        XCTAssertEqual(result.toolCalls, [ToolCall(id: fragment.id ?? "", name: "get_time", arguments: [:], argumentsRaw: "{}")])
        XCTAssertEqual(result.finishReason, "tool_calls")
        XCTAssertEqual(result.warnings, [TextToolCallForm.hermes.recoveredWarning])
    }

    func testRecoveredCallsTakeIndexesTheServersCallsDoNotUse() {
        var accumulator = ChatAccumulator(stripThink: true, recoveringCallsTo: tools)
        let text = accumulator.add(CompletionChunk(content: "[TOOL_CALLS]get_time{}"))
        let native = accumulator.add(CompletionChunk(toolCalls: [ToolCallFragment(index: 0, id: "srv", name: "get_time", arguments: "{}")]))
        XCTAssertEqual(text.toolCalls.map(\.index), [0])
        XCTAssertEqual(native.toolCalls.map(\.index), [1], "the server's index 0 is taken by the recovered call")
        let calls = accumulator.result(provider: .mock, timing: timing).toolCalls
        XCTAssertEqual(calls.count, 2)
        XCTAssertEqual(calls.last?.id, "srv")
    }

    func testACallInsideAThinkSpanStaysReasoningAndIsNotRun() {
        var accumulator = ChatAccumulator(stripThink: true, recoveringCallsTo: tools)
        let delta = accumulator.add(CompletionChunk(content: "<think>I will call <tool_call>{\"name\": \"get_time\"}</tool_call></think>",
                                                    finishReason: "stop"))
        XCTAssertEqual(delta.content, "")
        XCTAssertEqual(delta.toolCalls, [])
        XCTAssertTrue(accumulator.finish().isEmpty)
        let result = accumulator.result(provider: .mock, timing: timing)
        XCTAssertEqual(result.reasoning, "I will call <tool_call>{\"name\": \"get_time\"}</tool_call>")
        XCTAssertEqual(result.toolCalls, [])
        XCTAssertEqual(result.finishReason, "stop")
        XCTAssertEqual(result.warnings.count, 1)
        XCTAssertTrue(result.warnings.first?.contains("not run") ?? false, "\(result.warnings)")
    }

    func testWithoutToolsTextStaysText() {
        let text = "<tool_call>{\"name\": \"get_time\"}</tool_call>"
        for tools in [nil, [JSONValue]()] {
            var accumulator = ChatAccumulator(stripThink: true, recoveringCallsTo: tools)
            XCTAssertEqual(accumulator.add(CompletionChunk(content: text, finishReason: "stop")).content, text)
            let result = accumulator.result(provider: .mock, timing: timing)
            XCTAssertEqual(result.content, text)
            XCTAssertEqual(result.toolCalls, [])
            XCTAssertEqual(result.warnings, [])
        }
    }

    func testTextHeldBackGoesIntoThePartialContent() {
        var accumulator = ChatAccumulator(stripThink: true, recoveringCallsTo: tools)
        XCTAssertEqual(accumulator.add(CompletionChunk(content: "Sure. <tool_call>{\"na")).content, "Sure. ")
        var error = ProviderError.cancelled()
        accumulator.attachPartial(to: &error)
        XCTAssertEqual(error.partialContent, "Sure. <tool_call>{\"na")
    }
}
