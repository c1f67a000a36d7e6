import Foundation

extension ProviderRegistry {
    /// The providers the binary serves; both HTTP providers share one engine type and the transports' connection pools.
    public static func standard(logger: Logger) -> ProviderRegistry {
        let transports = TransportRouter()
        return ProviderRegistry(
            openAICompatible: OpenAICompatibleEngine(flavor: GenericFlavor(), transports: transports, logger: logger),
            openRouter: OpenAICompatibleEngine(flavor: OpenRouterFlavor(), transports: transports, logger: logger),
            mock: MockProvider())
    }
}
