import Foundation

/// Tries a configuration end to end the way a conversation would use it: model list, a tiny chat, a tiny
/// stream (time to first token), a chat offering a tool. Each check is bounded; nothing is left running.
struct Probe: Sendable {
    let provider: any LLMProvider
    let settings: ResolvedSettings
    let memory: ProbeMemory
    /// The longest any one check may take.
    let checkLimit: Double

    static let prompt: [JSONValue] = [.object(["role": .string("user"), "content": .string("Reply with the single word: ok")])]

    /// - Throws: `CancellationError` when the probe was cancelled (a cancelled check is not a failed one).
    func run() async throws -> ProbeReport {
        var settings = self.settings
        var checks = ProbeReport.Checks()
        var warnings: [String] = []

        let listing = settings
        try Task.checkCancellation()
        let (modelsCheck, listed) = await measure { _ in try await provider.listModels(listing, query: ModelQuery()) }
        checks.models = modelsCheck
        let models = listed ?? []
        checks.models.count = checks.models.ok ? models.count : nil
        if checks.models.ok && models.isEmpty { warnings.append("The model list is empty: the server may not have a model loaded.") }
        if checks.models.error?.kind == ErrorKind.notFound.rawValue {
            warnings.append("This server has no model list (/models answered 404); type the model name by hand.")
        }
        if settings.model == nil, let first = models.first {
            settings.model = first.id
            warnings.append("No model is configured; probed with '\(first.id)', the first one listed.")
        }

        let chatRequest = ProviderRequest(params: ChatParams(messages: Self.prompt, maxTokens: 16), settings: settings)
        try Task.checkCancellation()
        let (chatCheck, answer) = await measure { _ in try await provider.complete(chatRequest) }
        checks.chat = chatCheck
        let upstream = answer?.upstreamProvider

        try Task.checkCancellation()
        let (streamCheck, ttft) = await measure { clock -> Double? in
            let firstDelta = FirstDeltaClock(clock: clock)
            try await provider.stream(chatRequest) { chunks in
                if chunks.contains(where: \.hasDelta) { await firstDelta.mark() }
            }
            return await firstDelta.ms
        }
        checks.stream = streamCheck
        checks.stream.ttftMs = ttft ?? nil
        if let ttft = checks.stream.ttftMs, ttft > 2000 {
            warnings.append(String(format: "The first token took %.1f s: a listener will notice the silence.", ttft / 1000))
        }

        var toolParams = ChatParams(messages: Self.prompt, maxTokens: 16)
        toolParams.tools = [Self.trivialTool]
        toolParams.toolChoice = .string("auto")
        let toolRequest = ProviderRequest(params: toolParams, settings: settings)
        try Task.checkCancellation()
        (checks.tools, _) = await measure { _ in try await provider.complete(toolRequest) }
        try Task.checkCancellation()
        if checks.tools.ok {
            checks.tools.supported = true
        } else if let error = checks.tools.error, Self.rejectsTools(error) {
            checks.tools = ProbeReport.Check(ok: true, ms: checks.tools.ms, error: error, supported: false)
            warnings.append("This server rejects tools: CAAL's tool calls will not work with this model.")
        }

        if let upstream, let previous = await memory.swap(model: settings.model ?? "", upstream: upstream), previous != upstream {
            warnings.append("OpenRouter routed to a different provider than last time (\(previous) then \(upstream)).")
        }
        for (name, check) in [("models", checks.models), ("chat", checks.chat), ("stream", checks.stream), ("tools", checks.tools)] {
            if let error = check.error, !(name == "tools" && check.ok) {
                warnings.append("The \(name) check failed: \(error.message)")
            }
        }
        return ProbeReport(ok: checks.chat.ok && checks.stream.ok, provider: settings.provider.rawValue,
                           baseURL: settings.baseURL, model: settings.model, checks: checks, warnings: warnings)
    }

    /// A 400 that mentions tools (vLLM without its tool parser), or OpenRouter's 404 "No endpoints found that
    /// support tool use" (the model exists, but none of its providers takes tools).
    static func rejectsTools(_ error: ProbeReport.CheckError) -> Bool {
        let text = error.message.lowercased()
        switch error.kind {
        case ErrorKind.badRequest.rawValue: return text.contains("tool")
        // Not any 404 naming a "tool…" model: OpenRouter's wording ("support tool use", "'tool_choice' value").
        case ErrorKind.notFound.rawValue: return text.contains("support tool") || text.contains("tool_choice")
        default: return false
        }
    }

    static let trivialTool: JSONValue = .object([
        "type": .string("function"),
        "function": .object([
            "name": .string("get_time"),
            "description": .string("Returns the current time."),
            "parameters": .object(["type": .string("object"), "properties": .object([:])]),
        ]),
    ])

    /// Runs one check within `checkLimit`, timing it and mapping its failure.
    private func measure<T: Sendable>(_ body: @escaping @Sendable (RequestClock) async throws -> T) async -> (ProbeReport.Check, T?) {
        let clock = RequestClock()
        let limit = checkLimit
        let providerName = settings.provider
        do {
            let value = try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await body(clock) }
                group.addTask {
                    try await Task.sleep(nanoseconds: Nanoseconds.from(seconds: limit))
                    throw ProviderError(.timeout, String(format: "No answer within %.0f s.", limit), provider: providerName.rawValue)
                }
                defer { group.cancelAll() }
                return try await group.next() ?? nil
            }
            return (ProbeReport.Check(ok: true, ms: clock.elapsedMs), value)
        } catch {
            let failure = ProviderError(error, provider: providerName)
            return (ProbeReport.Check(ok: false, ms: clock.elapsedMs, error: ProbeReport.CheckError(failure)), nil)
        }
    }
}

/// When the first delta of the probe's stream arrived.
actor FirstDeltaClock {
    private let clock: RequestClock
    private(set) var ms: Double?

    init(clock: RequestClock) { self.clock = clock }

    func mark() {
        if ms == nil { ms = clock.elapsedMs }
    }
}

/// Which upstream served each model at the last probe, to notice OpenRouter routing elsewhere.
actor ProbeMemory {
    private var upstreamByModel: [String: String] = [:]

    func swap(model: String, upstream: String) -> String? {
        defer { upstreamByModel[model] = upstream }
        return upstreamByModel[model]
    }
}
