import Foundation

struct ListModelsMethod: AsyncRPCMethod {
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

    func handle(_ params: Params, request: RequestContext) async throws -> ModelList {
        let settings = try request.settings(forProvider: params.provider, method: Self.name)
        let query = ModelQuery(supportsTools: params.supportsTools, refresh: params.refresh ?? false)
        let key = ModelListCache.Key(provider: settings.provider, baseURL: settings.baseURL,
                                     keyFingerprint: settings.apiKey?.hashValue ?? 0,
                                     query: ModelQuery(supportsTools: params.supportsTools))
        let provider = request.services.providers.provider(for: settings.provider)
        do {
            let (models, cached) = try await request.services.modelCache.models(for: key, refresh: query.refresh) {
                try await provider.listModels(settings, query: query)
            }
            return ModelList(provider: settings.provider.rawValue, models: models, cached: cached)
        } catch {
            throw ProviderError(error, provider: settings.provider)
        }
    }
}
