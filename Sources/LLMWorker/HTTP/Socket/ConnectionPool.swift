import Foundation

/// Keep-alive connections per endpoint, on the loop thread (checked in debug builds at every entry point).
///
/// - An idle connection is reused most-recently-used first, after a check that the server has neither closed it
///   nor sent anything (`isQuietAndOpen`); it is closed as soon as the server closes it (watched while idle), or
///   after `maxIdleSeconds`.
/// - At most `maxConnectionsPerEndpoint` connections (open, opening or idle) per endpoint; requests beyond wait,
///   in order, for one to come free. At most `maxIdlePerEndpoint` are kept idle.
/// - A connection opened ahead of a request (`preconnect`) is given to the first request that needs one, even
///   while it is still connecting.
/// - `fresh` asks for a connection never used before (the one resend after a reused connection died).
final class ConnectionPool {
    struct Limits: Sendable {
        var maxConnectionsPerEndpoint = 512
        var maxIdlePerEndpoint = 64
        var maxIdleSeconds: Double = 30
    }

    typealias Grant = (Result<SocketConnection, TransportError>) -> Void
    typealias Opener = (HTTPEndpoint, @escaping (Result<SocketConnection, TransportError>) -> Void) -> (() -> Void)

    /// A claim on a connection, to withdraw with `withdraw` when the request ends before it is granted.
    final class Claim {
        fileprivate let endpoint: HTTPEndpoint
        fileprivate let fresh: Bool
        fileprivate var grant: Grant?

        fileprivate init(endpoint: HTTPEndpoint, fresh: Bool, grant: @escaping Grant) {
            self.endpoint = endpoint
            self.fresh = fresh
            self.grant = grant
        }
    }

    /// A connection being opened; `claim` is the request it is for (nil: a spare, opened ahead).
    private final class Opening {
        var claim: Claim?
        var cancel: (() -> Void)?
    }

    private struct Host {
        var idle: [SocketConnection] = []
        var openings: [Opening] = []
        var waiting: [Claim] = []
        /// Connections open or opening, idle ones included.
        var count = 0
    }

    let limits: Limits
    private let context: LoopContext
    private let open: Opener
    private var hosts: [HTTPEndpoint: Host] = [:]

    init(limits: Limits, context: LoopContext, open: @escaping Opener) {
        self.limits = limits
        self.context = context
        self.open = open
    }

    /// Grants a connection for `endpoint` (possibly at once, before returning).
    @discardableResult
    func acquire(_ endpoint: HTTPEndpoint, fresh: Bool, _ grant: @escaping Grant) -> Claim {
        context.assertOnLoopThread()
        let claim = Claim(endpoint: endpoint, fresh: fresh, grant: grant)
        if !fresh, let connection = takeIdle(endpoint) {
            give(connection, to: claim)
        } else if let spare = hosts[endpoint]?.openings.first(where: { $0.claim == nil }) {
            spare.claim = claim
        } else if hosts[endpoint, default: Host()].count < limits.maxConnectionsPerEndpoint {
            startOpening(endpoint, for: claim)
        } else {
            hosts[endpoint, default: Host()].waiting.append(claim)
        }
        return claim
    }

    /// The request no longer wants a connection: a queued claim leaves the queue; a connection being opened for it
    /// becomes a spare.
    func withdraw(_ claim: Claim) {
        context.assertOnLoopThread()
        guard claim.grant != nil else { return }
        claim.grant = nil
        hosts[claim.endpoint]?.waiting.removeAll { $0 === claim }
        hosts[claim.endpoint]?.openings.first { $0.claim === claim }?.claim = nil
    }

    /// A request is done with `connection`: kept for the next one if `reusable`, else closed.
    func release(_ connection: SocketConnection, reusable: Bool) {
        context.assertOnLoopThread()
        let endpoint = connection.endpoint
        let unused = connection.requestsCarried == 0
        if reusable, !connection.isClosed, let index = hosts[endpoint]?.waiting.firstIndex(where: { unused || !$0.fresh }) {
            let claim = hosts[endpoint]!.waiting.remove(at: index)
            give(connection, to: claim)
            return
        }
        if reusable, !connection.isClosed, (hosts[endpoint]?.idle.count ?? 0) < limits.maxIdlePerEndpoint {
            keepIdle(connection)
            return
        }
        discard(connection)
    }

