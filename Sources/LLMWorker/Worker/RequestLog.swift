import Foundation

/// One request's lines in the log, each tagged with the request (see `LogTag`). The dispatcher binds it to the
/// request's task (`RequestLog.current`), so every layer below (the chat runner, the engine, the HTTP attempt) writes
/// under the same tag without being handed it.
///
/// At `debug` it also keeps a tally of what the request received from the server, summed over its attempts, for the
/// line that says how the request ended. At any other level there is no tally and no text is built.
struct RequestLog: Sendable {
    @TaskLocal static var current: RequestLog?

    let tag: LogTag
    let logger: Logger
    /// Only at `debug`.
    let tally: RequestTally?

    init(id: RequestID?, method: String, logger: Logger) {
        tag = LogTag(id: id, number: Self.lastNumber.withLock { $0 += 1; return $0 }, method: method)
        self.logger = logger
        tally = logger.isEnabled(.debug) ? RequestTally() : nil
    }

    var isDebug: Bool { tally != nil }

    func debug(_ message: @autoclosure () -> String) { logger.log(.debug, tag: tag, message()) }
    func info(_ message: @autoclosure () -> String) { logger.log(.info, tag: tag, message()) }
    func warn(_ message: @autoclosure () -> String) { logger.log(.warn, tag: tag, message()) }

    /// The worker's numbers for requests, in the order their lines are read: the last one given.
    private static let lastNumber = Locked<UInt64>(0)
}

/// What one request received and sent on, for its last debug line. Written by the HTTP attempts and the chat runner,
/// read by the dispatcher once the request is done.
final class RequestTally: Sendable {
    struct Counts: Sendable {
        var attempts = 0
        /// What the attempts received, summed.
        var upstream = ExchangeTrace.Received()
        /// Deltas sent to the client.
        var deltas = 0
        var firstDeltaMs: Double?
        var finishReason: String?
    }

    private let counts = Locked(Counts())

    func update(_ change: (inout Counts) -> Void) {
        counts.withLock { change(&$0) }
    }

    var snapshot: Counts { counts.withLock { $0 } }

    /// `finish_reason stop, 12 deltas (first after 45.6 ms); upstream: 1 attempt, 2345 bytes, 14 events, 3 keep-alive comments`.
    var summary: String {
        let counts = snapshot
        var parts: [String] = []
        if let reason = counts.finishReason { parts.append("finish_reason \(reason)") }
        if counts.deltas > 0 || counts.firstDeltaMs != nil {
            parts.append("\(counts.deltas) delta\(counts.deltas == 1 ? "" : "s")"
                + (counts.firstDeltaMs.map { String(format: " (first after %.1f ms)", $0) } ?? ""))
        }
        if counts.attempts > 0 {
            parts.append("upstream: \(counts.attempts) attempt\(counts.attempts == 1 ? "" : "s"), \(counts.upstream)")
        }
        return parts.joined(separator: ", ")
    }
}

extension Logger {
    /// A debug line under the tag of the request this task works for, or untagged outside any request.
    func debugForCurrentRequest(_ message: @autoclosure () -> String) {
        if let request = RequestLog.current {
            request.debug(message())
        } else {
            debug(message())
        }
    }
}
