import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One URLSession for every request the worker makes, so connections to a server are pooled and reused.
/// Delegate callbacks are routed by task identifier to the `HTTPExchange` that started the task.
/// (On Linux, `URLSession.bytes` does not exist and the delegate is the only way to stream.)
final class HTTPClient: NSObject, URLSessionDataDelegate, Sendable {
    /// How many connections one server may get: one per concurrent stream (Linux defaults to 6 and queues the rest).
    static let maxConnectionsPerHost = 512

    private struct Exchanges {
        /// The open ones, by task identifier.
        var open: [Int: HTTPExchange] = [:]
        var startedCount = 0
    }

    private let exchanges = Locked(Exchanges())
    private let sessionStorage = Locked<URLSession?>(nil)

    /// Making the URLSession takes a few milliseconds (libcurl and OpenSSL set-up, Foundation's cookie and cache
    /// look-ups): a third of the worker's start-up. So it is made on first use, or by `warmUp()` in the
    /// background, and the worker answers its first `ping` without waiting for it.
    private var session: URLSession {
        sessionStorage.storedOrMade { makeSession() }
    }

    /// Makes the session now on a background thread, so that the first request does not wait for it.
    func warmUp() {
        DispatchQueue.global(qos: .utility).async { _ = self.session }
    }

    private func makeSession() -> URLSession {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = Self.maxConnectionsPerHost
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        // URLSession's own timers act between received bytes; the worker keeps its own deadlines (see HTTPExchange),
        // so these only stop a connection that is silent for far longer than any of them.
        configuration.timeoutIntervalForRequest = 3600
        configuration.timeoutIntervalForResource = 3600
        let queue = OperationQueue()
        queue.name = "http-delegate"
        queue.maxConcurrentOperationCount = 1
        return URLSession(configuration: configuration, delegate: self, delegateQueue: queue)
    }

    /// Starts a request; its response, body bytes and end arrive through the exchange's events.
    func start(_ request: URLRequest) -> HTTPExchange {
        let task = session.dataTask(with: request)
        let exchange = HTTPExchange(task: task)
        exchanges.withLock { exchanges in
            exchanges.open[task.taskIdentifier] = exchange
            exchanges.startedCount += 1
        }
        task.resume()
        return exchange
    }

    /// How many exchanges are open now and how many were ever started: whether a request had the client to itself.
    var activity: (open: Int, started: Int) {
        exchanges.withLock { ($0.open.count, $0.startedCount) }
    }

    private func exchange(for task: URLSessionTask) -> HTTPExchange? {
        exchanges.withLock { $0.open[task.taskIdentifier] }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        exchange(for: dataTask)?.received(response: response)
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        exchange(for: dataTask)?.received(data: data)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didSendBodyData bytesSent: Int64,
                    totalBytesSent: Int64, totalBytesExpectedToSend: Int64) {
        exchange(for: task)?.sentBody()
    }

    /// libcurl is about to send a request again on a new connection: the kept-alive one it went out on closed before
    /// any byte of the response (`Curl_retry_request`). Foundation cannot hand it the body a second time (it answers
    /// the rewind as done and the server would get the head alone, then wait for the rest), so the exchange ends here
    /// and the engine sends the whole request again.
    func urlSession(_ session: URLSession, task: URLSessionTask,
                    needNewBodyStream completionHandler: @escaping @Sendable (InputStream?) -> Void) {
        completionHandler(nil)
        guard let exchange = exchange(for: task) else { return }
        // Not from here: this runs on the task's own queue, which cancelling the task waits for.
        DispatchQueue.global().async { exchange.fail(UnansweredRequest()) }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        exchanges.withLock { $0.open.removeValue(forKey: task.taskIdentifier) }?.completed(error: error)
    }

    // Redirects are followed only within the same scheme and host: a key must never travel to another server.
    // Requests with a body (chat) are never redirected: Foundation on Linux drops the body when it follows a
    // redirect, even a 307/308, and the server would get an empty POST; the 3xx is reported instead ("check base_url").
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        let original = task.originalRequest?.url
        let sameOrigin = original?.host == request.url?.host && original?.scheme == request.url?.scheme
            && original?.port == request.url?.port
        let hasBody = task.originalRequest?.httpBody != nil || (task.originalRequest?.httpMethod ?? "GET") != "GET"
        completionHandler(sameOrigin && !hasBody ? request : nil)
    }
}
