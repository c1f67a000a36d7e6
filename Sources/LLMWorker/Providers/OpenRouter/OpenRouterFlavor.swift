import Foundation

/// OpenRouter on top of the shared engine: attribution headers, fallback models and routing preferences in the
/// request, its error conventions, and its model list with pricing and tool support.
struct OpenRouterFlavor: ProviderFlavor {
    var kind: ProviderKind { .openrouter }
    var dialect: ErrorDialect { .openRouter }

    func extraHeaders(_ settings: ResolvedSettings) -> [String: String] {
        // X-OpenRouter-Title is the current name; X-Title is still read by older deployments.
        ["HTTP-Referer": settings.appURL, "X-OpenRouter-Title": settings.appTitle, "X-Title": settings.appTitle]
    }

    func extraBody(_ request: ProviderRequest, model: String) -> [String: JSONValue] {
        var body: [String: JSONValue] = [:]
        let fallbacks = request.settings.fallbackModels.filter { $0 != model }
        if !fallbacks.isEmpty {
            body["models"] = .array(([model] + fallbacks).map(JSONValue.string))
        }
        if let routing = request.settings.routing { body["provider"] = .object(routing) }
        return body
    }

    func modelsURL(base: URL, query: ModelQuery) -> URL {
        let url = base.appendingPathComponent("models")
        guard query.supportsTools == true, var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return url }
        components.queryItems = [URLQueryItem(name: "supported_parameters", value: "tools")]
        return components.url ?? url
    }

    /// `{"data":{"count":N}}`, public like the model list, which is megabytes.
    func warmUpURL(base: URL) -> URL {
        base.appendingPathComponent("models").appendingPathComponent("count")
    }

    func parseModels(_ body: Data, query: ModelQuery) throws -> [ModelInfo] {
        try ModelListParser.parseOpenRouter(body, supportsTools: query.supportsTools)
    }
}
