import Foundation

/// Params of `configure` (and of `probe`, which applies them without saving). Every field is optional;
/// `null` puts a field back to its default.
public struct ConfigureParams: Decodable, Sendable {
    public var provider: Patch<ProviderKind> = .keep
    public var model: Patch<String> = .keep
    public var baseURL: Patch<String> = .keep
    public var apiKey: Patch<String> = .keep
    public var headers: Patch<[String: String]> = .keep
    public var temperature: Patch<Double> = .keep
    public var maxTokens: Patch<Int> = .keep
    public var appURL: Patch<String> = .keep
    public var appTitle: Patch<String> = .keep
    public var fallbackModels: Patch<[String]> = .keep
    public var routing: Patch<[String: JSONValue]> = .keep
    public var stripThink: Patch<Bool> = .keep
    public var recoverToolCalls: Patch<Bool> = .keep
    public var connectTimeout: Patch<Double> = .keep
    public var firstTokenTimeout: Patch<Double> = .keep
    public var idleTimeout: Patch<Double> = .keep
    public var requestTimeout: Patch<Double> = .keep
    public var maxRetries: Patch<Int> = .keep
    public var maxRetryWait: Patch<Double> = .keep
    public var mock: Patch<[String: JSONValue]> = .keep
    public var transport: Patch<TransportMode> = .keep

    enum CodingKeys: String, CodingKey {
        case provider, model, headers, temperature, routing, mock, transport
        case baseURL = "base_url"
        case apiKey = "api_key"
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

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        provider = try Self.decodeProvider(c)
        model = try c.decodePatch(String.self, forKey: .model)
        baseURL = try c.decodePatch(String.self, forKey: .baseURL)
        apiKey = try c.decodePatch(String.self, forKey: .apiKey)
        headers = try c.decodePatch([String: String].self, forKey: .headers)
        temperature = try c.decodePatch(Double.self, forKey: .temperature)
        maxTokens = try c.decodeIntegerPatch(forKey: .maxTokens)
        appURL = try c.decodePatch(String.self, forKey: .appURL)
        appTitle = try c.decodePatch(String.self, forKey: .appTitle)
        fallbackModels = try c.decodePatch([String].self, forKey: .fallbackModels)
        routing = try c.decodePatch([String: JSONValue].self, forKey: .routing)
        stripThink = try c.decodePatch(Bool.self, forKey: .stripThink)
        recoverToolCalls = try c.decodePatch(Bool.self, forKey: .recoverToolCalls)
        connectTimeout = try c.decodePatch(Double.self, forKey: .connectTimeout)
        firstTokenTimeout = try c.decodePatch(Double.self, forKey: .firstTokenTimeout)
        idleTimeout = try c.decodePatch(Double.self, forKey: .idleTimeout)
        requestTimeout = try c.decodePatch(Double.self, forKey: .requestTimeout)
        maxRetries = try c.decodeIntegerPatch(forKey: .maxRetries)
        maxRetryWait = try c.decodePatch(Double.self, forKey: .maxRetryWait)
        mock = try c.decodePatch([String: JSONValue].self, forKey: .mock)
        transport = try Self.decodeTransport(c)
    }

    private static func decodeProvider(_ c: KeyedDecodingContainer<CodingKeys>) throws -> Patch<ProviderKind> {
        switch try c.decodePatch(String.self, forKey: .provider) {
        case .keep: return .keep
        case .reset: throw InvalidParams(field: "provider", "may not be null")
        case .set(let name):
            guard let kind = ProviderKind(rawValue: name) else {
                let known = ProviderKind.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
                throw InvalidParams(field: "provider", "'\(name)' is not a provider; use one of \(known)")
            }
            return .set(kind)
        }
    }

    private static func decodeTransport(_ c: KeyedDecodingContainer<CodingKeys>) throws -> Patch<TransportMode> {
        switch try c.decodePatch(String.self, forKey: .transport) {
        case .keep: return .keep
        case .reset: return .reset
        case .set(let name):
            guard let mode = TransportMode(rawValue: name) else {
                let known = TransportMode.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
                throw InvalidParams(field: "transport", "'\(name)' is not a transport; use one of \(known)")
            }
            return .set(mode)
        }
    }

    /// Range and format checks that do not depend on the current configuration.
    public func validate() throws(InvalidParams) {
        try ParamRules.checkTemperature(temperature.value, field: "temperature")
        try ParamRules.checkMaxTokens(maxTokens.value, field: "max_tokens")
        if let url = baseURL.value { _ = try ParamRules.checkBaseURL(url, field: "base_url") }
        if let url = appURL.value, url.isEmpty { throw InvalidParams(field: "app_url", "may not be empty") }
        // Both are sent as OpenRouter header values: a line break would end the header (and it was silently dropped).
        for (field, value) in [("app_url", appURL.value), ("app_title", appTitle.value)] {
            if let value, ParamRules.hasLineBreak(value) {
                throw InvalidParams(field: field, "may not contain line breaks")
            }
        }
        try ParamRules.checkPositive(connectTimeout.value, field: "connect_timeout_s")
        try ParamRules.checkPositive(firstTokenTimeout.value, field: "first_token_timeout_s")
        try ParamRules.checkPositive(idleTimeout.value, field: "idle_timeout_s")
        try ParamRules.checkPositive(requestTimeout.value, field: "timeout_s")
        if let wait = maxRetryWait.value, !(wait >= 0 && wait.isFinite) {
            throw InvalidParams(field: "max_retry_wait_s", "must be zero or a positive number of seconds, got \(wait)")
        }
        if let retries = maxRetries.value, !(0...10).contains(retries) {
            throw InvalidParams(field: "max_retries", "must be an integer from 0 to 10, got \(retries)")
        }
        for (name, value) in (headers.value ?? [:]).sorted(by: { $0.key < $1.key }) {
            try ParamRules.checkHeaderName(name, field: "headers.\(name)")
            if ParamRules.hasLineBreak(value) {
                throw InvalidParams(field: "headers.\(name)", "may not contain line breaks")
            }
        }
        if let key = apiKey.value, ParamRules.hasLineBreak(key) {
            throw InvalidParams(field: "api_key", "may not contain line breaks")
        }
    }
}

extension ParamRules {
    /// `base_url` must be http(s) with a host; trailing slashes are dropped, nothing else is changed.
    public static func checkBaseURL(_ text: String, field: String) throws(InvalidParams) -> String {
        var trimmed = text.trimmingCharacters(in: .whitespaces)
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased() else {
            throw InvalidParams(field: field, "must be an http:// or https:// URL, got '\(text)'")
        }
        guard scheme == "http" || scheme == "https" else {
            throw InvalidParams(field: field, "must use http or https, not '\(scheme)'")
        }
        guard let host = components.host, !host.isEmpty else {
            throw InvalidParams(field: field, "must name a host, got '\(text)'")
        }
        return trimmed
    }

    /// CR, LF or NUL anywhere. Checked on scalars: "\r\n" is one `Character`, equal to neither "\r" nor "\n".
    static func hasLineBreak(_ value: String) -> Bool {
        value.unicodeScalars.contains { $0 == "\r" || $0 == "\n" || $0 == "\0" }
    }

    static func checkHeaderName(_ name: String, field: String) throws(InvalidParams) {
        let allowed = CharacterSet(charactersIn: "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        guard !name.isEmpty, name.unicodeScalars.allSatisfy(allowed.contains) else {
            throw InvalidParams(field: field, "is not a valid HTTP header name")
        }
    }
}
