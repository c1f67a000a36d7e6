import Foundation

/// A provider without a server: answers as its script says (text, reasoning, tool calls, pacing, errors),
/// so the protocol and a client like CAAL can be tried and tested without any LLM.
struct MockProvider: LLMProvider {
    static let modelID = "mock-1"

    func complete(_ request: ProviderRequest) async throws -> CompletionChunk {
        let script = try Self.script(for: request)
        try await Self.pause(script.firstTokenDelay)
        if let error = script.error { throw Self.failure(error) }
        let text = script.toolCalls.isEmpty || script.text != nil ? answerText(script, request) : nil
        var chunk = CompletionChunk(content: text, reasoning: script.reasoning,
                                    finishReason: finishReason(script), usage: usage(script, request),
                                    model: request.model ?? Self.modelID)
        chunk.toolCalls = script.toolCalls.enumerated().map { index, call in
            ToolCallFragment(index: index, id: call.id ?? "call_mock_\(index)", name: call.name, arguments: call.arguments)
        }
        return chunk
    }

    func stream(_ request: ProviderRequest,
                deliver: @escaping @Sendable ([CompletionChunk]) async throws -> Void) async throws {
        let script = try Self.script(for: request)
        let model = request.model ?? Self.modelID
        var deltas: [CompletionChunk] = []
        if let reasoning = script.reasoning {
            deltas += Self.pieces(reasoning, size: script.chunkChars).map { CompletionChunk(reasoning: $0) }
        }
        if script.toolCalls.isEmpty || script.text != nil {
            deltas += Self.pieces(answerText(script, request), size: script.chunkChars).map { CompletionChunk(content: $0) }
        }
        for (index, call) in script.toolCalls.enumerated() {
            let id = call.id ?? "call_mock_\(index)"
            deltas.append(CompletionChunk(toolCalls: [ToolCallFragment(index: index, id: id, name: call.name, arguments: "")]))
            deltas += Self.pieces(call.arguments, size: script.chunkChars).map {
                CompletionChunk(toolCalls: [ToolCallFragment(index: index, arguments: $0)])
            }
        }

        try await Self.pause(script.firstTokenDelay)
        for (sent, delta) in deltas.enumerated() {
            if let error = script.error, sent >= error.afterDeltas { throw Self.failure(error) }
            if sent > 0 { try await Self.pause(script.delay) }
            var chunk = delta
            if sent == 0 { chunk.model = model }
            try await deliver([chunk])
        }
        if let error = script.error { throw Self.failure(error) }
        try await deliver([CompletionChunk(finishReason: finishReason(script), usage: usage(script, request), model: model)])
    }

    func listModels(_ settings: ResolvedSettings, query: ModelQuery) async throws -> [ModelInfo] {
        [ModelInfo(id: Self.modelID, name: "Mock model", supportsTools: true, ownedBy: "caal-llm-worker")]
    }

    private static func script(for request: ProviderRequest) throws -> MockScript {
        let overrides = request.params.extra?["mock"]
        if let overrides, overrides.objectValue == nil {
            throw InvalidParams(field: "extra.mock", "must be an object, got \(overrides.typeName)")
        }
        return try MockScript(defaults: request.settings.mock, overrides: overrides?.objectValue)
    }

    private func answerText(_ script: MockScript, _ request: ProviderRequest) -> String {
        if let text = script.text { return text }
        return "You said: \(Self.lastUserText(request.params.messages))"
    }

    private func finishReason(_ script: MockScript) -> String {
        script.finishReason ?? (script.toolCalls.isEmpty ? "stop" : "tool_calls")
    }

    private func usage(_ script: MockScript, _ request: ProviderRequest) -> Usage {
        if let usage = script.usage { return usage }
        let prompt = request.params.messages.compactMap { $0["content"]?.stringValue }.joined(separator: " ")
        let answer = script.toolCalls.isEmpty || script.text != nil ? answerText(script, request) : ""
        return Usage(promptTokens: Self.words(prompt), completionTokens: Self.words(answer))
    }

    static func lastUserText(_ messages: [JSONValue]) -> String {
        guard let message = messages.last(where: { $0["role"]?.stringValue == "user" }) else { return "" }
        if let text = message["content"]?.stringValue { return text }
        // Content given as parts: join the text parts.
        return (message["content"]?.arrayValue ?? []).compactMap { $0["text"]?.stringValue }.joined(separator: " ")
    }

    private static func words(_ text: String) -> Int {
        text.split(whereSeparator: { $0.isWhitespace }).count
    }

    private static func pieces(_ text: String, size: Int) -> [String] {
        guard size > 0, text.count > size else { return text.isEmpty ? [] : [text] }
        var result: [String] = []
        var index = text.startIndex
        while index < text.endIndex {
            let end = text.index(index, offsetBy: size, limitedBy: text.endIndex) ?? text.endIndex
            result.append(String(text[index..<end]))
            index = end
        }
        return result
    }

    private static func pause(_ seconds: Double) async throws {
        guard seconds > 0 else {
            try Task.checkCancellation()
            return
        }
        try await Task.sleep(nanoseconds: Nanoseconds.from(seconds: seconds))
    }

    private static func failure(_ scripted: MockScript.ScriptedError) -> ProviderError {
        ProviderError(scripted.kind, scripted.message ?? "Mock provider: scripted \(scripted.kind.rawValue) error",
                      status: scripted.status, provider: ProviderKind.mock.rawValue)
    }
}
