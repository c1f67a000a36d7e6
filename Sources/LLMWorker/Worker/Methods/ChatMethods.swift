struct ChatMethod: RPCMethod {
    static let name = "chat"

    func handle(_ params: ChatParams, call: CallContext) async throws -> ChatResult {
        try await ChatRunner(worker: call.worker).run(params, settings: call.settings, streamingTo: nil)
    }
}

struct ChatStreamMethod: RPCMethod {
    static let name = "chatStream"

    func handle(_ params: ChatParams, call: CallContext) async throws -> ChatResult {
        try await ChatRunner(worker: call.worker).run(params, settings: call.settings, streamingTo: call.id ?? .null)
    }
}
