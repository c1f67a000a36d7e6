/// Opens a connection to the provider's server, or finds the pooled one still open, ahead of a request that must
/// not wait for one (the server may have closed an idle connection since the last turn).
struct WarmMethod: AsyncRPCMethod {
    static let name = "warm"

    struct Params: Decodable, Sendable {
        var provider: String?
    }

    func handle(_ params: Params, request: RequestContext) async throws -> WarmReport {
        let settings = try request.settings(forProvider: params.provider, method: Self.name)
        let report: WarmReport
        do {
            report = try await request.services.providers.provider(for: settings.provider).warm(settings)
        } catch {
            throw ProviderError(error, provider: settings.provider)
        }
        // A server may echo the key back in its error text: scrubbed as the dispatcher scrubs errors.
        return report.scrubbed(request.services.redactor.scrub)
    }
}
