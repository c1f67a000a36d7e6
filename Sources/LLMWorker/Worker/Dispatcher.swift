import Foundation

/// Takes each input line from the reader thread and answers it: parses the envelope there (cheap, and it keeps
/// registration in input order), then runs every request in its own task so a slow one never holds up another.
final class Dispatcher: Sendable {
    private let worker: WorkerContext
    private let methods: [String: AnyRPCMethod]

    init(worker: WorkerContext) {
        self.worker = worker
        let all = [
            AnyRPCMethod(ConfigureMethod()), AnyRPCMethod(ChatMethod()), AnyRPCMethod(ChatStreamMethod()),
            AnyRPCMethod(ListModelsMethod()), AnyRPCMethod(CancelMethod()), AnyRPCMethod(ProbeMethod()),
            AnyRPCMethod(PingMethod()), AnyRPCMethod(ShutdownMethod()), AnyRPCMethod(DiscoverMethod()),
            AnyRPCMethod(WarmMethod()),
        ]
        methods = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
    }

    /// The names of the methods served, for the OpenRPC consistency test.
    var methodNames: [String] { methods.keys.sorted() }

    /// Requests in progress beyond which no new line is read while the client is behind in reading answers,
    /// and beyond which none is read at all: each holds its answer until the client takes it, so memory stays
    /// bounded by these and the output queue.
    static let maxInProgressWhileBehind = 256
    static let maxInProgress = 1024

    /// Back-pressure, on the reader thread before each line: no new work while the client is far behind in
    /// reading the answers already made (the queue is over its limit), nor while it is falling behind (a quarter
    /// of the limit) and many requests are still making answers that would all land in the queue, nor while an
    /// extreme number of requests is in progress.
    private func waitUntilTheClientKeepsUp() {
        worker.writer.waitForRoom()
        func overloaded() -> Bool {
            let inProgress = worker.inFlight.unansweredCount
            if inProgress >= Self.maxInProgress { return true }
            return inProgress >= Self.maxInProgressWhileBehind && worker.writer.backlogBytes > worker.writer.highWater / 4
        }
        while true {
            let ticket = worker.progress.ticket()
            guard overloaded() && !worker.writer.isReaderGone else {
                worker.progress.cancel(ticket)
                return
            }
            // Woken by an answer, an end or a write; the time limit only bounds how late a client that has gone is noticed.
            worker.progress.wait(ticket, timeout: 0.25)
        }
    }

    /// Called on the reader thread for each input line, in order.
    func handle(line: Data) {
        waitUntilTheClientKeepsUp()
        switch MessageParser.parse(line) {
        case .failure(let error):
            worker.writer.sendNow(OutgoingMessage.failure(id: .null, error: error))
        case .single(.invalid(let id, let error)):
            worker.writer.sendNow(OutgoingMessage.failure(id: id, error: error))
        case .single(.message(let message)):
            start(message)
        case .batch(let items):
            startBatch(items)
        case .blank:
            break
        }
    }

    func handleOversizedLine(bytes: Int) {
        waitUntilTheClientKeepsUp()
        worker.logger.warn("discarded an input line of \(bytes) bytes (limit \(worker.options.maxLineBytes))")
        let error = RPCError.invalidRequest("the line is \(bytes) bytes long, over the limit of \(worker.options.maxLineBytes) bytes (--max-line-bytes); it was discarded")
        worker.writer.sendNow(OutgoingMessage.failure(id: .null, error: error))
    }

    private func start(_ message: IncomingMessage) {
        if message.method == CancelMethod.name {
            if let response = cancelNow(message) { worker.writer.sendNow(response) }
            return
        }
        if message.method == ConfigureMethod.name {
            if let response = configureNow(message) { worker.writer.sendNow(response) }
            return
        }
        if isInert(message) { return }
        let token = worker.inFlight.begin(id: message.id)
        let configuration = worker.configuration.snapshot()
        let refused = refusedForShutdown(message)
        let task = Task { [self] in
            if let response = await execute(message, token: token, configuration: configuration, refused: refused) {
                worker.inFlight.markAnswered(token)
                await worker.writer.send(response)
            }
            worker.inFlight.end(token)
        }
        attach(message, token, task)
    }

