import XCTest
@testable import LLMWorkerTestSupport

/// Every method's params with a wrong shape at every level: each of several hundred requests gets exactly one
/// answer with its own id, never an internal error, never a crash. (Which field each error names is checked
/// one by one in InvalidParamsTests; this is the table-driven sweep.)
final class HostileParamsTests: XCTestCase {
    /// Values that are wrong somewhere: every JSON type, edge numbers, odd strings, nesting. No URL here points
    /// anywhere but loopback, and no delay is long.
    static let hostileValues: [JSON] = [
        .null, true, false, 0, -1, 1.5, .number("1e308"), .number("-1e308"), .number("9007199254740993"),
        "", "x", "file:///etc/passwd", "http://", "http://127.0.0.1:1/v1", .string(String(repeating: "é", count: 5000)),
        "\u{0}\n\r", [], [1, "a", nil], [:], ["a": ["b": ["c": []]]],
        JSON.parseNested(depth: 200),
    ]

    /// A path into params: keys and array indexes.
    enum Step { case key(String), index(Int) }

    /// (method, valid params, the paths to break). Each path's value is replaced by each hostile value.
    static let table: [(String, JSON, [[Step]])] = {
        let message: JSON = ["role": "user", "content": "hi"]
        let tool: JSON = ["type": "function", "function": ["name": "f", "parameters": ["type": "object"]]]
        let mock: JSON = ["text": "ok", "chunk_chars": 2, "tool_calls": [["name": "f", "arguments": ["a": 1]]],
                          "error": ["kind": "timeout", "after_deltas": 1], "usage": ["prompt_tokens": 1]]
        let chat: JSON = ["messages": [message, ["role": "assistant", "content": nil,
                                                 "tool_calls": [["id": "c", "type": "function", "function": ["name": "f", "arguments": "{}"]]]]],
                          "tools": [tool], "tool_choice": "auto", "model": "mock-1", "temperature": 0.5, "max_tokens": 5,
                          "extra": ["mock": mock, "top_p": 1]]
        let chatPaths: [[Step]] = [
            [], [.key("messages")], [.key("messages"), .index(0)], [.key("messages"), .index(0), .key("role")],
            [.key("messages"), .index(0), .key("content")], [.key("messages"), .index(1), .key("tool_calls")],
            [.key("messages"), .index(1), .key("tool_calls"), .index(0), .key("function"), .key("arguments")],
            [.key("tools")], [.key("tools"), .index(0)], [.key("tools"), .index(0), .key("function")], [.key("tool_choice")],
            [.key("model")], [.key("temperature")], [.key("max_tokens")], [.key("extra")], [.key("extra"), .key("mock")],
            [.key("extra"), .key("mock"), .key("text")], [.key("extra"), .key("mock"), .key("chunk_chars")],
            [.key("extra"), .key("mock"), .key("tool_calls")], [.key("extra"), .key("mock"), .key("tool_calls"), .index(0)],
            [.key("extra"), .key("mock"), .key("tool_calls"), .index(0), .key("arguments")],
            [.key("extra"), .key("mock"), .key("error")], [.key("extra"), .key("mock"), .key("error"), .key("kind")],
            [.key("extra"), .key("mock"), .key("error"), .key("after_deltas")], [.key("extra"), .key("mock"), .key("usage")],
            [.key("extra"), .key("mock"), .key("delay_ms")], [.key("extra"), .key("mock"), .key("unknown")],
        ]
        // Every configure call keeps the mock active (a hostile provider value is refused, so nothing changes).
        let configure: JSON = ["provider": "mock", "model": "mock-1", "headers": ["X-A": "b"], "temperature": 1, "max_tokens": 9,
                               "fallback_models": ["m2"], "routing": ["order": ["a"]], "strip_think": true, "recover_tool_calls": true, "connect_timeout_s": 5,
                               "first_token_timeout_s": 5, "idle_timeout_s": 5, "timeout_s": 10, "max_retries": 1,
                               "max_retry_wait_s": 1, "app_url": "https://example.invalid", "app_title": "t", "mock": ["text": "ok"]]
        let configurePaths: [[Step]] = ["model", "base_url", "api_key", "headers", "temperature", "max_tokens", "fallback_models",
                                        "routing", "strip_think", "recover_tool_calls", "connect_timeout_s", "first_token_timeout_s", "idle_timeout_s",
                                        "timeout_s", "max_retries", "max_retry_wait_s", "app_url", "app_title", "mock", "unknown"]
            .map { [.key($0)] } + [[], [.key("headers"), .key("X-A")], [.key("fallback_models"), .index(0)], [.key("mock"), .key("text")]]
        return [
            ("chat", chat, chatPaths),
            ("chatStream", chat, chatPaths),
            ("configure", configure, configurePaths),
            ("probe", ["provider": "mock", "mock": ["text": "ok"]], [[], [.key("mock")], [.key("temperature")], [.key("model")]]),
            ("listModels", ["provider": "mock", "supports_tools": true, "refresh": false],
             [[], [.key("provider")], [.key("supports_tools")], [.key("refresh")]]),
            ("cancel", ["id": "nothing"], [[], [.key("id")]]),
            ("warm", ["provider": "mock"], [[], [.key("provider")]]),
            ("ping", [:], [[], [.key("extra")]]),
            ("rpc.discover", [:], [[], [.key("x")]]),
        ]
    }()

