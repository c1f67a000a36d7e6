import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP request in flight: the response head and each network read of the body as events, in order.
/// `fail(_:)` ends it early (a timeout, a cancel): the URLSession task is cancelled, which closes the
/// connection so the server stops generating.
final class HTTPExchange: @unchecked Sendable {
    enum Event: Sendable {
        case response(status: Int, headers: [String: String])
        case body(Data)
    }

    let events: AsyncThrowingStream<Event, Error>
    private let continuation: AsyncThrowingStream<Event, Error>.Continuation
    private let task: URLSessionDataTask
    private let lock = NSLock()
    private var finished = false
    private var connected = false
    private var onConnected: (@Sendable () -> Void)?

    init(task: URLSessionDataTask) {
        self.task = task
        (events, continuation) = AsyncThrowingStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
        continuation.onTermination = { [task] termination in
            if case .cancelled = termination { task.cancel() }
        }
    }

    /// Called once the connection is known to be up (request body sent, or any response).
    func whenConnected(_ action: @escaping @Sendable () -> Void) {
        lock.lock()
        if connected {
            lock.unlock()
            action()
        } else {
            onConnected = action
            lock.unlock()
        }
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
        guard let http = response as? HTTPURLResponse else { return }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
        }
        yield(.response(status: http.statusCode, headers: headers))
    }

    func received(data: Data) {
        markConnected()
        yield(.body(data))
    }

    func completed(error: Error?) {
        guard markFinished() else { return }
        if let error { continuation.finish(throwing: error) } else { continuation.finish() }
    }

    private func yield(_ event: Event) {
        lock.lock()
        let open = !finished
        lock.unlock()
        if open { continuation.yield(event) }
    }

    private func markConnected() {
        lock.lock()
        guard !connected else {
            lock.unlock()
            return
        }
        connected = true
        let action = onConnected
        onConnected = nil
        lock.unlock()
        action?()
    }

    private func markFinished() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if finished { return false }
        finished = true
        return true
    }
}
