import Foundation

/// What one chunk of an answer adds for the client: the text of a `chatStream.delta`, think spans already moved.
public struct DeltaPayload: Sendable, Equatable {
    public var content: String = ""
    public var reasoning: String = ""
    public var toolCalls: [ToolCallFragment] = []

    public var isEmpty: Bool { content.isEmpty && reasoning.isEmpty && toolCalls.isEmpty }
}

/// Builds a `ChatResult` from the chunks a provider delivers, the same way for every provider and for
/// streaming and non-streaming calls: reasoning kept apart from content (including `<think>` spans written
/// into the content), tool calls assembled, usage and model taken from wherever the server put them.
public struct ChatAccumulator: Sendable {
    private var think: ThinkSplitter
    private var toolCalls = ToolCallAssembler()
    private var content = ""
    private var reasoning = ""
    private var finishReason: String?
    private var usage: Usage?
    private var model: String?
    private var upstreamProvider: String?
    private var warnings: [String] = []
    private var sawFinish = false

    public init(stripThink: Bool) {
        think = ThinkSplitter(enabled: stripThink)
    }

    /// Adds a chunk; returns what the client should be sent for it (possibly empty).
    public mutating func add(_ chunk: CompletionChunk) -> DeltaPayload {
        var delta = DeltaPayload()
        if let text = chunk.reasoning, !text.isEmpty { delta.reasoning = text }
        if let text = chunk.content, !text.isEmpty {
            let split = think.feed(text)
            delta.content = split.content
            delta.reasoning += split.reasoning
        }
        if !chunk.toolCalls.isEmpty { delta.toolCalls = toolCalls.add(chunk.toolCalls) }
        content += delta.content
        reasoning += delta.reasoning
        // Servers repeat or blank these on later chunks (OpenRouter sends a second finish chunk): keep the first real one.
        if let reason = chunk.finishReason, !reason.isEmpty {
            if finishReason == nil { finishReason = reason }
            sawFinish = true
        }
        if let chunkUsage = chunk.usage { usage = chunkUsage }
        if let name = chunk.model, !name.isEmpty { model = name }
        if let name = chunk.upstreamProvider, !name.isEmpty { upstreamProvider = name }
        for warning in chunk.warnings where !warnings.contains(warning) { warnings.append(warning) }
        return delta
    }

    /// End of the answer: releases text the think splitter held back, as a last delta.
    public mutating func finish() -> DeltaPayload {
        let split = think.finish()
        content += split.content
        reasoning += split.reasoning
        return DeltaPayload(content: split.content, reasoning: split.reasoning)
    }

    public mutating func addWarning(_ warning: String) {
        if !warnings.contains(warning) { warnings.append(warning) }
    }

    public var hasAnswer: Bool { !content.isEmpty || !toolCalls.isEmpty }
    public var hasFinishReason: Bool { sawFinish }

    public func result(provider: ProviderKind, timing: Timing) -> ChatResult {
        let assembled = toolCalls.finish()
        var reason = finishReason
        // A server that says "tool_calls" with no call (LocalAI) or "stop" after calls would mislead the client's loop.
        if reason == "tool_calls", assembled.calls.isEmpty { reason = "stop" }
        if assembled.calls.count > 0, reason == nil || reason == "stop" { reason = "tool_calls" }
        if !sawFinish { reason = nil }
        return ChatResult(
            content: content.isEmpty ? nil : content,
            reasoning: reasoning.isEmpty ? nil : reasoning,
            toolCalls: assembled.calls,
            finishReason: reason,
            usage: usage,
            model: model,
            provider: provider.rawValue,
            upstreamProvider: upstreamProvider,
            timing: timing,
            warnings: warnings + assembled.warnings)
    }

    /// The answer so far, attached to an error that ends the request early.
    public func attachPartial(to error: inout ProviderError) {
        error.partialContent = content
        error.partialToolCalls = toolCalls.finish().calls
    }
}
