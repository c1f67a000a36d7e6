import Foundation

/// The worker's configuration: which provider is active and what each provider remembers.
/// `configure` validates a whole call before changing anything, so an invalid call changes nothing.
/// Synchronous on purpose: the dispatcher applies `configure` and takes each request's snapshot on the reader
/// thread, in input order, so a request always runs with every `configure` sent before it and none sent after.
public final class ConfigurationStore: @unchecked Sendable {
    private let lock = NSLock()
    private var active: ProviderKind?
    private var settings: [ProviderKind: ProviderSettings] = [:]
    private let environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    /// Applies `params` and returns the effective configuration, or throws without changing anything.
    @discardableResult
    public func configure(_ params: ConfigureParams) throws(InvalidParams) -> ResolvedSettings {
        lock.lock()
        defer { lock.unlock() }
        let (kind, updated) = try preview(params)
        active = kind
        settings[kind] = updated
        return resolved(kind, updated)
    }

    /// The configuration `params` would give, without saving it (for `probe`).
    /// `requireKey: false` lets `probe` report a missing key as a failed check instead of refusing to run.
    public func previewResolved(_ params: ConfigureParams, requireKey: Bool = true) throws(InvalidParams) -> ResolvedSettings {
        lock.lock()
        defer { lock.unlock() }
        let (kind, updated) = try preview(params, requireKey: requireKey)
        return resolved(kind, updated)
    }

    /// The settings a request starts with, or nil when no provider was ever selected.
    public func snapshot() -> ResolvedSettings? {
        lock.lock()
        defer { lock.unlock() }
        guard let active else { return nil }
        return resolved(active, settings[active] ?? ProviderSettings())
    }

    /// Settings of a provider other than the active one (for `listModels` with a `provider` param).
    public func snapshot(for kind: ProviderKind) -> ResolvedSettings {
        lock.lock()
        defer { lock.unlock() }
        return resolved(kind, settings[kind] ?? ProviderSettings())
    }

    private func preview(_ params: ConfigureParams, requireKey: Bool = true) throws(InvalidParams) -> (ProviderKind, ProviderSettings) {
        try params.validate()
        guard let kind = params.provider.value ?? active else {
            throw InvalidParams(field: "provider", "is required the first time: one of 'openai_compatible', 'openrouter', 'mock'")
        }
        var updated = settings[kind] ?? ProviderSettings()
        try updated.apply(params)
        let effective = resolved(kind, updated)
        if requireKey, kind == .openrouter, effective.apiKey == nil {
            throw InvalidParams(field: "api_key",
                                "is required for openrouter: pass api_key or set OPENROUTER_API_KEY in the worker's environment")
        }
        return (kind, updated)
    }

    private func resolved(_ kind: ProviderKind, _ stored: ProviderSettings) -> ResolvedSettings {
        ResolvedSettings(provider: kind, settings: stored, environment: environment)
    }
}
