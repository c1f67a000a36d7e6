import Foundation

extension ProviderRegistry {
    /// The providers the binary serves.
    public static func standard(logger: Logger, redactor: Redactor) -> ProviderRegistry {
        ProviderRegistry(openAICompatible: PendingProvider(kind: .openaiCompatible),
                         openRouter: PendingProvider(kind: .openrouter),
                         mock: MockProvider())
    }
}

/// Placeholder until the HTTP engine lands; answers not_configured so nothing pretends to work.
struct PendingProvider: LLMProvider {
    let kind: ProviderKind

    private func failure() -> ProviderError {
        ProviderError(.notConfigured, "The \(kind.rawValue) provider is not available in this build.", provider: kind.rawValue)
    }

    func complete(_ request: ProviderRequest) async throws -> CompletionChunk { throw failure() }
    func stream(_ request: ProviderRequest, deliver: @escaping @Sendable ([CompletionChunk]) async throws -> Void) async throws { throw failure() }
    func listModels(_ settings: ResolvedSettings, query: ModelQuery) async throws -> [ModelInfo] { throw failure() }
}
