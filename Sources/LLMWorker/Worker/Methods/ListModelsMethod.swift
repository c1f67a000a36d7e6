import Foundation

struct ListModelsMethod: RPCMethod {
    static let name = "listModels"

    struct Params: Decodable, Sendable {
        var provider: String?
        var supportsTools: Bool?
        var refresh: Bool?

        enum CodingKeys: String, CodingKey {
            case provider, refresh
            case supportsTools = "supports_tools"
        }
    }

    func handle(_ params: Params, call: CallContext) async throws -> ModelList {
        let settings = try Self.settings(params, call)
        if settings.provider != .mock, settings.baseURL == nil {
            throw ProviderError(.notConfigured, "No base_url is configured for \(settings.provider.rawValue): call configure with base_url first.", provider: settings.provider.rawValue)
        }
        let query = ModelQuery(supportsTools: params.supportsTools, refresh: params.refresh ?? false)
        let key = ModelListCache.Key(provider: settings.provider, baseURL: settings.baseURL,
                                     keyFingerprint: settings.apiKey?.hashValue ?? 0,
                                     query: ModelQuery(supportsTools: params.supportsTools))
        let provider = call.worker.providers.provider(for: settings.provider)
        do {
            let (models, cached) = try await call.worker.modelCache.models(for: key, refresh: query.refresh) {
                try await provider.listModels(settings, query: query)
            }
            return ModelList(provider: settings.provider.rawValue, models: models, cached: cached)
        } catch {
            throw ChatRunner.providerError(error, provider: settings.provider)
        }
    }

    private static func settings(_ params: Params, _ call: CallContext) throws -> ResolvedSettings {
        if let name = params.provider {
            guard let kind = ProviderKind(rawValue: name) else {
                throw InvalidParams(field: "provider", "'\(name)' is not a provider; use 'openai_compatible', 'openrouter' or 'mock'")
            }
            return call.configuration.settings(for: kind)
        }
        guard let settings = call.settings else {
            throw ProviderError(.notConfigured, "No provider is configured: call configure first, or pass provider to listModels.")
        }
        return settings
    }
}
