import Foundation

/// The OpenRPC description of the protocol, as served by `rpc.discover` (embedded from protocol/openrpc.json).
enum OpenRPCDocument {
    static func value() throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }
}