    /// Each request of a batch runs in its own registered task (so `cancel` reaches it); one collector task
    /// writes the array of responses once all are done.
    private func startBatch(_ items: [MessageParser.Item]) {
        var pending: [Task<Data?, Never>] = []
        var tokens: [InFlightRequests.Token] = []
        let batch = worker.inFlight.newBatch()
        for item in items {
            switch item {
            case .invalid(let id, let error):
                let failure = OutgoingMessage.failure(id: id, error: error)
                pending.append(Task { failure })
            case .message(let message) where message.method == CancelMethod.name:
                if let response = cancelNow(message) { pending.append(Task { response }) }
            case .message(let message) where message.method == ConfigureMethod.name:
                let response = configureNow(message)
                pending.append(Task { response })
            case .message(let message) where isInert(message):
                continue
            case .message(let message):
                let token = worker.inFlight.begin(id: message.id, batch: batch)
                let configuration = worker.configuration.snapshot()
                let refused = refusedForShutdown(message)
                let task = Task { [self] in
                    let response = await execute(message, token: token, configuration: configuration, refused: refused)
                    worker.inFlight.markAnswered(token)
                    return response
                }
                attach(message, token, task)
                pending.append(task)
                tokens.append(token)
            }
        }
        let collectorToken = worker.inFlight.begin(id: nil, batch: batch, collectsBatch: true)
        let collector = Task { [self] in
            var responses: [Data] = []
            for task in pending {
                if let response = await task.value { responses.append(response) }
            }
            if !responses.isEmpty { await worker.writer.send(OutgoingMessage.batch(responses)) }
            tokens.forEach(worker.inFlight.end)
            worker.inFlight.end(collectorToken)
        }
        worker.inFlight.attach(collectorToken, task: collector)
    }

    /// Makes the request reachable by `cancel`, unless its method cannot be cancelled.
    private func attach<Success>(_ message: IncomingMessage, _ token: InFlightRequests.Token, _ task: Task<Success, Never>) {
        if methods[message.method]?.isCancellable ?? true { worker.inFlight.attach(token, task: task) }
    }

    /// A notification that could have no effect at all (`ping`, `rpc.discover`, an unknown method): dropped
    /// here, so a flood of them costs no task and no work (building the OpenRPC document, say).
    private func isInert(_ message: IncomingMessage) -> Bool {
        message.id == nil && (message.method == PingMethod.name || message.method == DiscoverMethod.name || methods[message.method] == nil)
    }

    /// `cancel` acts here, on the reader thread, as its line is read: it reaches the requests read before it and
    /// still in progress, never one read after it (a task scheduled late would see those), never itself.
    private func cancelNow(_ message: IncomingMessage) -> Data? {
        let response: Data
        do {
            let params = try message.decodeParams(CancelMethod.Params.self)
            let result = CancelMethod.Result(cancelled: worker.inFlight.cancel(id: params.id))
            response = OutgoingMessage.response(id: message.id ?? .null, result: result)
        } catch {
            response = failure(message, rpcError(for: error))
        }
        return message.id == nil ? nil : response
    }

    /// `configure` is applied here, on the reader thread, so the requests after it see it and those before do not.
    private func configureNow(_ message: IncomingMessage) -> Data? {
        let response: Data
        do {
            let params = try message.decodeParams(ConfigureParams.self)
            let report = try ConfigureMethod().apply(params, worker: worker)
            response = OutgoingMessage.response(id: message.id ?? .null, result: report)
        } catch {
            response = failure(message, rpcError(for: error))
        }
        return message.id == nil ? nil : response
    }

