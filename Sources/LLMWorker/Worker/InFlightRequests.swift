import Foundation

/// The requests being worked on, by id, so `cancel` can reach them and shutdown can wait for them.
/// Registration happens on the reader thread before the next line is read, so a `cancel` can never arrive
/// before the request it names is known.
final class InFlightRequests: @unchecked Sendable {
    struct Token: Hashable, Sendable { fileprivate let serial: UInt64 }

    private struct Entry {
        var id: RequestID?
        var cancel: (@Sendable () -> Void)?
        /// Its answer is decided (it is being written): `cancel` no longer reaches it.
        var answered = false
    }

    private let lock = NSLock()
    private var entries: [Token: Entry] = [:]
    private var nextSerial: UInt64 = 0
    private var emptyWaiters: [CheckedContinuation<Void, Never>] = []

    func begin(id: RequestID?) -> Token {
        lock.lock()
        defer { lock.unlock() }
        nextSerial += 1
        let token = Token(serial: nextSerial)
        entries[token] = Entry(id: id)
        return token
    }

    /// Attaches the task doing the work; a request that already finished stays finished.
    func attach<Success>(_ token: Token, task: Task<Success, Never>) {
        lock.lock()
        defer { lock.unlock() }
        if entries[token]?.answered == false { entries[token]?.cancel = { task.cancel() } }
    }

    /// The request has its answer: it still counts as in flight until `end` (its answer may still be
    /// waiting to be written), but a `cancel` now answers false instead of claiming a request already answered.
    func markAnswered(_ token: Token) {
        lock.lock()
        defer { lock.unlock() }
        entries[token]?.answered = true
        entries[token]?.cancel = nil
    }

    func end(_ token: Token) {
        lock.lock()
        entries[token] = nil
        let waiters = entries.isEmpty ? emptyWaiters : []
        if entries.isEmpty { emptyWaiters.removeAll() }
        lock.unlock()
        waiters.forEach { $0.resume() }
    }

    /// Cancels every request in flight with this id (a client may reuse ids); returns whether there was one.
    @discardableResult
    func cancel(id: RequestID) -> Bool {
        lock.lock()
        let cancels = entries.values.filter { $0.id == id }.compactMap(\.cancel)
        lock.unlock()
        cancels.forEach { $0() }
        return !cancels.isEmpty
    }

    func cancelAll(except excluded: Token? = nil) {
        lock.lock()
        let cancels = entries.filter { $0.key != excluded }.compactMap(\.value.cancel)
        lock.unlock()
        cancels.forEach { $0() }
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }

    /// Waits until at most `remaining` requests are in flight, or until `timeout` passes; returns whether they did.
    func waitUntil(atMost remaining: Int, timeout: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while count > remaining {
            if Date() >= deadline { return false }
            if remaining == 0 {
                await waitForEmpty(timeout: deadline.timeIntervalSinceNow)
            } else {
                try? await Task.sleep(nanoseconds: 10_000_000)
            }
        }
        return true
    }

    private func waitForEmpty(timeout: Double) async {
        let timer = Task {
            try? await Task.sleep(nanoseconds: UInt64(max(0, timeout) * 1e9))
            self.releaseEmptyWaiters()
        }
        await withCheckedContinuation { continuation in
            lock.lock()
            if entries.isEmpty {
                lock.unlock()
                continuation.resume()
            } else {
                emptyWaiters.append(continuation)
                lock.unlock()
            }
        }
        timer.cancel()
    }

    private func releaseEmptyWaiters() {
        lock.lock()
        let waiters = emptyWaiters
        emptyWaiters.removeAll()
        lock.unlock()
        waiters.forEach { $0.resume() }
    }
}
