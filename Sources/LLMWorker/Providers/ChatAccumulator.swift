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
/// into the content), tool calls assembled (including those the model wrote as text), usage and model taken from
/// wherever the server put them.
public struct ChatAccumulator: Sendable {
    private var think: ThinkSplitter
    private var textCalls: TextToolCallFilter
    private var toolCalls = ToolCallAssembler()
    private var content = ""
    private var reasoning = ""
    private var finishReason: String?
    private var usage: Usage?
    private var model: String?
    private var upstreamProvider: String?
    private var warnings: [String] = []
    private var sawFinish = false
    private var sawStream = false

    /// - Parameter recoveringCallsTo: the request's tools, when tool calls written as text are to be recovered.
    public init(stripThink: Bool, recoveringCallsTo tools: [JSONValue]? = nil) {
        think = ThinkSplitter(enabled: stripThink)
        textCalls = TextToolCallFilter(tools: tools.flatMap(OfferedTools.init))
    }

    /// Adds a chunk; returns what the client should be sent for it (possibly empty).
    public mutating func add(_ chunk: CompletionChunk) -> DeltaPayload {
        if chunk.isFromStream { sawStream = true }
        var delta = DeltaPayload()
        if let text = chunk.reasoning, !text.isEmpty { delta.reasoning = text }
        var recovered = TextToolCallFilter.Output()
        if let text = chunk.content, !text.isEmpty {
            let split = think.feed(text)
            recovered = textCalls.feed(split.content)
            delta.content = recovered.content
            delta.reasoning += split.reasoning
        }
        if !chunk.toolCalls.isEmpty { delta.toolCalls = toolCalls.add(chunk.toolCalls) }
        take(recovered, into: &delta)
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

    /// End of the answer: decides the text held back (by the think splitter, then by the tool-call filter), as a
    /// last delta.
    public mutating func finish() -> DeltaPayload {
        let split = think.finish()
        var recovered = textCalls.feed(split.content)
        let last = textCalls.finish()
        recovered.content += last.content
        recovered.calls += last.calls
        recovered.warnings += last.warnings
        var delta = DeltaPayload(content: recovered.content, reasoning: split.reasoning)
        take(recovered, into: &delta)
        content += delta.content
        reasoning += delta.reasoning
        return delta
    }

    /// Recovered calls become tool calls like the server's own, each with an id of its own.
    private mutating func take(_ recovered: TextToolCallFilter.Output, into delta: inout DeltaPayload) {
        for call in recovered.calls {
            delta.toolCalls.append(toolCalls.addWhole(id: RecoveredCallID.next(), name: call.name, arguments: call.arguments))
        }
        for warning in recovered.warnings { addWarning(warning) }
    }

    public mutating func addWarning(_ warning: String) {
        if !warnings.contains(warning) { warnings.append(warning) }
    }

    public var hasAnswer: Bool { !content.isEmpty || !toolCalls.isEmpty }
    public var hasFinishReason: Bool { sawFinish }
    /// Some of the answer came from an event stream.
    public var isFromStream: Bool { sawStream }

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
            warnings: warnings + assembled.warnings + reasoningCallWarning(answered: !assembled.calls.isEmpty))
    }

    /// A model that wrote its call inside its reasoning and then stopped: the call is not run (a model reasoning about
    /// the syntax must not trigger a tool), but the client is told why nothing happened.
    private func reasoningCallWarning(answered: Bool) -> [String] {
        guard textCalls.isEnabled, !answered, content.isEmpty, TextToolCallForm.mentionsOpener(reasoning) else { return [] }
        return ["The reasoning holds what looks like a tool call written as text, and the answer has none: calls in "
                + "the reasoning are not run."]
    }

    /// The answer so far, attached to an error that ends the request early.
    /// The content includes what was held back (never sent) while deciding whether it is a tool call.
    public func attachPartial(to error: inout ProviderError) {
        error.partialContent = content + textCalls.heldText
        error.partialToolCalls = toolCalls.finish().calls
    }
}
