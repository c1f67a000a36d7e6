import Foundation

/// Carries one request on the loop thread: gets a connection from the pool, lets it send the request and read
/// the response, and reports to the exchange. A request whose reused connection dies before any byte of a
/// response is sent once more, on a fresh connection (the server closed an idle keep-alive connection just as it
/// was reused: nothing was answered). Any other failure goes to the exchange, for the caller's retry policy.
final class SocketRequestDriver: ConnectionDelegate {
    private let exchange: SocketExchange
    private let request: PreparedRequest
    private let pool: ConnectionPool
    private let ended: (Int) -> Void
    private var claim: ConnectionPool.Claim?
    private var connection: SocketConnection?
    private var resent = false
    private var done = false

    init(exchange: SocketExchange, request: PreparedRequest, pool: ConnectionPool, ended: @escaping (Int) -> Void) {
        self.exchange = exchange
        self.request = request
        self.pool = pool
        self.ended = ended
    }

    func begin() {
        acquire(fresh: false)
    }

    func resumeReading() {
        connection?.resumeReading()
    }

    /// The exchange ended early (failed, cancelled): the connection is closed at once.
    func abort() {
        guard !done else { return }
        done = true
        if let claim { pool.withdraw(claim) }
        claim = nil
        if let connection { pool.discard(connection) }
        connection = nil
        ended(exchange.id)
    }

    func stop(_ error: TransportError) {
        exchange.transportFailed(error)
        abort()
    }

    private func acquire(fresh: Bool) {
        let claim = pool.acquire(request.endpoint, fresh: fresh) { [weak self] result in self?.granted(result) }
        // The pool may have granted it already, within `acquire`.
        if connection == nil && !done { self.claim = claim }
    }

    private func granted(_ result: Result<SocketConnection, TransportError>) {
        claim = nil
        switch result {
        case .success(let connection):
            guard !done else {
                pool.release(connection, reusable: true)
                return
            }
            self.connection = connection
            exchange.carried(onConnectionWith: connection.requestsCarried)
            connection.send(request, delegate: self)
        case .failure(let error):
            finish(failing: error)
        }
    }

    private func finish(failing error: TransportError?) {
        guard !done else { return }
        done = true
        if let error { exchange.transportFailed(error) } else { exchange.endBody() }
        ended(exchange.id)
    }

    // MARK: ConnectionDelegate

    func connectionSentRequest(_ connection: SocketConnection) {
        exchange.sentRequest()
    }

    func connectionReceivedBytes(_ connection: SocketConnection) {
        exchange.receivedBytes()
    }

    func connection(_ connection: SocketConnection, receivedHead head: HTTPResponseHead) {
        exchange.deliver(head: TransportResponseHead(status: head.status, headers: head.headers))
    }

    func connection(_ connection: SocketConnection, receivedBody buffer: ReadBuffer, count: Int) {
        exchange.lend(buffer, count: count)
    }

    func connection(_ connection: SocketConnection, finishedReusable reusable: Bool) {
        self.connection = nil
        pool.release(connection, reusable: reusable)
        finish(failing: nil)
    }

    func connection(_ connection: SocketConnection, failed error: TransportError) {
        self.connection = nil
        pool.discard(connection)
        if !error.afterResponseBytes && connection.requestsCarried > 1 && !resent && !done {
            resent = true
            exchange.resending(because: error.message)
            acquire(fresh: true)
            return
        }
        finish(failing: error)
    }
}
