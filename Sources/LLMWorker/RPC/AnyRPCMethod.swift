import Foundation

/// The traits of a method (see `RPCMethod`), as one value the scheduling decision reads.
struct MethodTraits: Sendable, Equatable {
    var runsInline: Bool
    var notificationPolicy: NotificationPolicy
    var servedWhileShuttingDown: Bool
    var isCancellable: Bool
    var shutsDownWhenRead: Bool

    init<M: RPCMethod>(_: M.Type, runsInline: Bool) {
        self.runsInline = runsInline
        notificationPolicy = M.notificationPolicy
        servedWhileShuttingDown = M.servedWhileShuttingDown
        isCancellable = M.isCancellable
        shutsDownWhenRead = M.shutsDownWhenRead
    }
}

/// A method with its types erased, so the dispatcher can hold all of them in one table. Its entry point decodes
/// the params and returns the encoded response line.
struct AnyRPCMethod: Sendable {
    enum Entry: Sendable {
        case inline(@Sendable (IncomingMessage, Services) throws -> Data)
        case async(@Sendable (IncomingMessage, RequestContext) async throws -> Data)
    }

    let name: String
    let traits: MethodTraits
    let entry: Entry

    init<M: AsyncRPCMethod>(_ method: M) {
        name = M.name
        traits = MethodTraits(M.self, runsInline: false)
        entry = .async { message, request in
            let params = try message.decodeParams(M.Params.self)
            let result = try await method.handle(params, request: request)
            return OutgoingMessage.response(id: request.id ?? .null, result: result)
        }
    }

    init<M: InlineRPCMethod>(_ method: M) {
        name = M.name
        traits = MethodTraits(M.self, runsInline: true)
        entry = .inline { message, services in
            let params = try message.decodeParams(M.Params.self)
            return OutgoingMessage.response(id: message.id ?? .null, result: try method.handle(params, services: services))
        }
    }
}
