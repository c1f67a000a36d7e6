struct ConfigureMethod: RPCMethod {
    static let name = "configure"

    func handle(_ params: ConfigureParams, call: CallContext) async throws -> ConfigurationReport {
        try apply(params, worker: call.worker)
    }

    /// Runs on the reader thread as the line arrives (see `ConfigurationStore`).
    func apply(_ params: ConfigureParams, worker: WorkerContext) throws -> ConfigurationReport {
        worker.redactor.register(params.apiKey.value)
        let settings = try worker.configuration.configure(params)
        worker.logger.info("configured provider \(settings.provider.rawValue), model \(settings.model ?? "(none)"), base_url \(settings.baseURL ?? "(none)")")
        return ConfigurationReport(settings: settings)
    }
}
