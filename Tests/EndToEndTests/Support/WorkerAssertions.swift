import XCTest
@testable import LLMWorkerTestSupport

/// Building protocol lines and checking the worker's answers exactly: every expected object is compared
/// whole, so a missing or extra key fails the test.
enum RPC {
    static func request(_ method: String, _ params: JSON? = nil, id: JSON) -> JSON {
        var message: [String: JSON] = ["jsonrpc": "2.0", "method": .string(method), "id": id]
        if let params { message["params"] = params }
        return .object(message)
    }

    static func notification(_ method: String, _ params: JSON? = nil) -> JSON {
        var message: [String: JSON] = ["jsonrpc": "2.0", "method": .string(method)]
        if let params { message["params"] = params }
        return .object(message)
    }

    /// `messages` with one user message.
    static func userMessages(_ text: String) -> JSON {
        [["role": "user", "content": .string(text)]]
    }

    /// chat / chatStream params: one user message, plus `extra.mock` when given.
    static func chatParams(_ text: String = "hi", mock: JSON? = nil) -> JSON {
        var params: [String: JSON] = ["messages": userMessages(text)]
        if let mock { params["extra"] = ["mock": mock] }
        return .object(params)
    }

    /// The exact `error.data` of the protocol errors that are not provider failures.
    static let parseErrorData: JSON = ["kind": "parse_error"]
    static let invalidRequestData: JSON = ["kind": "invalid_request"]
    static func invalidParamsData(_ field: String) -> JSON { ["kind": "invalid_params", "field": .string(field)] }
    static func methodNotFoundData(_ method: String) -> JSON { ["kind": "method_not_found", "method": .string(method)] }

    static let pingResultKeys: Set<String> = ["ok", "version", "in_flight"]
    static let chatResultKeys: Set<String> = ["content", "reasoning", "tool_calls", "finish_reason", "usage", "model",
                                              "provider", "upstream_provider", "timing", "warnings"]
}

/// Checks that `message` is exactly `{"jsonrpc":"2.0","id":<id>,"result":…}` and returns the result.
@discardableResult
func assertResult(_ message: JSON, id: JSON, file: StaticString = #filePath, line: UInt = #line) -> JSON {
    XCTAssertEqual(message.keys, ["jsonrpc", "id", "result"], "not a success response: \(message)", file: file, line: line)
    XCTAssertEqual(message["jsonrpc"], "2.0", file: file, line: line)
    XCTAssertEqual(message["id"], id, "id not echoed with its type and value: \(message)", file: file, line: line)
    return message["result"] ?? .null
}

/// Checks that `message` is exactly `{"jsonrpc":"2.0","id":<id>,"error":{"code":<code>,"message":<text>,"data":<data>}}`
/// with a non-empty message that contains each of `mentioning`.
func assertError(_ message: JSON, id: JSON, code: Int, data: JSON, mentioning: [String] = [],
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(message.keys, ["jsonrpc", "id", "error"], "not an error response: \(message)", file: file, line: line)
    XCTAssertEqual(message["jsonrpc"], "2.0", file: file, line: line)
    XCTAssertEqual(message["id"], id, "wrong id in \(message)", file: file, line: line)
    let error = message["error"] ?? .null
    XCTAssertEqual(error.keys, ["code", "message", "data"], "error object: \(error)", file: file, line: line)
    XCTAssertEqual(error["code"]?.int, code, "error code in \(message)", file: file, line: line)
    XCTAssertEqual(error["data"], data, "error data in \(message)", file: file, line: line)
    let text = error["message"]?.string ?? ""
    XCTAssertFalse(text.isEmpty, "error message is empty or not a string: \(message)", file: file, line: line)
    for word in mentioning {
        XCTAssertTrue(text.contains(word), "error message does not mention '\(word)': \(text)", file: file, line: line)
    }
}

/// -32602 naming `field` in both `data.field` and the message.
func assertInvalidParams(_ message: JSON, id: JSON, field: String, file: StaticString = #filePath, line: UInt = #line) {
    assertError(message, id: id, code: -32602, data: RPC.invalidParamsData(field), mentioning: [field], file: file, line: line)
}

/// A provider-style error: checks code, the kind and the keys every provider error carries; returns `error.data`.
@discardableResult
func assertProviderError(_ message: JSON, id: JSON, code: Int, kind: String,
                         file: StaticString = #filePath, line: UInt = #line) -> JSON {
    XCTAssertEqual(message.keys, ["jsonrpc", "id", "error"], "not an error response: \(message)", file: file, line: line)
    XCTAssertEqual(message["id"], id, "wrong id in \(message)", file: file, line: line)
    let error = message["error"] ?? .null
    XCTAssertEqual(error.keys, ["code", "message", "data"], file: file, line: line)
    XCTAssertEqual(error["code"]?.int, code, "error code in \(message)", file: file, line: line)
    let data = error["data"] ?? .null
    XCTAssertEqual(data["kind"], .string(kind), file: file, line: line)
    XCTAssertTrue(data.keys.isSuperset(of: ["kind", "status", "retryable", "provider"]), "error.data keys: \(data)", file: file, line: line)
    return data
}
