struct ProbeMethod: AsyncRPCMethod {
    static let name = "probe"

    func handle(_ params: ConfigureParams, request: RequestContext) async throws -> ProbeReport {
        request.services.redactor.register(secretsOf: params)
        let settings = try request.configuration.preview(params, requireKey: false)
        let provider = request.services.providers.provider(for: settings.provider)
        let limit = min(settings.timeouts.total, 30)
        let report = try await Probe(provider: provider, settings: settings, memory: request.services.probeMemory, checkLimit: limit).run()
        // A server may echo the key back in its error text: scrubbed as the dispatcher scrubs errors.
        return report.scrubbed(request.services.redactor.scrub)
    }
}