    /// Closes `connection` and lets a waiting request open another.
    func discard(_ connection: SocketConnection) {
        context.assertOnLoopThread()
        stopIdleTimer(connection)
        connection.close()
        let endpoint = connection.endpoint
        hosts[endpoint]?.idle.removeAll { $0 === connection }
        connectionEnded(endpoint)
    }

    /// Opens a spare connection to `endpoint` unless one is idle or being opened already.
    func preconnect(_ endpoint: HTTPEndpoint) {
        context.assertOnLoopThread()
        let host = hosts[endpoint, default: Host()]
        guard host.idle.isEmpty, !host.openings.contains(where: { $0.claim == nil }),
              host.count < limits.maxConnectionsPerEndpoint else { return }
        startOpening(endpoint, for: nil)
    }

    func closeAll() {
        context.assertOnLoopThread()
        for (_, host) in hosts {
            host.idle.forEach { $0.close() }
            host.openings.forEach { $0.cancel?() }
        }
        hosts = [:]
    }

    /// Connections idle for `endpoint` (for tests and diagnostics).
    func idleCount(_ endpoint: HTTPEndpoint) -> Int {
        context.assertOnLoopThread()
        return hosts[endpoint]?.idle.count ?? 0
    }

    // MARK: Internals

    private func give(_ connection: SocketConnection, to claim: Claim) {
        let grant = claim.grant
        claim.grant = nil
        guard let grant else {
            release(connection, reusable: true)
            return
        }
        grant(.success(connection))
    }

    private func takeIdle(_ endpoint: HTTPEndpoint) -> SocketConnection? {
        while let connection = hosts[endpoint]?.idle.popLast() {
            stopIdleTimer(connection)
            let age = Double(LoopContext.now - connection.idleSince) / 1e9
            if age < limits.maxIdleSeconds && connection.isQuietAndOpen { return connection }
            connection.close()
            connectionEnded(endpoint)
        }
        return nil
    }

    private func keepIdle(_ connection: SocketConnection) {
        hosts[connection.endpoint, default: Host()].idle.append(connection)
        connection.becomeIdle { [weak self, weak connection] in
            guard let self, let connection else { return }
            self.discard(connection)
        }
        connection.idleTimer = context.schedule(after: limits.maxIdleSeconds) { [weak self, weak connection] in
            guard let self, let connection else { return }
            connection.idleTimer = nil
            self.discard(connection)
        }
    }

    private func stopIdleTimer(_ connection: SocketConnection) {
        if let timer = connection.idleTimer { context.cancel(timer) }
        connection.idleTimer = nil
    }

    private func startOpening(_ endpoint: HTTPEndpoint, for claim: Claim?) {
        let opening = Opening()
        opening.claim = claim
        hosts[endpoint, default: Host()].count += 1
        hosts[endpoint, default: Host()].openings.append(opening)
        let cancel = open(endpoint) { [weak self, weak opening] result in
            guard let self, let opening else { return }
            self.opened(endpoint, opening, result)
        }
        // The opener may have finished already (an immediate failure).
        if hosts[endpoint]?.openings.contains(where: { $0 === opening }) == true { opening.cancel = cancel }
    }

    private func opened(_ endpoint: HTTPEndpoint, _ opening: Opening, _ result: Result<SocketConnection, TransportError>) {
        hosts[endpoint]?.openings.removeAll { $0 === opening }
        let claim = opening.claim
        switch result {
        case .success(let connection):
            if let claim, claim.grant != nil { give(connection, to: claim) } else { release(connection, reusable: true) }
        case .failure(let error):
            connectionEnded(endpoint)
            if let grant = claim?.grant {
                claim?.grant = nil
                grant(.failure(error))
            }
        }
    }

    /// One connection fewer: the first waiting request may open one.
    private func connectionEnded(_ endpoint: HTTPEndpoint) {
        guard var host = hosts[endpoint] else { return }
        host.count -= 1
        let next = host.waiting.isEmpty ? nil : host.waiting.removeFirst()
        hosts[endpoint] = host
        if let next { startOpening(endpoint, for: next) }
        if let host = hosts[endpoint], host.count == 0, host.waiting.isEmpty { hosts[endpoint] = nil }
    }
}
