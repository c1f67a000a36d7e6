/// The providers a client can select with `configure`.
public enum ProviderKind: String, Sendable, CaseIterable, Codable {
    case openaiCompatible = "openai_compatible"
    case openrouter
    case mock

    /// The environment variable an API key falls back to when `configure` gave none.
    public var apiKeyEnvironmentVariable: String? {
        switch self {
        case .openaiCompatible: return "OPENAI_API_KEY"
        case .openrouter: return "OPENROUTER_API_KEY"
        case .mock: return nil
        }
    }

    public static let openRouterDefaultBaseURL = "https://openrouter.ai/api/v1"
    public static let defaultAppURL = "https://github.com/caal-project/caal"
    public static let defaultAppTitle = "CAAL Voice Assistant"
}
