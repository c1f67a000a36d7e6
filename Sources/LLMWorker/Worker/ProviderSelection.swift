import Foundation

extension RequestContext {
    /// The settings a method that may name a provider (`listModels`, `warm`) works with: those the named provider
    /// remembers (its defaults if it was never configured), else the active provider's. An HTTP provider without a
    /// base_url has nowhere to send a request: that is `not_configured`, like no provider at all.
    func settings(forProvider name: String?, method: String) throws -> ResolvedSettings {
        let settings: ResolvedSettings
        if let name {
            guard let kind = ProviderKind(rawValue: name) else {
                throw InvalidParams(field: "provider", "'\(name)' is not a provider; use 'openai_compatible', 'openrouter' or 'mock'")
            }
            settings = configuration.settings(for: kind)
        } else {
            guard let active = self.settings else {
                throw ProviderError(.notConfigured, "No provider is configured: call configure first, or pass provider to \(method).")
            }
            settings = active
        }
        if settings.provider != .mock, settings.baseURL == nil {
            throw ProviderError(.notConfigured, "No base_url is configured for \(settings.provider.rawValue): call configure with base_url first.", provider: settings.provider.rawValue)
        }
        return settings
    }
}
