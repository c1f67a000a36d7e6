import Foundation

extension ProviderRegistry {
    /// The providers the binary serves; both HTTP providers share one engine type and one connection pool.
    public static func standard(logger: Logger) -> ProviderRegistry {
        let client = HTTPClient()
        return ProviderRegistry(
            openAICompatible: OpenAICompatibleEngine(flavor: GenericFlavor(), client: client, logger: logger),
            openRouter: OpenAICompatibleEngine(flavor: OpenRouterFlavor(), client: client, logger: logger),
            mock: MockProvider())
    }
}
