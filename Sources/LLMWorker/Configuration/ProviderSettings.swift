import Foundation

/// What one provider remembers between `configure` calls. nil means "the default".
public struct ProviderSettings: Sendable, Equatable {
    public var model: String?
    public var baseURL: String?
    public var apiKey: String?
    public var headers: [String: String] = [:]
    public var temperature: Double?
    public var maxTokens: Int?
    public var appURL: String?
    public var appTitle: String?
    public var fallbackModels: [String] = []
    public var routing: [String: JSONValue]?
    public var stripThink: Bool?
    public var recoverToolCalls: Bool?
    public var connectTimeout: Double?
    public var firstTokenTimeout: Double?
    public var idleTimeout: Double?
    public var requestTimeout: Double?
    public var maxRetries: Int?
    public var maxRetryWait: Double?
    public var mock: [String: JSONValue]?
    public var transport: TransportMode?

    public init() {}

    mutating func apply(_ p: ConfigureParams) throws(InvalidParams) {
        model = p.model.apply(to: model)
        if case .set(let url) = p.baseURL {
            baseURL = try ParamRules.checkBaseURL(url, field: "base_url")
        } else {
            baseURL = p.baseURL.apply(to: baseURL)
        }
        apiKey = p.apiKey.apply(to: apiKey)
        headers = p.headers.apply(to: headers) ?? [:]
        temperature = p.temperature.apply(to: temperature)
        maxTokens = p.maxTokens.apply(to: maxTokens)
        appURL = p.appURL.apply(to: appURL)
        appTitle = p.appTitle.apply(to: appTitle)
        fallbackModels = p.fallbackModels.apply(to: fallbackModels) ?? []
        routing = p.routing.apply(to: routing)
        stripThink = p.stripThink.apply(to: stripThink)
        recoverToolCalls = p.recoverToolCalls.apply(to: recoverToolCalls)
        connectTimeout = p.connectTimeout.apply(to: connectTimeout)
        firstTokenTimeout = p.firstTokenTimeout.apply(to: firstTokenTimeout)
        idleTimeout = p.idleTimeout.apply(to: idleTimeout)
        requestTimeout = p.requestTimeout.apply(to: requestTimeout)
        maxRetries = p.maxRetries.apply(to: maxRetries)
        maxRetryWait = p.maxRetryWait.apply(to: maxRetryWait)
        mock = p.mock.apply(to: mock)
        transport = p.transport.apply(to: transport)
    }
}

/// Where an API key came from, reported as `api_key_source`.
public enum APIKeySource: String, Sendable {
    case configure
    case env
}

/// The settings a request runs with: a provider's stored settings with every default and fallback filled in.
/// Taken as a snapshot when a request starts, so a later `configure` never changes a request in flight.
public struct ResolvedSettings: Sendable {
    public var provider: ProviderKind
    public var model: String?
    public var baseURL: String?
    public var apiKey: String?
    public var apiKeySource: APIKeySource?
    public var headers: [String: String]
    public var temperature: Double?
    public var maxTokens: Int?
    public var appURL: String
    public var appTitle: String
    public var fallbackModels: [String]
    public var routing: [String: JSONValue]?
    public var stripThink: Bool
    public var recoverToolCalls: Bool
    public var timeouts: Timeouts
    public var retry: RetrySettings
    public var mock: [String: JSONValue]?
    /// As configured, else as `CAAL_LLM_WORKER_TRANSPORT` says, else `auto`.
    public var transport: TransportMode
    /// What carries this provider's requests (nil for the mock, which makes none).
    public var effectiveTransport: TransportKind?

    public init(provider: ProviderKind, settings s: ProviderSettings, environment: [String: String]) {
        self.provider = provider
        model = s.model ?? (provider == .mock ? "mock-1" : nil)
        baseURL = s.baseURL ?? (provider == .openrouter ? ProviderKind.openRouterDefaultBaseURL : nil)
        if let key = s.apiKey, !key.isEmpty {
            apiKey = key
            apiKeySource = .configure
        } else if let name = provider.apiKeyEnvironmentVariable, let key = environment[name], !key.isEmpty {
            apiKey = key
            apiKeySource = .env
        }
        headers = s.headers
        temperature = s.temperature
        maxTokens = s.maxTokens
        appURL = s.appURL ?? ProviderKind.defaultAppURL
        appTitle = s.appTitle ?? ProviderKind.defaultAppTitle
        fallbackModels = s.fallbackModels
        routing = s.routing
        stripThink = s.stripThink ?? true
        recoverToolCalls = s.recoverToolCalls ?? true
        timeouts = Timeouts(connect: s.connectTimeout ?? Timeouts.defaults.connect,
                            firstToken: s.firstTokenTimeout ?? Timeouts.defaults.firstToken,
                            idle: s.idleTimeout ?? Timeouts.defaults.idle,
                            total: s.requestTimeout ?? Timeouts.defaults.total)
        retry = RetrySettings(maxRetries: s.maxRetries ?? RetrySettings.defaults.maxRetries,
                              maxRetryWait: s.maxRetryWait ?? RetrySettings.defaults.maxRetryWait)
        mock = s.mock
        transport = s.transport ?? TransportMode.fromEnvironment(environment) ?? .auto
        effectiveTransport = provider == .mock ? nil
            : TransportKind.chosen(by: transport, for: baseURL, proxies: ProxyEnvironment(environment))
    }
}

public struct Timeouts: Sendable, Equatable {
    public var connect: Double
    public var firstToken: Double
    public var idle: Double
    public var total: Double

    public static let defaults = Timeouts(connect: 10, firstToken: 30, idle: 30, total: 120)
}

public struct RetrySettings: Sendable, Equatable {
    public var maxRetries: Int
    public var maxRetryWait: Double

    public static let defaults = RetrySettings(maxRetries: 2, maxRetryWait: 10)
}
