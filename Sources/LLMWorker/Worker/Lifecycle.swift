import Foundation

/// How the worker ends: end of input, a signal, the `shutdown` method, or the client going away.
/// The first three let requests in flight finish within a grace period, cancel what is left, write every
/// answer and exit 0; a broken stdout cancels everything at once, since no answer can be delivered.
final class Lifecycle: Sendable {
    private let shuttingDown = Locked(false)
    private let exiting = Locked(false)
    private let exitProcess: @Sendable (Int32) -> Void

    init(exitProcess: @escaping @Sendable (Int32) -> Void = { exit($0) }) {
        self.exitProcess = exitProcess
    }

    var isShuttingDown: Bool {
        shuttingDown.withLock { $0 }
    }

    /// Stops new work, waits up to `grace` seconds for the requests in flight, then cancels the rest and waits
    /// briefly for their cancelled answers. `keeping` is the request asking for this (it must not wait for itself).
    func drainForShutdown(_ services: Services, grace: Double, keeping token: InFlightRequests.Token?) async {
        markShuttingDown()
        if await services.inFlight.waitUntilOnly(token, timeout: grace) { return }
        services.logger.warn("shutdown grace of \(grace) s is over: cancelling \(services.inFlight.others(than: token)) request(s)")
        services.inFlight.cancelAll(except: token, reason: "the end of the shutdown grace")
        _ = await services.inFlight.waitUntilOnly(token, timeout: 2)
    }

    /// Called on the reader thread as soon as the end is known (a `shutdown` line, the end of input, a signal):
    /// the lines read after it are refused, the ones read before are served.
    func markShuttingDown() {
        shuttingDown.withLock { $0 = true }
    }

    /// End of input, or SIGTERM/SIGINT: finish, flush, exit 0. `exitWithin`: a signal asks for an exit even when
    /// the client has stopped reading (answers blocked on a full stdout pipe would otherwise keep the process
    /// alive for ever): after that many seconds the worker exits whatever is left unwritten.
    func finish(_ services: Services, grace: Double, reason: String, exitWithin: Double? = nil) {
        // When the client died, stdin ended and stdout broke together: no answer can be delivered, so stop the
        // upstream requests now instead of letting them generate for the whole grace period.
        if services.writer.isReaderGone {
            clientGone(services)
            return
        }
        markShuttingDown()
        services.logger.info("\(reason): finishing \(services.inFlight.count) request(s) in flight")
        if let exitWithin {
            DispatchQueue.global().asyncAfter(deadline: .now() + exitWithin) { [self] in
                services.logger.warn("\(reason): not everything was answered and written within \(exitWithin) s (is the client still reading?); exiting")
                exitOnce(0)
            }
        }
        Task {
            await drainForShutdown(services, grace: grace, keeping: nil)
            await services.writer.drain()
            exitOnce(0)
        }
    }

    /// After `shutdown` was answered: exit once that answer is written.
    func exitAfterShutdownAnswer(_ services: Services) {
        Task {
            _ = await services.inFlight.waitUntilOnly(nil, timeout: 5)
            await services.writer.drain()
            exitOnce(0)
        }
    }

    /// The client stopped reading (EPIPE): nothing can be answered any more, so stop every upstream request now.
    func clientGone(_ services: Services) {
        services.logger.warn("stdout is closed (the client has gone): cancelling \(services.inFlight.count) request(s) and exiting")
        services.inFlight.cancelAll(reason: "the client going away (stdout closed)")
        exitOnce(0)
    }

    /// Several paths may decide to exit at the same moment (the end of input, a `shutdown` answer, a signal's
    /// limit, a broken stdout): only the first calls `exit`, which is not safe to call twice at once.
    private func exitOnce(_ code: Int32) {
        let first = exiting.withLock { exiting in
            defer { exiting = true }
            return !exiting
        }
        if first { exitProcess(code) }
    }
}
