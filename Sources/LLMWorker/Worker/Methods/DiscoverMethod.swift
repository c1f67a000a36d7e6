import Foundation

struct DiscoverMethod: RPCMethod {
    static let name = "rpc.discover"

    func handle(_ params: NoParams, call: CallContext) async throws -> JSONValue {
        try OpenRPCDocument.value()
    }
}
