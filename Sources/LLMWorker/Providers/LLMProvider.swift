import Foundation

/// One chat request as a provider sees it: the client's params and a snapshot of the settings.
public struct ProviderRequest: Sendable {
    public var params: ChatParams
    public var settings: ResolvedSettings

    public init(params: ChatParams, settings: ResolvedSettings) {
        self.params = params
        self.settings = settings
    }

    /// The model to ask for: the request's own, else the configured one.
    public var model: String? { params.model ?? settings.model }
}

/// What the provider layer speaks: every provider turns its server's answer into these, and one shared
/// `ChatAccumulator` turns them into deltas and the final `ChatResult`, so think-stripping, tool-call assembly
/// and partial content on errors behave the same for every provider.
public protocol LLMProvider: Sendable {
    /// A non-streaming completion, delivered as one chunk holding the whole answer.
    func complete(_ request: ProviderRequest) async throws -> CompletionChunk

    /// A streaming completion. `deliver` is called with the chunks parsed from each network read, in order;
    /// it suspends while the client is slow to read. Throws `ProviderError`, or `CancellationError` when cancelled.
    func stream(_ request: ProviderRequest, deliver: @escaping @Sendable ([CompletionChunk]) async throws -> Void) async throws

    /// The models the server offers.
    func listModels(_ settings: ResolvedSettings, query: ModelQuery) async throws -> [ModelInfo]

    /// Called when this provider becomes the configured one, or its server changes: a chance to set up, in the
    /// background, what its first request would otherwise wait for (a connection). Must return at once.
    func prepare(_ settings: ResolvedSettings)

    /// Opens a connection to the server, or finds the pooled one still open, with a cheap request. A failure is
    /// reported in the result; only a cancel is thrown.
    func warm(_ settings: ResolvedSettings) async throws -> WarmReport
}

extension LLMProvider {
    public func prepare(_ settings: ResolvedSettings) {}

    public func warm(_ settings: ResolvedSettings) async throws -> WarmReport {
        .nothingToWarm(settings.provider)
    }
}

/// A piece of an answer: a streamed chunk, or a whole non-streamed message.
public struct CompletionChunk: Sendable, Equatable {
    public var content: String?
    public var reasoning: String?
    public var toolCalls: [ToolCallFragment] = []
    public var finishReason: String?
    public var usage: Usage?
    public var model: String?
    public var upstreamProvider: String?
    public var warnings: [String] = []
    /// Read from an event stream (also when a non-streamed `chat` was answered with one): the end-of-stream rules
    /// apply to the answer it is part of, so the same body gives `chat` and `chatStream` the same outcome.
    public var isFromStream = false

    public init(content: String? = nil, reasoning: String? = nil, toolCalls: [ToolCallFragment] = [],
                finishReason: String? = nil, usage: Usage? = nil, model: String? = nil, upstreamProvider: String? = nil) {
        self.content = content
        self.reasoning = reasoning
        self.toolCalls = toolCalls
        self.finishReason = finishReason
        self.usage = usage
        self.model = model
        self.upstreamProvider = upstreamProvider
    }

    /// Adds a later chunk of the same answer: text appended, tool-call fragments kept in order (assembled later),
    /// the first finish_reason, the last usage, model and upstream provider.
    public mutating func append(_ next: CompletionChunk) {
        if let text = next.content { content = (content ?? "") + text }
        if let text = next.reasoning { reasoning = (reasoning ?? "") + text }
        toolCalls += next.toolCalls
        if finishReason == nil { finishReason = next.finishReason }
        if let value = next.usage { usage = value }
        if let name = next.model, !name.isEmpty { model = name }
        if let name = next.upstreamProvider, !name.isEmpty { upstreamProvider = name }
        for warning in next.warnings where !warnings.contains(warning) { warnings.append(warning) }
        if next.isFromStream { isFromStream = true }
    }

    /// Whether this chunk carries something the listener would get (content, reasoning or a tool call).
    public var hasDelta: Bool {
        !(content ?? "").isEmpty || !(reasoning ?? "").isEmpty || toolCalls.contains(where: \.carriesSomething)
    }
}

/// A fragment of a tool call as servers stream it: `id` and `name` usually only in the first fragment,
/// `arguments` in pieces to be concatenated. Servers that send a whole call at once send one fragment.
public struct ToolCallFragment: Sendable, Equatable {
    public var index: Int?
    public var id: String?
    public var name: String?
    public var arguments: String?

    public init(index: Int? = nil, id: String? = nil, name: String? = nil, arguments: String? = nil) {
        self.index = index
        self.id = id
        self.name = name
        self.arguments = arguments
    }

    /// Whether the fragment adds anything to its call: an id, a name or a piece of arguments. vLLM sends fragments
    /// with `arguments: null` and nothing else; they are not forwarded and do not count as a first token.
    public var carriesSomething: Bool {
        !(id ?? "").isEmpty || !(name ?? "").isEmpty || !(arguments ?? "").isEmpty
    }
}
