import Foundation

/// One long-lived instance of each provider, so connections to a server are pooled across requests.
public struct ProviderRegistry: Sendable {
    private let openAICompatible: any LLMProvider
    private let openRouter: any LLMProvider
    private let mock: any LLMProvider

    public init(openAICompatible: any LLMProvider, openRouter: any LLMProvider, mock: any LLMProvider) {
        self.openAICompatible = openAICompatible
        self.openRouter = openRouter
        self.mock = mock
    }

    public func provider(for kind: ProviderKind) -> any LLMProvider {
        switch kind {
        case .openaiCompatible: return openAICompatible
        case .openrouter: return openRouter
        case .mock: return mock
        }
    }
}
