struct ChatMethod: AsyncRPCMethod {
    static let name = "chat"
    static let notificationPolicy = NotificationPolicy.refuseWithWarning

    func handle(_ params: ChatParams, request: RequestContext) async throws -> ChatResult {
        try await ChatRunner(services: request.services).run(params, settings: request.settings, streamingTo: nil)
    }
}

struct ChatStreamMethod: AsyncRPCMethod {
    static let name = "chatStream"
    static let notificationPolicy = NotificationPolicy.refuseWithWarning

    func handle(_ params: ChatParams, request: RequestContext) async throws -> ChatResult {
        try await ChatRunner(services: request.services).run(params, settings: request.settings, streamingTo: request.id ?? .null)
    }
}
