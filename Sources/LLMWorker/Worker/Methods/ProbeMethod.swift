struct ProbeMethod: RPCMethod {
    static let name = "probe"

    func handle(_ params: ConfigureParams, call: CallContext) async throws -> ProbeReport {
        call.worker.redactor.register(params.apiKey.value)
        let settings = try call.worker.configuration.previewResolved(params, requireKey: false)
        let provider = call.worker.providers.provider(for: settings.provider)
        let limit = min(settings.timeouts.total, 30)
        return await Probe(provider: provider, settings: settings, memory: call.worker.probeMemory, checkLimit: limit).run()
    }
}
