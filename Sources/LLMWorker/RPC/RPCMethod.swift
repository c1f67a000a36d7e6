import Foundation

/// A method of the protocol: its name, the types of its params and result, and the traits the dispatcher
/// schedules its requests by (see `Scheduling`). A method is served either in a task of its own (`AsyncRPCMethod`)
/// or on the reader thread as its line is read (`InlineRPCMethod`).
protocol RPCMethod: Sendable {
    associatedtype Params: Decodable & Sendable
    associatedtype Result: Encodable & Sendable

    static var name: String { get }
    /// What a request sent as a notification (without an id) gets: run (the default), dropped, or refused.
    static var notificationPolicy: NotificationPolicy { get }
    /// Whether a request read once the worker is shutting down is still served (false by default: it is
    /// answered `shutting_down`).
    static var servedWhileShuttingDown: Bool { get }
    /// Whether `cancel` reaches a request of this method (true by default).
    static var isCancellable: Bool { get }
    /// Whether reading a request of this method starts the shutdown, so the lines read after it are refused
    /// (false by default).
    static var shutsDownWhenRead: Bool { get }
}

extension RPCMethod {
    static var notificationPolicy: NotificationPolicy { .run }
    static var servedWhileShuttingDown: Bool { false }
    static var isCancellable: Bool { true }
    static var shutsDownWhenRead: Bool { false }
}

/// What a request sent as a notification gets.
enum NotificationPolicy: Sendable, Equatable {
    /// Run like a request; its answer is not written.
    case run
    /// Dropped on the reader thread, costing no task: it could have no effect at all.
    case drop
    /// Not run, with a warning in the log: its answer is its whole point, and there is no id to send it to.
    case refuseWithWarning
}

/// A method served in its own task, so that a slow request never holds up another.
protocol AsyncRPCMethod: RPCMethod {
    // Named again so that each method's types are inferred from its `handle`.
    associatedtype Params
    associatedtype Result
    func handle(_ params: Params, request: RequestContext) async throws -> Result
}

/// A method served on the reader thread as its line is read, so that the lines after it see its effect and the
/// lines before it do not. It must not wait for anything: the next line is read only once it has answered.
protocol InlineRPCMethod: RPCMethod {
    associatedtype Params
    associatedtype Result
    func handle(_ params: Params, services: Services) throws -> Result
}

/// What a method knows about the request it is answering.
struct RequestContext: Sendable {
    let id: RequestID?
    let token: InFlightRequests.Token?
    let services: Services
    /// The configuration when the request's line was read: a `configure` read later does not reach it.
    let configuration: ConfigurationSnapshot

    /// The active provider's settings when the request arrived (nil before any `configure`).
    var settings: ResolvedSettings? { configuration.current }
}

/// For methods that take no params.
struct NoParams: Decodable, Sendable {}
