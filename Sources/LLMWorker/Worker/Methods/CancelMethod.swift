/// Served on the reader thread by the dispatcher (see `Dispatcher.cancelNow`), so that it applies to exactly the
/// requests read before it; `handle` gives the same answer for a call made any other way.
struct CancelMethod: RPCMethod {
    static let name = "cancel"

    struct Params: Decodable, Sendable {
        let id: RequestID
    }

    struct Result: Encodable, Sendable {
        let cancelled: Bool
    }

    func handle(_ params: Params, call: CallContext) async throws -> Result {
        Result(cancelled: call.worker.inFlight.cancel(id: params.id))
    }
}
