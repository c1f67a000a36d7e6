import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The Chat Completions engine shared by every HTTP provider: builds requests, retries what may be retried,
/// parses answers and streams. A `ProviderFlavor` supplies what differs between OpenRouter and the rest.
struct OpenAICompatibleEngine: LLMProvider {
    let flavor: any ProviderFlavor
    let transports: TransportRouter
    let logger: Logger
    let streamOptionsMemory: StreamOptionsMemory
    let warmer: ConnectionWarmer

    init(flavor: any ProviderFlavor, transports: TransportRouter, logger: Logger) {
        self.flavor = flavor
        self.transports = transports
        self.logger = logger
        streamOptionsMemory = StreamOptionsMemory()
        warmer = ConnectionWarmer(flavor: flavor, transports: transports, logger: logger)
    }

    private var builder: ChatRequestBuilder { ChatRequestBuilder(flavor: flavor) }

    func prepare(_ settings: ResolvedSettings) {
        transports.warmUp(for: settings)
        warmer.preOpen(settings)
    }

    func warm(_ settings: ResolvedSettings) async throws -> WarmReport {
        try await warmer.warm(settings)
    }

    func complete(_ request: ProviderRequest) async throws -> CompletionChunk {
        let urlRequest = try builder.build(request, stream: false, streamOptions: false)
        return try await withRetries(request.settings) { attempt in
            let call = UpstreamCall(transport: transports.transport(for: request.settings), request: urlRequest, timeouts: attempt.timeouts,
                                    streaming: false, provider: flavor.kind, attempt: attempt.number)
            return try await call.run {
                let head = try await call.head()
                if head.isSuccess, head.contentType.contains("text/event-stream") {
                    // Some servers stream even when not asked to (LiteLLM#25766): the stream is the answer.
                    var reader = SSEChunkReader(provider: flavor.kind, dialect: flavor.dialect, status: head.status)
                    var whole = CompletionChunk()
                    whole.isFromStream = true
                    try await reader.read(call) { chunks in
                        for chunk in chunks { whole.append(chunk) }
                    }
                    return whole
                }
                let body = try await call.body()
                guard head.isSuccess else { throw mapStatus(head, body) }
                return try decodeCompletion(head, body)
            }
        }
    }

    func stream(_ request: ProviderRequest, deliver: @escaping @Sendable ([CompletionChunk]) async throws -> Void) async throws {
        let base = request.settings.baseURL ?? ""
        var options = await streamOptionsMemory.rejects(base) ? StreamOptions.omitted : .sent
        let progress = StreamProgress()
        try await withRetries(request.settings, progress: progress) { attempt in
            guard try await streamOnce(request, options, attempt: attempt, progress: progress, deliver: deliver) == .refusedStreamOptions
            else { return }
            // The same attempt goes on without them, with what is left of the request's time; so do its retries.
            options = .refused
            await streamOptionsMemory.remember(base)
            logger.debugForCurrentRequest("attempt \(attempt.number): \(base) rejected stream_options; retrying without it (remembered for this base_url)")
            _ = try await streamOnce(request, options, attempt: attempt, progress: progress, deliver: deliver)
        }
    }

    /// One stream request, read to its end; `.refusedStreamOptions` when the server refused the `stream_options` it was sent.
    private func streamOnce(_ request: ProviderRequest, _ options: StreamOptions, attempt: RetryPolicy.Attempt, progress: StreamProgress,
                            deliver: @escaping @Sendable ([CompletionChunk]) async throws -> Void) async throws -> StreamOutcome {
        let urlRequest = try builder.build(request, stream: true, streamOptions: options.send)
        let call = UpstreamCall(transport: transports.transport(for: request.settings), request: urlRequest, timeouts: attempt.timeouts,
                                streaming: true, provider: flavor.kind, attempt: attempt.number)
        return try await call.run {
            let head = try await call.head()
            guard head.isSuccess else {
                let body = try await call.body(limit: 1 << 20)
                if options.send, head.status == 400, Self.mentionsStreamOptions(body) { return .refusedStreamOptions }
                throw mapStatus(head, body)
            }
            if head.contentType.contains("application/json") {
                // The server answered the stream with one JSON body (an error, or a whole completion).
                var chunk = try decodeCompletion(head, try await call.body())
                if let warning = options.warning { chunk.warnings.append(warning) }
                await progress.markDelivered()
                try await deliver([chunk])
                return .finished
            }
            var reader = SSEChunkReader(provider: flavor.kind, dialect: flavor.dialect, status: head.status)
            var first = true
            try await reader.read(call) { chunks in
                var chunks = chunks
                if first, let warning = options.warning, !chunks.isEmpty {
                    chunks[0].warnings.append(warning)
                    first = false
                }
                if chunks.contains(where: \.hasDelta) { await progress.markDelivered() }
                try await deliver(chunks)
            }
            return .finished
        }
    }

