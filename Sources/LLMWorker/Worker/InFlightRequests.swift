import Foundation

/// The requests being worked on, by id, so `cancel` can reach them and shutdown can wait for them.
/// Registration happens on the reader thread before the next line is read, so a `cancel` can never arrive
/// before the request it names is known.
final class InFlightRequests: Sendable {
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

    private struct State {
        var entries: [Token: Entry] = [:]
        /// Entries not yet answered, kept as a count so that `ping` costs the same with 10,000 requests in flight.
        var unanswered = 0
        /// Messages being served on the reader thread whose answer is not yet handed to the writer (`servingInline`).
        var inlineAnswers = 0
        var nextSerial: UInt64 = 0
        /// Waits for the next request to be answered or to end (`waitUntilOnly`), each resumed once.
        var changeWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Waits whose deadline passed, or whose task was cancelled, before they were registered.
        var expiredWaits: Set<UInt64> = []

        mutating func newSerial() -> UInt64 {
            nextSerial += 1
            return nextSerial
        }

        /// Every waiter, removed: something changed, each of them looks again.
        mutating func takeChangeWaiters() -> [CheckedContinuation<Void, Never>] {
            defer { changeWaiters.removeAll() }
            return Array(changeWaiters.values)
        }

        /// How many requests `waitUntilOnly(keeping)` still waits for.
        func others(than keeping: Token?) -> Int {
            guard let keeping else { return entries.count + inlineAnswers }
            let batch = entries[keeping]?.batch
            return entries.reduce(0) { total, element in
                let (token, entry) = element
                let ownBatch = batch != nil && entry.batch == batch && (entry.collectsBatch || entry.answered)
                return total + (token == keeping || ownBatch ? 0 : 1)
            } + inlineAnswers
        }
    }

    private let state = Locked(State())
    /// Told whenever fewer requests are unanswered or in progress (the reader may be waiting for that).
    private let progress: ProgressSignal

    init(progress: ProgressSignal = ProgressSignal()) {
        self.progress = progress
    }

    func begin(id: RequestID?, batch: Batch? = nil, collectsBatch: Bool = false) -> Token {
        state.withLock { state in
            let token = Token(serial: state.newSerial())
            state.entries[token] = Entry(id: id, batch: batch, collectsBatch: collectsBatch)
            state.unanswered += 1
            return token
        }
    }

    func newBatch() -> Batch {
        state.withLock { Batch(serial: $0.newSerial()) }
    }

    /// Attaches the task doing the work; a request that already finished stays finished.
    func attach<Success>(_ token: Token, task: Task<Success, Never>) {
        state.withLock { state in
            if state.entries[token]?.answered == false { state.entries[token]?.cancel = { task.cancel() } }
        }
    }

    /// The request has its answer: it still counts as in flight until `end` (its answer may still be
    /// waiting to be written), but a `cancel` now answers false instead of claiming a request already answered.
    func markAnswered(_ token: Token) {
        let waiters = state.withLock { state in
            guard let entry = state.entries[token], !entry.answered else { return [CheckedContinuation<Void, Never>]() }
            state.entries[token]?.answered = true
            state.entries[token]?.cancel = nil
            state.unanswered -= 1
            progress.signal()
            return state.takeChangeWaiters()
        }
        waiters.forEach { $0.resume() }
    }

    func end(_ token: Token) {
        let waiters = state.withLock { state in
            if let entry = state.entries.removeValue(forKey: token), !entry.answered { state.unanswered -= 1 }
            progress.signal()
            return state.takeChangeWaiters()
        }
        waiters.forEach { $0.resume() }
    }

