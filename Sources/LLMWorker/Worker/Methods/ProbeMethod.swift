struct ProbeMethod: AsyncRPCMethod {
    static let name = "probe"

    func handle(_ params: ConfigureParams, call: CallContext) async throws -> ProbeReport {
        call.worker.redactor.register(secretsOf: params)
        let settings = try call.configuration.preview(params, requireKey: false)
        let provider = call.worker.providers.provider(for: settings.provider)
        let limit = min(settings.timeouts.total, 30)
        let report = try await Probe(provider: provider, settings: settings, memory: call.worker.probeMemory, checkLimit: limit).run()
        // A server may echo the key back in its error text: scrubbed as the dispatcher scrubs errors.
        return report.scrubbed(call.worker.redactor.scrub)
    }
}
