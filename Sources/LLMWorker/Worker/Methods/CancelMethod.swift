/// Served on the reader thread, so that it reaches exactly the requests read before it and still in progress,
/// never one read after it (a task scheduled late would see those), never itself.
struct CancelMethod: InlineRPCMethod {
    static let name = "cancel"
    static let servedWhileShuttingDown = true

    struct Params: Decodable, Sendable {
        let id: RequestID
    }

    struct Result: Encodable, Sendable {
        let cancelled: Bool
    }

    func handle(_ params: Params, services: Services) throws -> Result {
        Result(cancelled: services.inFlight.cancel(id: params.id))
    }
}
