import Foundation

/// What one server family adds to the shared OpenAI-compatible engine: headers, request fields, how its errors
/// read and how its model list looks. The engine does everything else the same way for all.
protocol ProviderFlavor: Sendable {
    var kind: ProviderKind { get }
    var dialect: ErrorDialect { get }
    func extraHeaders(_ settings: ResolvedSettings) -> [String: String]
    func extraBody(_ request: ProviderRequest, model: String) -> [String: JSONValue]
    func modelsURL(base: URL, query: ModelQuery) -> URL
    /// What a connection is opened with ahead of the first request: a GET with a small answer that every server
    /// of the family has (an error status would do too, but some servers close the connection after one).
    func warmUpURL(base: URL) -> URL
    func parseModels(_ body: Data, query: ModelQuery) throws -> [ModelInfo]
}

/// Any OpenAI-compatible server: LM Studio, vLLM, llama.cpp, LocalAI, LiteLLM, Ollama's /v1.
struct GenericFlavor: ProviderFlavor {
    var kind: ProviderKind { .openaiCompatible }
    var dialect: ErrorDialect { .openAICompatible }

    func extraHeaders(_ settings: ResolvedSettings) -> [String: String] { [:] }

    func extraBody(_ request: ProviderRequest, model: String) -> [String: JSONValue] { [:] }

    func modelsURL(base: URL, query: ModelQuery) -> URL {
        base.appendingPathComponent("models")
    }

    /// The model list: the one GET every OpenAI-compatible server answers, and short on a local server.
    func warmUpURL(base: URL) -> URL {
        base.appendingPathComponent("models")
    }

    func parseModels(_ body: Data, query: ModelQuery) throws -> [ModelInfo] {
        let models = try ModelListParser.parseOpenAICompatible(body, provider: kind)
        // Most local servers say nothing about tools: only models known not to support them are dropped.
        guard query.supportsTools == true else { return models }
        return models.filter { $0.supportsTools != false }
    }
}
