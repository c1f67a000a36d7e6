struct ChatMethod: AsyncRPCMethod {
    static let name = "chat"
    static let notificationPolicy = NotificationPolicy.refuseWithWarning

    func handle(_ params: ChatParams, call: CallContext) async throws -> ChatResult {
        try await ChatRunner(worker: call.worker).run(params, settings: call.settings, streamingTo: nil)
    }
}

struct ChatStreamMethod: AsyncRPCMethod {
    static let name = "chatStream"
    static let notificationPolicy = NotificationPolicy.refuseWithWarning

    func handle(_ params: ChatParams, call: CallContext) async throws -> ChatResult {
        try await ChatRunner(worker: call.worker).run(params, settings: call.settings, streamingTo: call.id ?? .null)
    }
}
