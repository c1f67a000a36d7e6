struct ProbeMethod: RPCMethod {
    static let name = "probe"

    func handle(_ params: ConfigureParams, call: CallContext) async throws -> ProbeReport {
        call.worker.redactor.register(secretsOf: params)
        let settings = try call.worker.configuration.previewResolved(params, requireKey: false)
        let provider = call.worker.providers.provider(for: settings.provider)
        let limit = min(settings.timeouts.total, 30)
        let report = await Probe(provider: provider, settings: settings, memory: call.worker.probeMemory, checkLimit: limit).run()
        return report.redacted(by: call.worker.redactor)
    }
}

extension ProbeReport {
    /// The checks quote the server's errors, which may echo a key or a header value back: scrubbed like the
    /// error of any other request.
    func redacted(by redactor: Redactor) -> ProbeReport {
        var report = self
        for path in [\Checks.models, \Checks.chat, \Checks.stream, \Checks.tools] {
            if let message = report.checks[keyPath: path].error?.message {
                report.checks[keyPath: path].error?.message = redactor.scrub(message)
            }
        }
        report.warnings = warnings.map(redactor.scrub)
        return report
    }
}
