import Foundation

/// Runs one `chat` or `chatStream`: takes a settings snapshot, calls the provider, turns what it delivers
/// into `chatStream.delta` lines and the final `ChatResult`, and attaches the partial answer to any error.
struct ChatRunner: Sendable {
    let services: Services

    /// - Parameter streamID: the request's id when streaming (deltas are sent for it), nil for `chat`.
    func run(_ params: ChatParams, settings: ResolvedSettings?, streamingTo streamID: RequestID?) async throws -> ChatResult {
        let clock = RequestClock()
        try params.validate()
        guard let settings else {
            throw ProviderError(.notConfigured, "No provider is configured: call configure with provider 'openai_compatible', 'openrouter' or 'mock' first.")
        }
        let request = ProviderRequest(params: params, settings: settings)
        try Self.checkReady(request)
        let log = RequestLog.current
        if let log, log.isDebug {
            log.debug("provider \(settings.provider.rawValue), model \(request.model ?? "?"), \(params.messages.count) messages, \(params.tools?.count ?? 0) tools")
        }
        let provider = services.providers.provider(for: settings.provider)
        let accumulator = ChatAccumulator(stripThink: settings.stripThink,
                                          recoveringCallsTo: settings.recoverToolCalls ? params.tools : nil)
        let sink = StreamSink(accumulator, streamID: streamID, writer: services.writer, clock: clock, log: log)
        do {
            if streamID != nil {
                try await provider.stream(request) { chunks in try await sink.deliver(chunks) }
            } else {
                let chunk = try await provider.complete(request)
                try Task.checkCancellation()
                try await sink.deliver([chunk])
            }
            try Task.checkCancellation()
            let result = try await sink.finish(provider: settings.provider, streamed: streamID != nil)
            log?.tally?.update { $0.finishReason = result.finishReason ?? "none" }
            return result
        } catch let invalid as InvalidParams {
            throw invalid
        } catch {
            var failure = ProviderError(error, provider: settings.provider)
            await sink.attachPartial(to: &failure)
            throw failure
        }
    }

    private static func checkReady(_ request: ProviderRequest) throws {
        let provider = request.settings.provider
        if provider != .mock, request.settings.baseURL == nil {
            throw ProviderError(.notConfigured, "No base_url is configured for \(provider.rawValue): call configure with base_url (for example http://localhost:1234/v1).", provider: provider.rawValue)
        }
        if request.model == nil {
            throw ProviderError(.notConfigured, "No model is configured for \(provider.rawValue): pass model in configure or in the request (listModels shows the choices).", provider: provider.rawValue)
        }
    }
}

/// Milliseconds since the request arrived.
struct RequestClock: Sendable {
    private let start = DispatchTime.now().uptimeNanoseconds

    var elapsedMs: Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }
}

/// The receiving end of a provider's chunks for one request. Calls arrive one at a time (the provider awaits
/// each delivery), but from different threads, hence an actor.
actor StreamSink {
    private var accumulator: ChatAccumulator
    private let encoder: DeltaEncoder?
    private let writer: OutputWriter
    private let clock: RequestClock
    private var nextIndex = 0
    private var firstDeltaMs: Double?
    /// When streaming at `debug`: counts the delta lines for the request's last debug line, and logs the first.
    private let log: RequestLog?

    init(_ accumulator: ChatAccumulator, streamID: RequestID?, writer: OutputWriter, clock: RequestClock, log: RequestLog? = nil) {
        self.accumulator = accumulator
        encoder = streamID.map(DeltaEncoder.init(requestID:))
        self.writer = writer
        self.clock = clock
        self.log = streamID != nil && log?.isDebug == true ? log : nil
    }

    /// Chunks parsed from one network read become at most one delta line: already-waiting text is sent
    /// together, and nothing is held back to wait for more.
    func deliver(_ chunks: [CompletionChunk]) async throws {
        // A cancelled request takes nothing more, so its partial answer is exactly what was sent as deltas.
        try Task.checkCancellation()
        var merged = DeltaPayload()
        for chunk in chunks {
            let delta = accumulator.add(chunk)
            merged.content += delta.content
            merged.reasoning += delta.reasoning
            merged.toolCalls += delta.toolCalls
        }
        await emit(merged)
    }

    func finish(provider: ProviderKind, streamed: Bool) async throws -> ChatResult {
        try Task.checkCancellation()
        await emit(accumulator.finish())
        if (streamed || accumulator.isFromStream) && !accumulator.hasFinishReason {
            guard accumulator.hasAnswer else {
                throw ProviderError(.invalidResponse, "The server ended the stream without any answer: no content, no tool call and no finish_reason (the prompt may exceed the model's context).", provider: provider.rawValue)
            }
            accumulator.addWarning("The stream ended without a finish_reason: the answer may be incomplete.")
        }
        let total = clock.elapsedMs
        return accumulator.result(provider: provider, timing: Timing(ttftMs: firstDeltaMs ?? (streamed ? nil : total), totalMs: total))
    }

    func attachPartial(to error: inout ProviderError) {
        accumulator.attachPartial(to: &error)
    }

    /// Writes a delta that is already part of the answer (callers check for cancellation before adding to it).
    private func emit(_ delta: DeltaPayload) async {
        guard !delta.isEmpty else { return }
        if firstDeltaMs == nil {
            let ms = clock.elapsedMs
            firstDeltaMs = ms
            log?.debug(String(format: "first delta after %.1f ms (time to first token)", ms))
            log?.tally?.update { $0.firstDeltaMs = ms }
        }
        log?.tally?.update { $0.deltas += 1 }
        guard let encoder else { return }
        let line = encoder.line(index: nextIndex, delta)
        nextIndex += 1
        await writer.send(line)
    }
}