    static func replacing(_ value: JSON, at path: ArraySlice<Step>, with replacement: JSON) -> JSON {
        guard let step = path.first else { return replacement }
        switch (step, value) {
        case (.key(let key), .object(var object)):
            object[key] = replacing(object[key] ?? .null, at: path.dropFirst(), with: replacement)
            return .object(object)
        case (.index(let index), .array(var array)) where array.indices.contains(index):
            array[index] = replacing(array[index], at: path.dropFirst(), with: replacement)
            return .array(array)
        default:
            return value
        }
    }

    func testWrongShapesAtEveryLevelOfEveryMethodGetOneAnswerEach() throws {
        let worker = try startMockWorker(mock: ["text": "ok"])
        var lines: [String] = []
        var methods: [String: String] = [:]
        for (method, base, paths) in Self.table {
            for path in paths {
                for (v, value) in Self.hostileValues.enumerated() {
                    let id = "\(method)#\(lines.count)#\(v)"
                    let params = Self.replacing(base, at: path[...], with: value)
                    // Params that are not an object are a -32602 of their own; sent here too, as the path [] case.
                    lines.append(RPC.request(method, params, id: .string(id)).text)
                    methods[id] = method
                }
            }
        }
        try worker.sendRaw(Array((lines.joined(separator: "\n") + "\n").utf8), timeout: 60)
        var answered: [String: JSON] = [:]
        while answered.count < lines.count {
            let message = try worker.nextMessage(timeout: 60)
            if message["method"] == "chatStream.delta" { continue }
            guard let id = message["id"]?.string else {
                XCTFail("an answer without one of the ids sent: \(message)")
                continue
            }
            XCTAssertNil(answered[id], "two answers for \(id)")
            answered[id] = message
            if let error = message["error"] {
                let code = error["code"]?.int ?? 0
                XCTAssertNotEqual(code, -32603, "an internal error for \(id): \(message)")
                XCTAssertFalse([-32700, -32600, -32601].contains(code), "a valid envelope was refused (\(id)): \(message)")
                XCTAssertEqual(error.keys, ["code", "message", "data"], "\(message)")
                XCTAssertNotNil(error["data"]?["kind"]?.string, "\(message)")
            } else {
                XCTAssertEqual(message.keys, ["jsonrpc", "id", "result"], "\(message)")
            }
        }
        XCTAssertEqual(Set(answered.keys), Set(methods.keys))
        print("hostile params: \(lines.count) requests, \(answered.values.filter { $0["error"] != nil }.count) refused")
        try worker.assertAlive()
        XCTAssertEqual(try worker.finish(timeout: 30), 0)
    }
}

extension JSON {
    /// `{"a":{"a":…1…}}`, `depth` levels.
    static func parseNested(depth: Int) -> JSON {
        var value: JSON = 1
        for _ in 0..<depth { value = ["a": value] }
        return value
    }
}
