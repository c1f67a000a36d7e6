import Foundation

struct DiscoverMethod: AsyncRPCMethod {
    static let name = "rpc.discover"
    static let notificationPolicy = NotificationPolicy.drop

    func handle(_ params: NoParams, request: RequestContext) async throws -> JSONValue {
        try OpenRPCDocument.value()
    }
}