    func listModels(_ settings: ResolvedSettings, query: ModelQuery) async throws -> [ModelInfo] {
        guard let baseText = settings.baseURL, let base = URL(string: baseText) else {
            throw ProviderError(.notConfigured, "No base_url is configured for \(flavor.kind.rawValue).", provider: flavor.kind.rawValue)
        }
        var urlRequest = URLRequest(url: flavor.modelsURL(base: base, query: query))
        urlRequest.httpMethod = "GET"
        builder.applyHeaders(to: &urlRequest, settings: settings, accept: "application/json")
        return try await withRetries(settings) { attempt in
            let call = UpstreamCall(transport: transports.transport(for: settings), request: urlRequest, timeouts: attempt.timeouts, streaming: false,
                                    provider: flavor.kind, attempt: attempt.number)
            return try await call.run {
                let head = try await call.head()
                let body = try await call.body()
                guard head.isSuccess else {
                    var failure = mapStatus(head, body)
                    if head.status == 404 {
                        failure.message = "This server has no model list (GET \(baseText)/models answered 404); type the model name by hand in configure."
                    }
                    throw failure
                }
                return try flavor.parseModels(body, query: query)
            }
        }
    }

    // MARK: Shared steps

    private enum StreamOutcome: Sendable {
        case finished
        case refusedStreamOptions
    }

    /// Whether a stream request asks for `stream_options` (usage in the last chunk), and what the answer must say
    /// once a server refused them during this request.
    private struct StreamOptions: Sendable {
        let send: Bool
        let warning: String?

        static let sent = StreamOptions(send: true, warning: nil)
        /// The server refused them before this request: it is not asked again, and there is nothing new to say.
        static let omitted = StreamOptions(send: false, warning: nil)
        static let refused = StreamOptions(send: false, warning: "The server rejected stream_options, so the stream was requested without it: usage may be missing.")
    }

    private func mapStatus(_ head: UpstreamCall.Head, _ body: Data) -> ProviderError {
        UpstreamErrorMapper.map(status: head.status, headers: head.headers, body: body, dialect: flavor.dialect, provider: flavor.kind)
    }

    /// A 2xx answer → its chunk. A body that is not a completion (not JSON, not UTF-8, no choice 0) is
    /// `invalid_response` with the HTTP status and the body's first bytes in `upstream_message`, as the error mapper quotes them.
    private func decodeCompletion(_ head: UpstreamCall.Head, _ body: Data) throws -> CompletionChunk {
        guard SSEChunkReader.isValidUTF8(body), let wire = try? WireChunk(parsing: body) else { throw mapStatus(head, body) }
        if wire.mayCarryError, let error = UpstreamErrorMapper.embeddedError(in: wire.object, dialect: flavor.dialect, provider: flavor.kind) {
            throw error.withOrigin(.answer)
        }
        guard wire.answer != nil else { throw mapStatus(head, body) }
        return wire.completionChunk
    }

    /// Tries `operation` until it succeeds or `RetryPolicy` says to stop; logs each retry (at `debug`), and says in the
    /// final error how many attempts were made when that is worth saying.
    private func withRetries<T: Sendable>(_ settings: ResolvedSettings, progress: StreamProgress? = nil,
                                          _ operation: (RetryPolicy.Attempt) async throws -> T) async throws -> T {
        let policy = RetryPolicy(settings.retry, timeouts: settings.timeouts)
        let clock = RequestClock()
        await warmer.waitForPreOpen(of: settings.baseURL)
        try Task.checkCancellation()
        var attempt = 1
        var resent = false
        while true {
            do {
                return try await operation(RetryPolicy.Attempt(number: attempt, policy: policy, clock: clock))
            } catch {
                guard var failure = error as? ProviderError else { throw error }
                let started = await progress?.delivered ?? false
                switch policy.decide(failure, attempt: attempt, answerStarted: started,
                                     alreadyResent: resent, elapsedSeconds: clock.elapsedMs / 1000) {
                case .resendNow:
                    resent = true
                    logger.debugForCurrentRequest("attempt \(attempt): \(failure.message) The request is sent again on a new connection.")
                case .retry(let wait):
                    logger.debugForCurrentRequest(String(format: "attempt %d failed (%@: %@); retrying in %.2f s", attempt, failure.kind.rawValue, failure.message, wait))
                    try await Task.sleep(nanoseconds: Nanoseconds.from(seconds: wait))
                    attempt += 1
                case .fail(let attempts):
                    if let attempts {
                        failure.attempts = attempts
                        failure.message += " Gave up after \(attempts) attempts."
                    }
                    throw failure
                }
            }
        }
    }

    static func mentionsStreamOptions(_ body: Data) -> Bool {
        String(decoding: body.prefix(4096), as: UTF8.self).contains("stream_options")
    }

    /// The first bytes of a body, for error messages about answers that are not what was expected.
    static func quote(_ body: Data) -> String {
        if body.isEmpty { return "(an empty body)" }
        let text = String(decoding: body.prefix(200), as: UTF8.self)
            .split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        return "\"\(text)\(body.count > 200 ? "…" : "")\""
    }
}

/// Whether any part of the answer has been passed on to the client: from then on, nothing is retried.
actor StreamProgress {
    private(set) var delivered = false

    func markDelivered() { delivered = true }
}

/// Base URLs whose server rejected `stream_options` once; they are not sent it again.
actor StreamOptionsMemory {
    private var rejecting: Set<String> = []

    func rejects(_ base: String) -> Bool { rejecting.contains(base) }
    func remember(_ base: String) { rejecting.insert(base) }
}
