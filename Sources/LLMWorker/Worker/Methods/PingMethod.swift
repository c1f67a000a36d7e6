struct PingMethod: AsyncRPCMethod {
    static let name = "ping"
    static let notificationPolicy = NotificationPolicy.drop
    static let servedWhileShuttingDown = true

    struct Result: Encodable, Sendable {
        let ok = true
        let version: String
        let inFlight: Int

        enum CodingKeys: String, CodingKey {
            case ok, version
            case inFlight = "in_flight"
        }
    }

    func handle(_ params: NoParams, request: RequestContext) async throws -> Result {
        // The ping itself is in flight too; the client asks about everything else.
        Result(version: WorkerVersion.current, inFlight: max(0, request.services.inFlight.unansweredCount - 1))
    }
}
