import Foundation

/// The requests being worked on, by id, so `cancel` can reach them and shutdown can wait for them.
/// Registration happens on the reader thread before the next line is read, so a `cancel` can never arrive
/// before the request it names is known.
final class InFlightRequests: @unchecked Sendable {
    struct Token: Hashable, Sendable { fileprivate let serial: UInt64 }
    /// The requests of one batch and the task that writes its answer array.
    struct Batch: Hashable, Sendable { fileprivate let serial: UInt64 }

    private struct Entry {
        var id: RequestID?
        var batch: Batch?
        /// The task that writes a batch's answer array: it ends only after every member has answered.
        var collectsBatch = false
        var cancel: (@Sendable () -> Void)?
        /// Its answer is decided (it is being written): `cancel` no longer reaches it.
        var answered = false
        /// Who cancelled it, for its last log line.
        var cancelledBy: String?
    }

    private let lock = NSLock()
    /// Told whenever fewer requests are unanswered or in progress (the reader may be waiting for that).
    private let progress: ProgressSignal

    init(progress: ProgressSignal = ProgressSignal()) {
        self.progress = progress
    }
    private var entries: [Token: Entry] = [:]
    /// Entries not yet answered, kept as a count so that `ping` costs the same with 10,000 requests in flight.
    private var unanswered = 0
    private var nextSerial: UInt64 = 0
    private var emptyWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    private var expiredWaits: Set<UInt64> = []

    func begin(id: RequestID?, batch: Batch? = nil, collectsBatch: Bool = false) -> Token {
        lock.lock()
        defer { lock.unlock() }
        nextSerial += 1
        let token = Token(serial: nextSerial)
        entries[token] = Entry(id: id, batch: batch, collectsBatch: collectsBatch)
        unanswered += 1
        return token
    }

    func newBatch() -> Batch {
        lock.lock()
        defer { lock.unlock() }
        nextSerial += 1
        return Batch(serial: nextSerial)
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
        guard let entry = entries[token], !entry.answered else { return }
        entries[token]?.answered = true
        entries[token]?.cancel = nil
        unanswered -= 1
        progress.signal()
    }

    func end(_ token: Token) {
        lock.lock()
        if let entry = entries.removeValue(forKey: token), !entry.answered { unanswered -= 1 }
        progress.signal()
        let waiters = entries.isEmpty ? Array(emptyWaiters.values) : []
        if entries.isEmpty { emptyWaiters.removeAll() }
        lock.unlock()
        waiters.forEach { $0.resume() }
    }

    /// Cancels every request in flight with this id (a client may reuse ids); returns whether there was one.
    @discardableResult
    func cancel(id: RequestID) -> Bool {
        lock.lock()
        var cancels: [@Sendable () -> Void] = []
        for (token, entry) in entries where entry.id == id {
            guard let cancel = entry.cancel else { continue }
            entries[token]?.cancelledBy = "a cancel request"
            cancels.append(cancel)
        }
        lock.unlock()
        cancels.forEach { $0() }
        return !cancels.isEmpty
    }

    /// - Parameter reason: who cancels, for the requests' log lines.
    func cancelAll(except excluded: Token? = nil, reason: String) {
        lock.lock()
        var cancels: [@Sendable () -> Void] = []
        for (token, entry) in entries where token != excluded {
            guard let cancel = entry.cancel else { continue }
            entries[token]?.cancelledBy = reason
            cancels.append(cancel)
        }
        lock.unlock()
        cancels.forEach { $0() }
    }

    /// Who cancelled the request, if something did.
    func cancelledBy(_ token: Token) -> String? {
        lock.withLock { entries[token]?.cancelledBy }
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }

    /// The requests still working on their answer: what a client calls "in flight" (`count` also has those
    /// whose answer is decided but maybe not yet written, which shutdown must wait for).
    var unansweredCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return unanswered
    }

    /// Waits until nothing is in flight but `keeping` (the request waiting, if it is one) and what cannot end
    /// before it does: the answer-writing task of its batch, and the members of its batch already answered.
    /// Returns whether that happened before `timeout` (false as well if the waiting task is cancelled).
    func waitUntilOnly(_ keeping: Token?, timeout: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while others(than: keeping) > 0 {
            if Date() >= deadline || Task.isCancelled { return false }
            if keeping == nil {
                await waitForEmpty(until: deadline)
            } else {
                try? await Task.sleep(nanoseconds: 10_000_000)
            }
        }
        return true
    }

    /// How many requests `waitUntilOnly(keeping)` still waits for.
    func others(than keeping: Token?) -> Int {
        lock.lock()
        defer { lock.unlock() }
        guard let keeping else { return entries.count }
        let batch = entries[keeping]?.batch
        return entries.reduce(0) { total, element in
            let (token, entry) = element
            let ownBatch = batch != nil && entry.batch == batch && (entry.collectsBatch || entry.answered)
            return total + (token == keeping || ownBatch ? 0 : 1)
        }
    }

    /// Waits until nothing is in flight or `deadline` passes. Each wait has its own timer, which resumes that
    /// wait alone, or marks it expired when it fires before the wait is registered.
    private func waitForEmpty(until deadline: Date) async {
        let wait = newWaitID()
        let timer = Task {
            try? await Task.sleep(nanoseconds: Nanoseconds.from(seconds: deadline.timeIntervalSinceNow))
            self.expire(wait)
        }
        await withCheckedContinuation { continuation in
            lock.lock()
            if entries.isEmpty || expiredWaits.remove(wait) != nil {
                lock.unlock()
                continuation.resume()
            } else {
                emptyWaiters[wait] = continuation
                lock.unlock()
            }
        }
        timer.cancel()
    }

    private func newWaitID() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        nextSerial += 1
        return nextSerial
    }

    private func expire(_ wait: UInt64) {
        lock.lock()
        let waiter = emptyWaiters.removeValue(forKey: wait)
        if waiter == nil { expiredWaits.insert(wait) }
        lock.unlock()
        waiter?.resume()
    }
}
