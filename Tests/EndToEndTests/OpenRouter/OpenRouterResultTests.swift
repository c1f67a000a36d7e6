import XCTest
@testable import LLMWorkerTestSupport

/// What OpenRouter adds to an answer, as the ChatResult reports it: the model that actually answered (after a
/// fallback), the upstream provider, the cost, and reasoning from `reasoning` and `reasoning_details`.
final class OpenRouterResultTests: XCTestCase {
    private let question: JSON = ["messages": [["role": "user", "content": "Turn on the lights"]]]

    private func expectedResult(content: JSON = "Hello.", reasoning: JSON = nil, model: JSON = "openai/gpt-4o-mini",
                                upstream: JSON = "OpenAI", usage: JSON = ["prompt_tokens": 12, "completion_tokens": 3,
                                                                          "total_tokens": 15, "cost": 0.0000123]) -> JSON {
        ["content": content, "reasoning": reasoning, "tool_calls": [], "finish_reason": "stop", "usage": usage,
         "model": model, "provider": "openrouter", "upstream_provider": upstream, "warnings": []]
    }

    func testChatResultCarriesModelUpstreamAndCost() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        server.enqueue(OR.json(OR.completion("Hello.", usage: OR.usage())), path: OR.chatPath)
        let result = assertResult(try worker.call("chat", question, id: 1), id: 1)
        XCTAssertEqual(result.removing("timing"), expectedResult())
    }

    /// The primary model is down; OpenRouter answers with the second of `models`: `model` says which answered.
    func testFallbackAnsweredByTheSecondModel() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server, ["fallback_models": ["anthropic/claude-3.5-haiku"]])
        server.enqueue(OR.json(OR.completion("Hello.", model: "anthropic/claude-3.5-haiku", provider: "Anthropic", usage: OR.usage())),
                       path: OR.chatPath)
        server.enqueue(OR.stream([
            .event(OR.chunk(OR.content("Hel"), model: "anthropic/claude-3.5-haiku", provider: "Anthropic")),
            .event(OR.chunk(["content": "lo."], model: "anthropic/claude-3.5-haiku", provider: "Anthropic")),
            .event(OR.chunk(["content": ""], finishReason: "stop", model: "anthropic/claude-3.5-haiku", provider: "Anthropic",
                            usage: OR.usage())),
        ]), path: OR.chatPath)
        let expected = expectedResult(model: "anthropic/claude-3.5-haiku", upstream: "Anthropic")
        XCTAssertEqual(assertResult(try worker.call("chat", question, id: 1), id: 1).removing("timing"), expected)
        XCTAssertEqual(assertResult(try worker.stream(question, id: 2).response, id: 2).removing("timing"), expected)
        for request in requestsAfterWarmUp(server, count: 2) {
            XCTAssertEqual(request.json["model"], "openai/gpt-4o-mini", "the primary is still what was asked for")
            XCTAssertEqual(request.json["models"], ["openai/gpt-4o-mini", "anthropic/claude-3.5-haiku"])
        }
    }

    /// OpenRouter puts usage on its last data event, which may still have a choice (with the finish reason).
    func testStreamCostOnTheLastEventThatAlsoHasChoices() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        server.enqueue(OR.stream([
            .event(OR.chunk(["role": "assistant", "content": ""])),
            .event(OR.chunk(["content": "Hel"])),
            .event(OR.chunk(["content": "lo."])),
            .event(OR.chunk(["content": ""], finishReason: "stop", usage: OR.usage(prompt: 20, completion: 2, cost: 0.00042))),
        ]), path: OR.chatPath)
        let (deltas, response) = try worker.stream(question, id: "s")
        let joined = joinedDeltas(deltas, id: "s")
        XCTAssertEqual(joined.content, "Hello.")
        XCTAssertEqual(joined.reasoning, "")
        XCTAssertEqual(assertResult(response, id: "s").removing("timing"),
                       expectedResult(usage: ["prompt_tokens": 20, "completion_tokens": 2, "total_tokens": 22, "cost": 0.00042]))
    }

    /// The OpenAI way: a separate last chunk with `choices: []` and the usage.
    func testStreamCostOnASeparateUsageChunk() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        var usageOnly = OR.chunk([:]).object ?? [:]
        usageOnly["choices"] = []
        usageOnly["usage"] = OR.usage(prompt: 7, completion: 1, cost: 0.5)
        server.enqueue(OR.stream([
            .event(OR.chunk(OR.content("Yes."))),
            .event(OR.chunk([:], finishReason: "stop")),
            .event(.object(usageOnly)),
        ]), path: OR.chatPath)
        let response = try worker.stream(question, id: 1).response
        XCTAssertEqual(assertResult(response, id: 1).removing("timing"),
                       expectedResult(content: "Yes.", usage: ["prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8, "cost": 0.5]))
    }

    /// Usage without a cost (a server in front of OpenRouter that drops it): no `cost` key at all.
    func testUsageWithoutCostHasNoCostKey() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        server.enqueue(OR.json(OR.completion(usage: ["prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15])), path: OR.chatPath)
        XCTAssertEqual(assertResult(try worker.call("chat", question, id: 1), id: 1)["usage"],
                       ["prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15])
    }

    // MARK: Reasoning

    private static let details: JSON = [
        ["type": "reasoning.summary", "summary": "The user wants light. ", "format": "anthropic-claude-v1", "index": 0],
        ["type": "reasoning.encrypted", "data": "gAAAAABo-encrypted-blob==", "format": "openai-responses-v1", "index": 1],
        ["type": "reasoning.text", "text": "Call the lights tool.", "signature": nil, "format": "anthropic-claude-v1", "index": 2],
    ]

    func testChatReasoningFromEitherFieldNeverTwice() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        server.enqueue(contentsOf: [
            // Both fields, as OpenRouter sends them: the same thinking twice over.
            OR.json(OR.completion("Done.", message: ["reasoning": "The user wants light. Call the lights tool.",
                                                     "reasoning_details": Self.details])),
            // Only the structured details: summary and text entries, the encrypted one dropped.
            OR.json(OR.completion("Done.", message: ["reasoning_details": Self.details])),
            // Only the plain field.
            OR.json(OR.completion("Done.", message: ["reasoning": "Short thought."])),
        ], path: OR.chatPath)
        let reasonings = try (1...3).map { id in
            assertResult(try worker.call("chat", question, id: .number(String(id))), id: .number(String(id)))
        }.map { $0["reasoning"] }
        XCTAssertEqual(reasonings, ["The user wants light. Call the lights tool.", "The user wants light. Call the lights tool.",
                                    "Short thought."])
    }

    func testStreamedReasoningFromBothFieldsIsSentOnce() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        server.enqueue(OR.stream([
            .event(OR.chunk(["role": "assistant", "content": "", "reasoning": "Think",
                             "reasoning_details": [["type": "reasoning.text", "text": "Think", "index": 0, "format": "unknown"]]])),
            .event(OR.chunk(["content": "", "reasoning": "ing.",
                             "reasoning_details": [["type": "reasoning.text", "text": "ing.", "index": 0, "format": "unknown"]]])),
            .event(OR.chunk(["content": "", "reasoning_details": [["type": "reasoning.text", "text": " More.", "index": 0]]])),
            .event(OR.chunk(["content": "", "reasoning_details": [["type": "reasoning.encrypted", "data": "xyz==", "index": 1]]])),
            .event(OR.chunk(["content": "On it."])),
            .event(OR.chunk(["content": ""], finishReason: "stop", usage: OR.usage())),
        ]), path: OR.chatPath)
        let (deltas, response) = try worker.stream(question, id: 1)
        let joined = joinedDeltas(deltas, id: 1)
        XCTAssertEqual(joined.reasoning, "Thinking. More.")
        XCTAssertEqual(joined.content, "On it.")
        XCTAssertEqual(assertResult(response, id: 1).removing("timing"),
                       expectedResult(content: "On it.", reasoning: "Thinking. More."))
    }
}
