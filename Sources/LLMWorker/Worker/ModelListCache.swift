import Foundation

/// Model lists by provider, base URL, key and filter, for 10 minutes. Two identical calls at the same time
/// share one upstream request.
actor ModelListCache {
    struct Key: Hashable {
        let provider: ProviderKind
        let baseURL: String?
        let keyFingerprint: Int
        let query: ModelQuery
    }

    private struct Entry {
        let models: [ModelInfo]
        let fetchedAt: Date
    }

    private var entries: [Key: Entry] = [:]
    private var inFlight: [Key: Task<[ModelInfo], Error>] = [:]
    private let lifetime: TimeInterval

    init(lifetime: TimeInterval = 600) {
        self.lifetime = lifetime
    }

    /// Returns the models and whether they came from the cache.
    func models(for key: Key, refresh: Bool, fetch: @escaping @Sendable () async throws -> [ModelInfo]) async throws -> ([ModelInfo], Bool) {
        if !refresh, let entry = entries[key], Date().timeIntervalSince(entry.fetchedAt) < lifetime {
            return (entry.models, true)
        }
        if let running = inFlight[key] {
            return (try await running.value, false)
        }
        let task = Task { try await fetch() }
        inFlight[key] = task
        defer { inFlight[key] = nil }
        let models = try await task.value
        entries[key] = Entry(models: models, fetchedAt: Date())
        return (models, false)
    }
}