    /// Whether a request is refused because the worker is shutting down, decided on the reader thread when its
    /// line is read (like its configuration snapshot): a request read before the end of input or before a
    /// `shutdown` line is served, one read after is refused, however the tasks happen to be scheduled.
    private func refusedForShutdown(_ message: IncomingMessage) -> Bool {
        let refused = worker.lifecycle.isShuttingDown && message.method != PingMethod.name && message.method != CancelMethod.name
        if message.method == ShutdownMethod.name { worker.lifecycle.markShuttingDown() }
        return refused
    }

    /// Runs one request under its log tag (see `RequestLog`); returns its response line, or nil for a notification.
    private func execute(_ message: IncomingMessage, token: InFlightRequests.Token?, configuration: ConfigurationSnapshot,
                         refused: Bool) async -> Data? {
        let log = RequestLog(id: message.id, method: message.method, logger: worker.logger)
        return await RequestLog.$current.withValue(log) {
            await execute(message, token: token, configuration: configuration, refused: refused, log: log)
        }
    }

    private func execute(_ message: IncomingMessage, token: InFlightRequests.Token?, configuration: ConfigurationSnapshot,
                         refused: Bool, log: RequestLog) async -> Data? {
        let call = CallContext(id: message.id, token: token, worker: worker, configuration: configuration)
        let clock = RequestClock()
        log.debug("started")
        let response: Data
        do {
            guard let method = methods[message.method] else { throw RPCError.methodNotFound(message.method) }
            if message.id == nil && (message.method == ChatStreamMethod.name || message.method == ChatMethod.name) {
                log.warn("sent as a notification (no id): there would be no way to return the answer, so it was not run")
                return nil
            }
            if refused {
                throw RPCError(code: -32603, message: "The worker is shutting down and takes no new requests.",
                               data: .object(["kind": .string("shutting_down")]))
            }
            response = try await method(message, call)
            if let tally = log.tally {
                let summary = tally.summary
                log.debug(String(format: "answered after %.1f ms", clock.elapsedMs) + (summary.isEmpty ? "" : ": " + summary))
            }
        } catch {
            let rpc = rpcError(for: error)
            response = failure(message, rpc)
            logEnd(of: log, failure: rpc, afterMs: clock.elapsedMs, cancelledBy: token.flatMap(worker.inFlight.cancelledBy))
        }
        return message.id == nil ? nil : response
    }

    /// A failed request's one line: at `info` (a cancel, which the client asked for, at `debug`), with what was
    /// received at `debug`.
    private func logEnd(of log: RequestLog, failure rpc: RPCError, afterMs ms: Double, cancelledBy: String?) {
        let kind = rpc.data?["kind"]?.stringValue
        let level: LogLevel = kind == "cancelled" ? .debug : .info
        guard log.logger.isEnabled(level) else { return }
        let summary = log.tally?.summary ?? ""
        let what = kind == "cancelled" ? "cancelled" + (cancelledBy.map { " by \($0)" } ?? "") : "failed"
        let text = String(format: "%@ after %.1f ms: %@: %@", what, ms, kind ?? String(rpc.code), rpc.message)
        log.logger.log(level, tag: log.tag, text + (summary.isEmpty ? "" : "; " + summary))
    }

    /// The error line for `message`. A parse error found only when its params were decoded is answered like any
    /// parse error, with id null: JSON that is not valid has no id to trust.
    private func failure(_ message: IncomingMessage, _ error: RPCError) -> Data {
        OutgoingMessage.failure(id: error.code == -32700 ? .null : (message.id ?? .null), error: error)
    }

    private func rpcError(for error: Error) -> RPCError {
        switch error {
        case let error as RPCError: return error
        case let error as InvalidParams: return error.rpcError
        case var error as ProviderError:
            // A server may echo the key back in its error text: neither copy of that text may carry it.
            error.message = worker.redactor.scrub(error.message)
            error.upstreamMessage = error.upstreamMessage.map(worker.redactor.scrub)
            return error.rpcError
        case is CancellationError: return ProviderError.cancelled().rpcError
        default:
            worker.logger.error("internal error: \(error)")
            return .internalError(worker.redactor.scrub(String(describing: error)))
        }
    }
}
