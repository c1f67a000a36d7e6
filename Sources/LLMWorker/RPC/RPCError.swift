import Foundation

/// A JSON-RPC error object, ready to be written.
public struct RPCError: Error, Sendable, Equatable {
    public var code: Int
    public var message: String
    public var data: JSONValue?

    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// The JSON-RPC 2.0 error codes, named once.
    public enum Code {
        public static let parseError = -32700
        public static let invalidRequest = -32600
        public static let methodNotFound = -32601
        public static let invalidParams = -32602
        public static let internalError = -32603
    }

    public static func parseError(_ detail: String) -> RPCError {
        RPCError(code: Code.parseError, message: "Parse error: \(detail)", data: .object(["kind": .string("parse_error")]))
    }

    public static func invalidRequest(_ detail: String) -> RPCError {
        RPCError(code: Code.invalidRequest, message: "Invalid Request: \(detail)", data: .object(["kind": .string("invalid_request")]))
    }

    public static func methodNotFound(_ method: String) -> RPCError {
        RPCError(code: Code.methodNotFound, message: "Method not found: '\(method)'. Call rpc.discover for the list of methods.",
                 data: .object(["kind": .string("method_not_found"), "method": .string(method)]))
    }

    public static func internalError(_ detail: String) -> RPCError {
        RPCError(code: Code.internalError, message: "Internal error: \(detail)", data: .object(["kind": .string("internal")]))
    }

    /// A request read once the worker was shutting down (after a `shutdown` line, the end of input or a signal).
    static func shuttingDown() -> RPCError {
        RPCError(code: Code.internalError, message: "The worker is shutting down and takes no new requests.",
                 data: .object(["kind": .string("shutting_down")]))
    }
}

extension RPCError: Encodable {
    enum CodingKeys: String, CodingKey { case code, message, data }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(code, forKey: .code)
        try container.encode(message, forKey: .message)
        try container.encodeIfPresent(data, forKey: .data)
    }
}

/// -32602: params that do not fit the method, always naming the offending field.
public struct InvalidParams: Error, Sendable, Equatable {
    public var field: String
    public var problem: String

    public init(field: String, _ problem: String) {
        self.field = field
        self.problem = problem
    }

    public var rpcError: RPCError {
        RPCError(code: RPCError.Code.invalidParams, message: "Invalid params: '\(field)' \(problem)",
                 data: .object(["kind": .string("invalid_params"), "field": .string(field)]))
    }
}
