import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Opens a connection to a provider's server before a request needs it, with the flavor's cheap GET: never a
/// completion, and not a model list either (the answer is read whole, so that the connection goes back to the
/// pool, and dropped: nothing is parsed or cached).
///
/// A pre-open started by `configure` is remembered until it ends, and a request to the same server waits for it,
/// then travels on the connection it opened instead of opening a second one beside it. The wait is bounded by
/// the pre-open's own limit, `connect_timeout_s`.
final class ConnectionWarmer: Sendable {
    private let flavor: any ProviderFlavor
    private let transports: TransportRouter
    private let logger: Logger
    /// Pre-opens still running, by base URL.
    private let running = Locked<[String: OneShotSignal]>([:])

    init(flavor: any ProviderFlavor, transports: TransportRouter, logger: Logger) {
        self.flavor = flavor
        self.transports = transports
        self.logger = logger
    }

    /// Starts opening a connection to `settings`' server and returns at once: registered before it returns, so a
    /// request read after the `configure` that called it waits for it. Its outcome is only logged.
    func preOpen(_ settings: ResolvedSettings) {
        guard let base = settings.baseURL else { return }
        let done = OneShotSignal()
        running.withLock { $0[base] = done }
        Task {
            if let report = try? await attempt(settings, tellingReuse: false) {
                if let error = report.error {
                    logger.info("could not pre-open a connection to \(base): \(error.message)")
                } else {
                    logger.debug(String(format: "pre-opened a connection to %@ (HTTP %d in %.1f ms)", base, report.status ?? 0, report.ms))
                }
            }
            running.withLock { running in
                if running[base] === done { running[base] = nil }
            }
            done.fire()
        }
    }

    /// Returns once no pre-open of the server at `base` is running (at once if none is), or when cancelled.
    func waitForPreOpen(of base: String?) async {
        guard let base else { return }
        guard let pending = running.withLock({ $0[base] }) else { return }
        logger.debugForCurrentRequest("waiting for the connection configure is opening to \(base) (at most connect_timeout_s)")
        let clock = RequestClock()
        await pending.wait()
        logger.debugForCurrentRequest(String(format: "waited %.1f ms for that connection", clock.elapsedMs))
    }

    /// Opens a connection to `settings`' server, or finds the pooled one still open. A failure is in the report;
    /// only a cancel is thrown.
    func warm(_ settings: ResolvedSettings) async throws -> WarmReport {
        await waitForPreOpen(of: settings.baseURL)
        try Task.checkCancellation()
        return try await attempt(settings, tellingReuse: true)
    }

    /// `tellingReuse`: find out whether the connection was reused (the socket transport knows; for URLSession, by
    /// counting the process's sockets before and after); a pre-open, which reports to nobody, skips the counting.
    private func attempt(_ settings: ResolvedSettings, tellingReuse: Bool) async throws -> WarmReport {
        var report = WarmReport(ok: false, provider: flavor.kind.rawValue, ms: 0, reused: nil, status: nil, error: nil)
        guard let baseText = settings.baseURL, let base = URL(string: baseText) else {
            report.error = ProbeReport.CheckError(ProviderError(.notConfigured, "No base_url is configured for \(flavor.kind.rawValue).",
                                                                provider: flavor.kind.rawValue))
            return report
        }
        var request = URLRequest(url: flavor.warmUpURL(base: base))
        request.httpMethod = "GET"
        ChatRequestBuilder(flavor: flavor).applyHeaders(to: &request, settings: settings, accept: "application/json")
        var timeouts = settings.timeouts
        // The answer is a few bytes: a server that takes longer than a connection may take is not worth waiting for.
        timeouts.total = timeouts.connect
        let client = transports.urlSession.client
        let before = client.activity
        let socketsBefore = tellingReuse ? TCPSocketCensus.current() : nil
        let clock = RequestClock()
        let call = UpstreamCall(transport: transports.transport(for: settings), request: request, timeouts: timeouts, streaming: false, provider: flavor.kind)
        do {
            let head = try await call.run {
                let head = try await call.head()
                _ = try await call.body()
                return head
            }
            report.ms = clock.elapsedMs
            report.ok = true
            report.status = head.status
            report.reused = call.exchange.reusedConnection
                ?? Self.reused(since: before, socketsBefore, now: client.activity, closing: head)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            report.error = ProbeReport.CheckError(ProviderError(error, provider: flavor.kind))
            report.ms = clock.elapsedMs
        }
        return report
    }

    /// Whether the request travelled on a connection that was open before it: true when the process gained no TCP
    /// socket while it ran. Only sound when no other request ran meanwhile (it could have opened one), and when the
    /// answer kept the connection (one closed after the answer may be gone before it is counted); nil otherwise.
    private static func reused(since before: (open: Int, started: Int), _ socketsBefore: Set<UInt64>?,
                               now: (open: Int, started: Int), closing head: UpstreamCall.Head) -> Bool? {
        let alone = before.open == 0 && now.started == before.started + 1
        let kept = head.headers["connection"]?.lowercased().contains("close") != true
        guard alone, kept, let socketsBefore, let socketsAfter = TCPSocketCensus.current() else { return nil }
        return socketsAfter.isSubset(of: socketsBefore)
    }
}
