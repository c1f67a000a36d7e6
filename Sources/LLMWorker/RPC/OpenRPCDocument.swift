import Foundation

/// The OpenRPC description of the protocol, as served by `rpc.discover` (embedded from protocol/openrpc.json).
enum OpenRPCDocument {
    static func value() throws -> JSONValue {
        try parsed.get()
    }

    /// Parsed once: `rpc.discover` is answered without decoding the whole document each time.
    private static let parsed = Result { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }
}
