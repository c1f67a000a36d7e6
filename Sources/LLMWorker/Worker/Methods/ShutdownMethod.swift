struct ShutdownMethod: RPCMethod {
    static let name = "shutdown"

    struct Result: Encodable, Sendable {
        let ok = true
    }

    /// Lets the other requests finish (bounded by the grace period), then answers; the lifecycle exits
    /// once this answer is written.
    func handle(_ params: NoParams, call: CallContext) async throws -> Result {
        await call.worker.lifecycle.drainForShutdown(call.worker, grace: call.worker.options.shutdownGrace, keeping: call.token)
        call.worker.lifecycle.exitAfterShutdownAnswer(call.worker)
        return Result()
    }
}
