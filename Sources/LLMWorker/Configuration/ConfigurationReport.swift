import Foundation

/// The result of `configure`: the effective configuration with every secret redacted.
struct ConfigurationReport: Encodable {
    let settings: ResolvedSettings

    enum CodingKeys: String, CodingKey {
        case provider, model, headers, temperature, routing, mock, transport
        case effectiveTransport = "effective_transport"
        case baseURL = "base_url"
        case apiKeySet = "api_key_set"
        case apiKeySource = "api_key_source"
        case maxTokens = "max_tokens"
        case appURL = "app_url"
        case appTitle = "app_title"
        case fallbackModels = "fallback_models"
        case stripThink = "strip_think"
        case recoverToolCalls = "recover_tool_calls"
        case connectTimeout = "connect_timeout_s"
        case firstTokenTimeout = "first_token_timeout_s"
        case idleTimeout = "idle_timeout_s"
        case requestTimeout = "timeout_s"
        case maxRetries = "max_retries"
        case maxRetryWait = "max_retry_wait_s"
    }

    func encode(to encoder: Encoder) throws {
        let s = settings
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(s.provider.rawValue, forKey: .provider)
        try c.encodeNullable(s.model, forKey: .model)
        try c.encodeNullable(s.baseURL, forKey: .baseURL)
        try c.encode(s.apiKey != nil, forKey: .apiKeySet)
        try c.encodeNullable(s.apiKeySource?.rawValue, forKey: .apiKeySource)
        // Header values often carry credentials of their own: only the names are reported.
        try c.encode(s.headers.mapValues { _ in "[redacted]" }, forKey: .headers)
        try c.encodeNullable(s.temperature, forKey: .temperature)
        try c.encodeNullable(s.maxTokens, forKey: .maxTokens)
        try c.encode(s.appURL, forKey: .appURL)
        try c.encode(s.appTitle, forKey: .appTitle)
        try c.encode(s.fallbackModels, forKey: .fallbackModels)
        try c.encodeNullable(s.routing, forKey: .routing)
        try c.encode(s.stripThink, forKey: .stripThink)
        try c.encode(s.recoverToolCalls, forKey: .recoverToolCalls)
        try c.encode(s.timeouts.connect, forKey: .connectTimeout)
        try c.encode(s.timeouts.firstToken, forKey: .firstTokenTimeout)
        try c.encode(s.timeouts.idle, forKey: .idleTimeout)
        try c.encode(s.timeouts.total, forKey: .requestTimeout)
        try c.encode(s.retry.maxRetries, forKey: .maxRetries)
        try c.encode(s.retry.maxRetryWait, forKey: .maxRetryWait)
        try c.encodeNullable(s.mock, forKey: .mock)
        try c.encode(s.transport.rawValue, forKey: .transport)
        try c.encodeNullable(s.effectiveTransport?.rawValue, forKey: .effectiveTransport)
    }
}
