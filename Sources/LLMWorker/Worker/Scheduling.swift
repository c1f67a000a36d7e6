/// How the dispatcher serves a message, decided on the reader thread as its line is read from the method's
/// traits alone (see `RPCMethod`): the same decision for a message alone and for one inside a batch.
enum Scheduling: Sendable, Equatable {
    /// Answered now, on the reader thread, by the method's synchronous entry point.
    case inline
    /// Run in its own task. An unknown method is too: the task answers method-not-found.
    case task
    /// Answered in its own task with the `shutting_down` error, because it was read once the worker was shutting down.
    case refuse
    /// Nothing at all: no task, no answer.
    case drop
    /// Not run, with a warning in the log.
    case dropWithWarning

    /// `method` is nil when no method has the message's name.
    static func decide(_ method: MethodTraits?, isNotification: Bool, shuttingDown: Bool) -> Scheduling {
        guard let method else { return isNotification ? .drop : .task }
        if isNotification {
            switch method.notificationPolicy {
            case .run: break
            case .drop: return .drop
            case .refuseWithWarning: return .dropWithWarning
            }
        }
        if shuttingDown && !method.servedWhileShuttingDown { return .refuse }
        return method.runsInline ? .inline : .task
    }
}
