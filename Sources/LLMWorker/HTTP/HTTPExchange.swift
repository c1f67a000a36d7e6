import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP request in flight: the response head and the body bytes as events, in order.
/// `fail(_:)` ends it early (a timeout, a cancel): the URLSession task is cancelled, which closes the
/// connection so the server stops generating.
///
/// Body bytes that arrive while the reader is still busy with earlier ones are handed over together, as one
/// `.body` event: nothing ever waits for more, but a reader that fell behind catches up in one step instead of
/// one wake-up, parse, delta line and pipe write per network callback (URLSession calls back once per HTTP
/// chunk, i.e. once per SSE event, even when a single socket read brought hundreds of them).
final class HTTPExchange: @unchecked Sendable {
    enum Event: Sendable {
        case response(status: Int, headers: [String: String])
        case body(Data)
    }

    /// What travels through the stream: the head, or word that body bytes wait in `pendingBody`.
    fileprivate enum Signal: Sendable {
        case response(status: Int, headers: [String: String])
        case bodyWaiting
    }

    /// The exchange's events; there is one reader per exchange.
    struct Events: AsyncIteratorProtocol {
        fileprivate var signals: AsyncThrowingStream<Signal, Error>.AsyncIterator
        fileprivate let exchange: HTTPExchange

        mutating func next() async throws -> Event? {
            switch try await signals.next() {
            case .response(let status, let headers)?: return .response(status: status, headers: headers)
            case .bodyWaiting?: return .body(exchange.takeBody())
            case nil: return nil
            }
        }
    }

    private let signals: AsyncThrowingStream<Signal, Error>
    private let continuation: AsyncThrowingStream<Signal, Error>.Continuation
    private let task: URLSessionDataTask
    private let lock = NSLock()
    private var finished = false
    private let connection = FirstTimeAction()
    /// Body bytes received and not yet taken by the reader, and whether a `.bodyWaiting` signal is outstanding.
    private var pendingBody = Data()
    private var bodySignalled = false
    /// When bytes last came from the server (uptime ns; 0: none yet), whether or not the reader has taken them:
    /// a reader held up by a slow client must not make a busy server look silent.
    private var lastReceived: UInt64 = 0
    /// The server sent its whole response (the reader may not have taken all of it yet).
    private var receivedAll = false
    /// The response head arrived: whatever fails after this, the server did answer.
    private var responded = false

    init(task: URLSessionDataTask) {
        self.task = task
        (signals, continuation) = AsyncThrowingStream.makeStream(of: Signal.self, bufferingPolicy: .unbounded)
        continuation.onTermination = { [task] termination in
            if case .cancelled = termination { task.cancel() }
        }
    }

    func makeEvents() -> Events {
        Events(signals: signals.makeAsyncIterator(), exchange: self)
    }

    /// Called once the connection is known to be up (request body sent, or any response).
    func whenConnected(_ action: @escaping @Sendable () -> Void) {
        connection.whenItHappens(action)
    }

    /// Ends the exchange with `error` and closes the connection. Later events are dropped.
    func fail(_ error: Error) {
        guard markFinished() else { return }
        continuation.finish(throwing: error)
        task.cancel()
    }

    func cancel() {
        fail(CancellationError())
    }

    // MARK: URLSession delegate side (serial delegate queue)

    func sentBody() {
        markConnected()
    }

    func received(response: URLResponse) {
        markConnected()
        lock.lock()
        responded = true
        lock.unlock()
        guard let http = response as? HTTPURLResponse else { return }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
        }
        yield(.response(status: http.statusCode, headers: headers))
    }

    func received(data: Data) {
        markConnected()
        lock.lock()
        guard !finished else {
            lock.unlock()
            return
        }
        if pendingBody.isEmpty { pendingBody = data } else { pendingBody.append(data) }
        lastReceived = DispatchTime.now().uptimeNanoseconds
        let signal = !bodySignalled
        bodySignalled = true
        lock.unlock()
        if signal { continuation.yield(.bodyWaiting) }
    }

    /// Whether the response head arrived.
    var hasResponded: Bool {
        lock.lock()
        defer { lock.unlock() }
        return responded
    }

    /// When bytes last came from the server, and whether its response is complete.
    var received: (lastAt: UInt64, all: Bool) {
        lock.lock()
        defer { lock.unlock() }
        return (lastReceived, receivedAll)
    }

    /// Everything received since the last call (the reader got a `.bodyWaiting` signal for it).
    fileprivate func takeBody() -> Data {
        lock.lock()
        defer { lock.unlock() }
        bodySignalled = false
        let body = pendingBody
        pendingBody = Data()
        return body
    }

    func completed(error: Error?) {
        if error == nil {
            lock.lock()
            receivedAll = true
            lock.unlock()
        }
        guard markFinished() else { return }
        if let error { continuation.finish(throwing: error) } else { continuation.finish() }
    }

    private func yield(_ event: Signal) {
        lock.lock()
        let open = !finished
        lock.unlock()
        if open { continuation.yield(event) }
    }

    private func markConnected() {
        connection.happen()
    }

    private func markFinished() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if finished { return false }
        finished = true
        return true
    }
}
