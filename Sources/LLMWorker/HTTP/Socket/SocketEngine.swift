import Foundation

/// The socket transport's state on its loop thread: the connection pool and the requests in flight. Work from
/// other threads arrives through `EventLoop.execute`; nothing here is touched from anywhere else (checked in debug
/// builds at every entry point).
final class SocketEngine: EventLoopRoot {
    struct Configuration: Sendable {
        var pool = ConnectionPool.Limits()
        /// How long opening a connection may take (lookup and connect), whatever the caller's own deadlines.
        var connectTimeout: TimeInterval = 30
        var resolver = HostResolver()
    }

    private let context: LoopContext
    private let loop: EventLoop<SocketEngine>
    private let configuration: Configuration
    private var pool: ConnectionPool!
    private var requests: [Int: SocketRequestDriver] = [:]
    /// Connections being opened for which a host name lookup is under way, by lookup number.
    private var lookups: [Int: SocketConnector] = [:]
    private var nextLookup = 0

    init(context: LoopContext, loop: EventLoop<SocketEngine>, configuration: Configuration) {
        self.context = context
        self.loop = loop
        self.configuration = configuration
        pool = ConnectionPool(limits: configuration.pool, context: context) { [unowned self] endpoint, completion in
            self.open(endpoint, completion)
        }
    }

    func start(_ exchange: SocketExchange, _ request: PreparedRequest) {
        context.assertOnLoopThread()
        let driver = SocketRequestDriver(exchange: exchange, request: request, pool: pool) { [unowned self] id in
            self.requests[id] = nil
        }
        requests[exchange.id] = driver
        driver.begin()
    }

    /// The exchange failed or was cancelled: its connection is closed at once.
    func abort(_ id: Int) {
        context.assertOnLoopThread()
        requests[id]?.abort()
    }

    /// The consumer handed back the bytes lent to it.
    func resume(_ id: Int) {
        context.assertOnLoopThread()
        requests[id]?.resumeReading()
    }

    func preconnect(_ endpoint: HTTPEndpoint) {
        context.assertOnLoopThread()
        pool.preconnect(endpoint)
    }

    /// Idle connections to `endpoint`, for tests.
    func idleCount(_ endpoint: HTTPEndpoint) -> Int {
        context.assertOnLoopThread()
        return pool.idleCount(endpoint)
    }

    func loopWillStop() {
        context.assertOnLoopThread()
        for driver in Array(requests.values) { driver.stop(TransportError(.connectionLost, "The worker's HTTP transport stopped.")) }
        requests = [:]
        for connector in lookups.values { connector.cancel() }
        lookups = [:]
        pool.closeAll()
    }

    /// Opens a connection: an address literal at once, a name after a lookup off the loop thread.
    private func open(_ endpoint: HTTPEndpoint, _ completion: @escaping SocketConnector.Completion) -> () -> Void {
        let connector = SocketConnector(endpoint: endpoint, context: context, timeout: configuration.connectTimeout, completion: completion)
        if let addresses = HostResolver.numeric(endpoint) {
            connector.connect(to: addresses)
            return { connector.cancel() }
        }
        nextLookup += 1
        let lookup = nextLookup
        lookups[lookup] = connector
        configuration.resolver.resolve(endpoint) { [loop] result in
            loop.execute { engine in engine.resolved(lookup, result) }
        }
        return { [weak self] in
            self?.lookups[lookup] = nil
            connector.cancel()
        }
    }

    private func resolved(_ lookup: Int, _ result: Result<[SocketAddress], TransportError>) {
        context.assertOnLoopThread()
        guard let connector = lookups.removeValue(forKey: lookup) else { return }
        switch result {
        case .success(let addresses): connector.connect(to: addresses)
        case .failure(let error): connector.fail(error)
        }
    }
}