    /// Runs `serve` (the reader thread serving one line and handing any answer made there to the writer) as work that
    /// a shutdown waits for, without counting it as a request in flight: a `cancel` read after `shutdown` ends the
    /// request it names, and the shutdown must not exit before the cancel's own answer is written.
    func servingInline(_ serve: () -> Void) {
        state.withLock { $0.inlineAnswers += 1 }
        serve()
        let waiters = state.withLock { state in
            state.inlineAnswers -= 1
            return state.takeChangeWaiters()
        }
        waiters.forEach { $0.resume() }
    }

    /// Cancels every request in flight with this id (a client may reuse ids); returns whether there was one.
    @discardableResult
    func cancel(id: RequestID) -> Bool {
        let cancels = cancelling(reason: "a cancel request") { _, entry in entry.id == id }
        cancels.forEach { $0() }
        return !cancels.isEmpty
    }

    /// - Parameter reason: who cancels, for the requests' log lines.
    func cancelAll(except excluded: Token? = nil, reason: String) {
        cancelling(reason: reason) { token, _ in token != excluded }.forEach { $0() }
    }

    /// Marks the cancellable requests that `matching` picks as cancelled by `reason`, and returns their cancels to
    /// be called outside the lock.
    private func cancelling(reason: String, _ matching: (Token, Entry) -> Bool) -> [@Sendable () -> Void] {
        state.withLock { state in
            var cancels: [@Sendable () -> Void] = []
            for (token, entry) in state.entries where matching(token, entry) {
                guard let cancel = entry.cancel else { continue }
                state.entries[token]?.cancelledBy = reason
                cancels.append(cancel)
            }
            return cancels
        }
    }

    /// Who cancelled the request, if something did.
    func cancelledBy(_ token: Token) -> String? {
        state.withLock { $0.entries[token]?.cancelledBy }
    }

    var count: Int {
        state.withLock { $0.entries.count }
    }

    /// The requests still working on their answer: what a client calls "in flight" (`count` also has those
    /// whose answer is decided but maybe not yet written, which shutdown must wait for).
    var unansweredCount: Int {
        state.withLock { $0.unanswered }
    }

    /// Waits until nothing is in flight but `keeping` (the request waiting, if it is one) and what cannot end
    /// before it does: the answer-writing task of its batch, and the members of its batch already answered.
    /// Returns whether that happened before `timeout` (false as well if the waiting task is cancelled).
    func waitUntilOnly(_ keeping: Token?, timeout: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while others(than: keeping) > 0 {
            if Date() >= deadline || Task.isCancelled { return false }
            await waitForChange(while: keeping, until: deadline)
        }
        return true
    }

    /// How many requests `waitUntilOnly(keeping)` still waits for.
    func others(than keeping: Token?) -> Int {
        state.withLock { $0.others(than: keeping) }
    }

    /// Waits for a request to be answered or to end while others than `keeping` are in flight, or until `deadline`
    /// passes or the task is cancelled. Each wait has its own timer, which resumes that wait alone, or marks it
    /// expired when it fires before the wait is registered.
    private func waitForChange(while keeping: Token?, until deadline: Date) async {
        let wait = state.withLock { $0.newSerial() }
        let timer = Task {
            do { try await Task.sleep(nanoseconds: Nanoseconds.from(seconds: deadline.timeIntervalSinceNow)) } catch { return }
            self.expire(wait)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let waiting = state.withLock { state in
                    guard state.others(than: keeping) > 0 && state.expiredWaits.remove(wait) == nil else { return false }
                    state.changeWaiters[wait] = continuation
                    return true
                }
                if !waiting { continuation.resume() }
            }
        } onCancel: {
            expire(wait)
        }
        timer.cancel()
        // A cancel that came after the wait was resumed marked it expired: nothing will look for that mark again.
        state.withLock { _ = $0.expiredWaits.remove(wait) }
    }

    private func expire(_ wait: UInt64) {
        let waiter = state.withLock { state in
            let waiter = state.changeWaiters.removeValue(forKey: wait)
            if waiter == nil { state.expiredWaits.insert(wait) }
            return waiter
        }
        waiter?.resume()
    }
}
