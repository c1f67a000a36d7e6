/// Applied on the reader thread as its line is read, so the requests after it see it and those before do not
/// (see `ConfigurationStore`).
struct ConfigureMethod: InlineRPCMethod {
    static let name = "configure"
    static let servedWhileShuttingDown = true

    func handle(_ params: ConfigureParams, services: Services) throws -> ConfigurationReport {
        services.redactor.register(secretsOf: params)
        let before = services.configuration.snapshot()
        let settings = try services.configuration.configure(params)
        let transport = settings.effectiveTransport.map { ", transport \($0.rawValue) (\(settings.transport.rawValue))" } ?? ""
        services.logger.info("configured provider \(settings.provider.rawValue), model \(settings.model ?? "(none)"), base_url \(settings.baseURL ?? "(none)")\(transport)")
        services.prepareActiveProvider(previously: before)
        return ConfigurationReport(settings: settings)
    }
}

extension Services {
    /// After a configuration change: the active provider opens its connection in the background, unless its server
    /// is the one it already had (same provider, same base_url), whose connection is already open or on its way.
    func prepareActiveProvider(previously before: ConfigurationSnapshot) {
        guard let settings = configuration.snapshot().current else { return }
        if before.active == settings.provider, before.current?.baseURL == settings.baseURL,
           before.current?.effectiveTransport == settings.effectiveTransport { return }
        providers.provider(for: settings.provider).prepare(settings)
    }
}

extension Redactor {
    /// The key and the header values of a `configure` or `probe` request (an `Authorization` or `api-key` header
    /// set by hand is as secret as the key): a server that echoes them back gets them redacted.
    func register(secretsOf params: ConfigureParams) {
        register(params.apiKey.value)
        for value in params.headers.value?.values ?? [:].values { register(value) }
    }
}
