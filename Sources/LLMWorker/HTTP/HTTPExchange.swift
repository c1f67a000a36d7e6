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
final class HTTPExchange: Sendable {
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
    private let connection = FirstTimeAction()
    private let state = Locked(State())

    private struct State {
        var finished = false
        /// Body bytes received and not yet taken by the reader, and whether a `.bodyWaiting` signal is outstanding.
        var pendingBody = Data()
        var bodySignalled = false
        /// When bytes last came from the server (uptime ns; 0: none yet), whether or not the reader has taken them:
        /// a reader held up by a slow client must not make a busy server look silent.
        var lastReceived: UInt64 = 0
        /// The server sent its whole response (the reader may not have taken all of it yet).
        var receivedAll = false
        /// The response head arrived: whatever fails after this, the server did answer.
        var responded = false
    }

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
        state.withLock { $0.responded = true }
        guard let http = response as? HTTPURLResponse else { return }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
        }
        yield(.response(status: http.statusCode, headers: headers))
    }

    func received(data: Data) {
        markConnected()
        let signal = state.withLock { state in
            guard !state.finished else { return false }
            if state.pendingBody.isEmpty { state.pendingBody = data } else { state.pendingBody.append(data) }
            state.lastReceived = DispatchTime.now().uptimeNanoseconds
            defer { state.bodySignalled = true }
            return !state.bodySignalled
        }
        if signal { continuation.yield(.bodyWaiting) }
    }

    /// Whether the response head arrived.
    var hasResponded: Bool {
        state.withLock { $0.responded }
    }

    /// When bytes last came from the server, and whether its response is complete.
    var received: (lastAt: UInt64, all: Bool) {
        state.withLock { ($0.lastReceived, $0.receivedAll) }
    }

    /// Everything received since the last call (the reader got a `.bodyWaiting` signal for it).
    fileprivate func takeBody() -> Data {
        state.withLock { state in
            state.bodySignalled = false
            defer { state.pendingBody = Data() }
            return state.pendingBody
        }
    }

    func completed(error: Error?) {
        if error == nil { state.withLock { $0.receivedAll = true } }
        guard markFinished() else { return }
        if let error { continuation.finish(throwing: error) } else { continuation.finish() }
    }

    private func yield(_ event: Signal) {
        if !state.withLock({ $0.finished }) { continuation.yield(event) }
    }

    private func markConnected() {
        connection.happen()
    }

    private func markFinished() -> Bool {
        state.withLock { state in
            defer { state.finished = true }
            return !state.finished
        }
    }
}
