import Foundation

/// The worker's configuration: which provider is active and what each provider remembers.
/// `configure` validates a whole call before changing anything, so an invalid call changes nothing.
/// Synchronous on purpose: the dispatcher applies `configure` and takes each request's snapshot on the reader
/// thread, in input order, so a request always runs with every `configure` sent before it and none sent after.
public final class ConfigurationStore: Sendable {
    private let state: Locked<ConfigurationSnapshot>

    public init(environment: [String: String]) {
        state = Locked(ConfigurationSnapshot(environment: environment))
    }

    /// Applies `params` and returns the effective configuration, or throws without changing anything.
    @discardableResult
    public func configure(_ params: ConfigureParams) throws(InvalidParams) -> ResolvedSettings {
        try state.withLock { (state) throws(InvalidParams) in
            let (kind, updated) = try state.applying(params)
            state.active = kind
            state.stored[kind] = updated
            return state.settings(for: kind)
        }
    }

    /// The whole configuration as it is now, for a request whose line was just read.
    public func snapshot() -> ConfigurationSnapshot {
        state.withLock { $0 }
    }
}
