import Foundation

/// A method of the protocol: its name, the type its params decode into and the type of its result.
protocol RPCMethod: Sendable {
    associatedtype Params: Decodable & Sendable
    associatedtype Result: Encodable & Sendable

    static var name: String { get }
    /// Whether `cancel` reaches a call of this method (true unless the method says otherwise).
    static var isCancellable: Bool { get }
    func handle(_ params: Params, call: CallContext) async throws -> Result
}

extension RPCMethod {
    static var isCancellable: Bool { true }
}

/// What a method knows about the call it is answering.
struct CallContext: Sendable {
    let id: RequestID?
    let token: InFlightRequests.Token?
    let worker: WorkerContext
    /// The configuration when the request's line was read: a `configure` read later does not reach it.
    let configuration: ConfigurationSnapshot

    /// The active provider's settings when the request arrived (nil before any `configure`).
    var settings: ResolvedSettings? { configuration.current }
}

/// For methods that take no params.
struct NoParams: Decodable, Sendable {}

/// A method with its types erased, so the dispatcher can hold all of them in one table.
struct AnyRPCMethod: Sendable {
    let name: String
    let isCancellable: Bool
    private let run: @Sendable (IncomingMessage, CallContext) async throws -> Data

    init<M: RPCMethod>(_ method: M) {
        name = M.name
        isCancellable = M.isCancellable
        run = { message, call in
            let params = try message.decodeParams(M.Params.self)
            let result = try await method.handle(params, call: call)
            return OutgoingMessage.response(id: call.id ?? .null, result: result)
        }
    }

    /// Runs the method and returns the encoded response line.
    func callAsFunction(_ message: IncomingMessage, _ call: CallContext) async throws -> Data {
        try await run(message, call)
    }
}
