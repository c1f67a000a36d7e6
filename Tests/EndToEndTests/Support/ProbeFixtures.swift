import XCTest
@testable import LLMWorkerTestSupport

/// Servers for `probe`: a handler answering the four checks (model list, chat, stream, chat with a tool) the
/// way a healthy OpenAI-compatible server or OpenRouter does, with hooks to break one of them.
enum ProbeServer {
    /// The prompt and tool the probe sends (its request bodies are checked exactly).
    static let prompt: JSON = [["role": "user", "content": "Reply with the single word: ok"]]
    static let tool: JSON = ["type": "function", "function": [
        "name": "get_time", "description": "Returns the current time.",
        "parameters": ["type": "object", "properties": [:]],
    ]]

    enum Request { case models, chat, stream, tools, other }

    static func kind(of request: RecordedRequest) -> Request {
        if request.method == "GET", request.pathWithoutQuery.hasSuffix("/models") { return .models }
        guard request.method == "POST", request.pathWithoutQuery.hasSuffix("/chat/completions") else { return .other }
        let body = request.json
        if body["stream"] == true { return .stream }
        if body["tools"] != nil { return .tools }
        return .chat
    }

    /// Answers every check; `override` may answer any request differently (return nil to keep the default).
    static func handler(models: JSON = ["object": "list", "data": [["id": "local-model", "object": "model", "owned_by": "me"],
                                                                   ["id": "other-model", "object": "model", "owned_by": "me"]]],
                        upstream: String? = nil,
                        override: (@Sendable (Request, RecordedRequest) -> MockResponse?)? = nil) -> MockHTTPServer.Handler {
        { request in
            let kind = kind(of: request)
            if let response = override?(kind, request) { return response }
            let model = request.json["model"]?.string ?? "unknown"
            switch kind {
            case .models:
                return OR.json(models)
            case .chat, .tools:
                return OR.json(OR.completion("ok", model: model, provider: upstream, usage: OR.usage(prompt: 14, completion: 1)))
            case .stream:
                return OR.stream([.event(OR.chunk(OR.content("ok"), model: model, provider: upstream)),
                                  .event(OR.chunk([:], finishReason: "stop", model: model, provider: upstream,
                                                  usage: OR.usage(prompt: 14, completion: 1)))])
            case .other:
                return .notScripted(method: request.method, path: request.path)
            }
        }
    }
}

/// A probe report with every `ms` and `ttft_ms` checked (a number, not negative) and then removed, so the
/// rest can be compared exactly.
func withoutTimings(_ report: JSON, file: StaticString = #filePath, line: UInt = #line) -> JSON {
    guard var object = report.object, var checks = report["checks"]?.object else {
        XCTFail("not a probe report: \(report)", file: file, line: line)
        return report
    }
    for (name, check) in checks {
        guard var fields = check.object else { continue }
        for key in ["ms", "ttft_ms"] where fields[key] != nil {
            XCTAssertGreaterThanOrEqual(fields[key]?.double ?? -1, 0, "\(name).\(key) in \(report)", file: file, line: line)
            fields[key] = nil
        }
        XCTAssertNotNil(check["ms"]?.double, "\(name) has ms: \(report)", file: file, line: line)
        checks[name] = .object(fields)
    }
    object["checks"] = .object(checks)
    return .object(object)
}

/// A check that passed, without its timing.
func passed(_ extra: [String: JSON] = [:]) -> JSON {
    var fields: [String: JSON] = ["ok": true]
    fields.merge(extra) { _, new in new }
    return .object(fields)
}

/// A check that failed with this flattened error.
func failed(code: Int, kind: String, status: Int? = nil, message: String) -> JSON {
    var error: [String: JSON] = ["code": .number(String(code)), "kind": .string(kind), "message": .string(message)]
    if let status { error["status"] = .number(String(status)) }
    return ["ok": false, "error": .object(error)]
}
