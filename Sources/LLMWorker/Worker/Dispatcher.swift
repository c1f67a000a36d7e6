import Foundation

/// Takes each input line from the reader thread and answers it: parses the envelope there (cheap, and it keeps
/// registration in input order), then serves each message as `Scheduling` decides from its method's traits: most
/// in a task of their own, so a slow one never holds up another. It knows no method by name.
final class Dispatcher: Sendable {
    private let services: Services
    private let methods: [String: AnyRPCMethod]

    init(services: Services, methods: [String: AnyRPCMethod] = MethodRegistry.byName) {
        self.services = services
        self.methods = methods
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
        services.writer.waitForRoom()
        func overloaded() -> Bool {
            let inProgress = services.inFlight.unansweredCount
            if inProgress >= Self.maxInProgress { return true }
            return inProgress >= Self.maxInProgressWhileBehind && services.writer.backlogBytes > services.writer.highWater / 4
        }
        while true {
            let ticket = services.progress.ticket()
            guard overloaded() && !services.writer.isReaderGone else {
                services.progress.cancel(ticket)
                return
            }
            // Woken by an answer, an end or a write; the time limit only bounds how late a client that has gone is noticed.
            services.progress.wait(ticket, timeout: 0.25)
        }
    }

    /// Called on the reader thread for each input line, in order.
    func handle(line: Data) {
        waitUntilTheClientKeepsUp()
        services.inFlight.servingInline {
            switch MessageParser.parse(line) {
            case .failure(let error):
                services.writer.sendNow(OutgoingMessage.failure(id: .null, error: error))
            case .single(.invalid(let id, let error)):
                services.writer.sendNow(OutgoingMessage.failure(id: id, error: error))
            case .single(.message(let message)):
                if case .answered(let response) = schedule(message, batch: nil) { services.writer.sendNow(response) }
            case .batch(let items):
                startBatch(items)
            case .blank:
                break
            }
        }
    }

    func handleOversizedLine(bytes: Int) {
        waitUntilTheClientKeepsUp()
        services.logger.warn("discarded an input line of \(bytes) bytes (limit \(services.options.maxLineBytes))")
        let error = RPCError.invalidRequest("the line is \(bytes) bytes long, over the limit of \(services.options.maxLineBytes) bytes (--max-line-bytes); it was discarded")
        services.writer.sendNow(OutgoingMessage.failure(id: .null, error: error))
    }

    /// What scheduling a message gave: nothing to write, an answer made on the reader thread, or the task making it.
    private enum Scheduled {
        case nothing
        case answered(Data)
        /// A task of a batch returns its answer for the array; a task alone writes it and returns nil.
        case running(Task<Data?, Never>, InFlightRequests.Token)
    }

    /// Serves one message as `Scheduling` decides, on the reader thread as its line is read (so registration,
    /// the configuration snapshot and the shutdown refusal all follow input order), alone or in `batch`.
    private func schedule(_ message: IncomingMessage, batch: InFlightRequests.Batch?) -> Scheduled {
        let method = methods[message.method]
        let decision = Scheduling.decide(method?.traits, isNotification: message.id == nil,
                                         shuttingDown: services.lifecycle.isShuttingDown)
        if method?.traits.shutsDownWhenRead == true { services.lifecycle.markShuttingDown() }
        switch decision {
        case .drop:
            return .nothing
        case .dropWithWarning:
            services.logger.warn("\(message.method) sent as a notification (no id): there would be no way to return the answer, so it was not run")
            return .nothing
        case .inline:
            guard case .inline(let run)? = method?.entry else { return .nothing }
            let response: Data
            do {
                response = try run(message, services)
            } catch {
                response = failure(message, rpcError(for: error))
            }
            return message.id == nil ? .nothing : .answered(response)
        case .task, .refuse:
            let token = services.inFlight.begin(id: message.id, batch: batch)
            let configuration = services.configuration.snapshot()
            let refused = decision == .refuse
            let task = Task { [self] () -> Data? in
                let response = await execute(message, method, token: token, configuration: configuration, refused: refused)
                services.inFlight.markAnswered(token)
                guard batch == nil else { return response }
                if let response { await services.writer.send(response) }
                services.inFlight.end(token)
                return nil
            }
            if method?.traits.isCancellable ?? true { services.inFlight.attach(token, task: task) }
            return .running(task, token)
        }
    }

    /// Each message of a batch is scheduled as if alone; one collector task writes the array of answers once all
    /// are made, then ends the batch's requests.
    private func startBatch(_ items: [MessageParser.Item]) {
        var pending: [Task<Data?, Never>] = []
        var tokens: [InFlightRequests.Token] = []
        let batch = services.inFlight.newBatch()
        for item in items {
            switch item {
            case .invalid(let id, let error):
                let failure = OutgoingMessage.failure(id: id, error: error)
                pending.append(Task { failure })
            case .message(let message):
                switch schedule(message, batch: batch) {
                case .nothing:
                    continue
                case .answered(let response):
                    pending.append(Task { response })
                case .running(let task, let token):
                    pending.append(task)
                    tokens.append(token)
                }
            }
        }
        let collectorToken = services.inFlight.begin(id: nil, batch: batch, collectsBatch: true)
        let collector = Task { [self] in
            var responses: [Data] = []
            for task in pending {
                if let response = await task.value { responses.append(response) }
            }
            if !responses.isEmpty { await services.writer.send(OutgoingMessage.batch(responses)) }
            tokens.forEach(services.inFlight.end)
            services.inFlight.end(collectorToken)
        }
        services.inFlight.attach(collectorToken, task: collector)
    }

    /// Runs one request under its log tag (see `RequestLog`); returns its response line, or nil for a notification.
    private func execute(_ message: IncomingMessage, _ method: AnyRPCMethod?, token: InFlightRequests.Token?,
                         configuration: ConfigurationSnapshot, refused: Bool) async -> Data? {
        let log = RequestLog(id: message.id, method: message.method, logger: services.logger)
        return await RequestLog.$current.withValue(log) {
            await execute(message, method, token: token, configuration: configuration, refused: refused, log: log)
        }
    }

    private func execute(_ message: IncomingMessage, _ method: AnyRPCMethod?, token: InFlightRequests.Token?,
                         configuration: ConfigurationSnapshot, refused: Bool, log: RequestLog) async -> Data? {
        let request = RequestContext(id: message.id, token: token, services: services, configuration: configuration)
        let clock = RequestClock()
        log.debug("started")
        let response: Data
        do {
            guard let method else { throw RPCError.methodNotFound(message.method) }
            if refused { throw RPCError.shuttingDown() }
            guard case .async(let run) = method.entry else { throw RPCError.internalError("\(method.name) runs only on the reader thread") }
            response = try await run(message, request)
            if let tally = log.tally {
                let summary = tally.summary
                log.debug(String(format: "answered after %.1f ms", clock.elapsedMs) + (summary.isEmpty ? "" : ": " + summary))
            }
        } catch {
            let rpc = rpcError(for: error)
            response = failure(message, rpc)
            logEnd(of: log, failure: rpc, afterMs: clock.elapsedMs, cancelledBy: token.flatMap(services.inFlight.cancelledBy))
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
        OutgoingMessage.failure(id: error.code == RPCError.Code.parseError ? .null : (message.id ?? .null), error: error)
    }

    private func rpcError(for error: Error) -> RPCError {
        RPCError(error, redactor: services.redactor) { services.logger.error("internal error: \($0)") }
    }
}
