struct ShutdownMethod: AsyncRPCMethod {
    static let name = "shutdown"
    /// Once asked for, the shutdown goes on: cancelling it would leave a worker that refuses every request and
    /// never exits. A `cancel` naming it answers false.
    static let isCancellable = false
    static let shutsDownWhenRead = true

    struct Result: Encodable, Sendable {
        let ok = true
    }

    /// Lets the other requests finish (bounded by the grace period), then answers; the lifecycle exits
    /// once this answer is written.
    func handle(_ params: NoParams, request: RequestContext) async throws -> Result {
        await request.services.lifecycle.drainForShutdown(request.services, grace: request.services.options.shutdownGrace, keeping: request.token)
        request.services.lifecycle.exitAfterShutdownAnswer(request.services)
        return Result()
    }
}
