import Foundation

/// The whole configuration at one moment: the active provider and what every provider remembers. A value: each
/// request gets the one current when its line was read, so a `configure` read after it never reaches it, whichever
/// provider the request names (`listModels`'s `provider`, `probe`'s params).
public struct ConfigurationSnapshot: Sendable {
    public internal(set) var active: ProviderKind?
    var stored: [ProviderKind: ProviderSettings] = [:]
    let environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    /// The active provider's settings, or nil when no provider was ever selected.
    public var current: ResolvedSettings? {
        active.map(settings(for:))
    }

    /// What `kind` remembers (its defaults if it was never configured).
    public func settings(for kind: ProviderKind) -> ResolvedSettings {
        ResolvedSettings(provider: kind, settings: stored[kind] ?? ProviderSettings(), environment: environment)
    }

    /// The provider `params` select and its settings with `params` applied, without saving anything.
    /// `requireKey: false` lets `probe` report a missing key as a failed check instead of refusing to run.
    func applying(_ params: ConfigureParams, requireKey: Bool = true) throws(InvalidParams) -> (ProviderKind, ProviderSettings) {
        try params.validate()
        guard let kind = params.provider.value ?? active else {
            throw InvalidParams(field: "provider", "is required the first time: one of 'openai_compatible', 'openrouter', 'mock'")
        }
        var updated = stored[kind] ?? ProviderSettings()
        try updated.apply(params)
        let resolved = ResolvedSettings(provider: kind, settings: updated, environment: environment)
        // Only a `socket` asked for in configure is a requirement; the environment's default is a preference.
        if kind != .mock, updated.transport == .socket,
           let problem = TransportMode.socket.problem(with: resolved.baseURL, proxies: ProxyEnvironment(environment)) {
            throw InvalidParams(field: "transport", problem)
        }
        if requireKey, kind == .openrouter, resolved.apiKey == nil {
            throw InvalidParams(field: "api_key",
                                "is required for openrouter: pass api_key or set OPENROUTER_API_KEY in the worker's environment")
        }
        return (kind, updated)
    }

    /// The configuration `params` would give (for `probe`).
    public func preview(_ params: ConfigureParams, requireKey: Bool = true) throws(InvalidParams) -> ResolvedSettings {
        let (kind, updated) = try applying(params, requireKey: requireKey)
        return ResolvedSettings(provider: kind, settings: updated, environment: environment)
    }
}
