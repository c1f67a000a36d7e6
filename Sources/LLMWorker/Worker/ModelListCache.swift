import Foundation

/// Model lists by provider, base URL, key and filter, for 10 minutes. Two identical calls at the same time
/// share one upstream request. Each caller can be cancelled on its own; the shared request is cancelled (and its
/// connection closed) when no caller is left waiting for it.
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

    /// One upstream request and the callers waiting for it.
    private final class Flight {
        var task: Task<Void, Never>?
        var waiters: [Int: CheckedContinuation<[ModelInfo], Error>] = [:]
    }

    private var entries: [Key: Entry] = [:]
    private var inFlight: [Key: Flight] = [:]
    private var nextWaiter = 0
    private let lifetime: TimeInterval
    private let logger: Logger?

    init(lifetime: TimeInterval = 600, logger: Logger? = nil) {
        self.lifetime = lifetime
        self.logger = logger
    }

    /// Returns the models and whether they came from the cache.
    func models(for key: Key, refresh: Bool, fetch: @escaping @Sendable () async throws -> [ModelInfo]) async throws -> ([ModelInfo], Bool) {
        if !refresh, let entry = entries[key], Date().timeIntervalSince(entry.fetchedAt) < lifetime {
            return (entry.models, true)
        }
        let flight: Flight
        if let running = inFlight[key] {
            flight = running
            logger?.debug("listModels: sharing the \(key.provider.rawValue) model list request already in flight")
        } else {
            flight = Flight()
            inFlight[key] = flight
            flight.task = Task {
                let result: Result<[ModelInfo], Error>
                do { result = .success(try await fetch()) } catch { result = .failure(error) }
                self.complete(key, flight, result)
            }
        }
        nextWaiter += 1
        let waiter = nextWaiter
        let models = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[ModelInfo], Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                    abandonIfUnwanted(key, flight)
                } else {
                    flight.waiters[waiter] = continuation
                }
            }
        } onCancel: {
            Task { await self.cancel(waiter, key: key) }
        }
        return (models, false)
    }

    private func complete(_ key: Key, _ flight: Flight, _ result: Result<[ModelInfo], Error>) {
        if inFlight[key] === flight { inFlight[key] = nil }
        if case .success(let models) = result { entries[key] = Entry(models: models, fetchedAt: Date()) }
        let waiters = flight.waiters.values
        flight.waiters.removeAll()
        for waiter in waiters { waiter.resume(with: result) }
    }

    /// A flight with waiters is always the one in `inFlight` (it leaves when it completes or has no waiter).
    private func cancel(_ waiter: Int, key: Key) {
        guard let flight = inFlight[key] else { return }
        flight.waiters.removeValue(forKey: waiter)?.resume(throwing: CancellationError())
        abandonIfUnwanted(key, flight)
    }

    /// Nobody waits for this request any more: stop it, and let the next call start a new one.
    private func abandonIfUnwanted(_ key: Key, _ flight: Flight) {
        guard flight.waiters.isEmpty else { return }
        if inFlight[key] === flight { inFlight[key] = nil }
        flight.task?.cancel()
    }
}
