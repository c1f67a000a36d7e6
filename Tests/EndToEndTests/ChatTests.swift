import XCTest
@testable import LLMWorkerTestSupport

/// `chat` through the mock provider, and the provider error codes every kind is sent with.
final class ChatTests: XCTestCase {
    func testChatAnswersWithTheExactResultAndNoDeltas() throws {
        let worker = try startMockWorker()
        let result = assertResult(try worker.call("chat", RPC.chatParams("what time is it"), id: "c"), id: "c")
        XCTAssertEqual(result.keys, RPC.chatResultKeys)
        XCTAssertEqual(result.removing("timing"), [
            "content": "You said: what time is it", "reasoning": nil, "tool_calls": [], "finish_reason": "stop",
            "usage": ["prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10],
            "model": "mock-1", "provider": "mock", "upstream_provider": nil, "warnings": [],
        ])
        XCTAssertEqual(result["timing"]?.keys, ["ttft_ms", "total_ms"])
        XCTAssertNotNil(result["timing"]?["ttft_ms"]?.double, "a non-streamed answer's first token is its whole answer")
        XCTAssertEqual(try worker.finish(), 0)
        XCTAssertEqual(try worker.remainingMessages(), [], "no delta for a non-streamed chat")
    }

    func testScriptedAnswerModelUsageAndFinishReason() throws {
        let worker = try startMockWorker(mock: ["text": "default", "usage": ["prompt_tokens": 11, "completion_tokens": 3]])
        var params = RPC.chatParams(mock: ["reasoning": "r", "finish_reason": "length"]).object ?? [:]
        params["model"] = "my-model"
        let result = assertResult(try worker.call("chat", .object(params)), id: 1)
        XCTAssertEqual(result["content"], "default", "configure's mock script applies")
        XCTAssertEqual(result["reasoning"], "r", "the request's extra.mock adds to it")
        XCTAssertEqual(result["finish_reason"], "length")
        XCTAssertEqual(result["model"], "my-model", "the request's model wins")
        XCTAssertEqual(result["usage"], ["prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14])
    }

    func testToolCallArgumentsAreAlwaysAnObject() throws {
        let worker = try startMockWorker()
        let mock: JSON = ["tool_calls": [
            ["name": "a", "arguments": ["x": 1]],
            ["name": "b", "arguments": #"{"y": [1, 2]}"#],
            ["name": "c", "arguments": "not json"],
            ["name": "d", "arguments": "[1]"],
            ["name": "e"],
        ]]
        let result = assertResult(try worker.call("chat", RPC.chatParams(mock: mock)), id: 1)
        XCTAssertEqual(result["finish_reason"], "tool_calls")
        let calls = result["tool_calls"]?.array ?? []
        XCTAssertEqual(calls.count, 5)
        XCTAssertEqual(calls.map { $0["arguments"] }, [["x": 1], ["y": [1, 2]], [:], [:], [:]])
        XCTAssertEqual(calls.map { $0["arguments_raw"] }, [#"{"x":1}"#, #"{"y": [1, 2]}"#, "not json", "[1]", "{}"])
        XCTAssertEqual(calls.map { $0["name"] }, ["a", "b", "c", "d", "e"])
        for call in calls { XCTAssertEqual(call.keys, ["id", "name", "arguments", "arguments_raw"]) }
        XCTAssertEqual(result["warnings"]?.array?.count, 2, "one warning per malformed arguments: \(result)")
    }

    /// Each provider error kind goes out with its documented code, `retryable` and `status`.
    func testEveryErrorKindHasItsCode() throws {
        let worker = try startMockWorker()
        let table: [(String, Int, Bool)] = [
            ("auth", -32001, false), ("rate_limited", -32002, true), ("insufficient_credits", -32003, false),
            ("content_blocked", -32004, false), ("not_found", -32005, false), ("bad_request", -32006, false),
            ("context_length", -32006, false), ("upstream_error", -32007, true), ("unavailable", -32007, true),
            ("invalid_response", -32007, false), ("timeout", -32008, true), ("connection", -32009, true),
            ("not_configured", -32010, false), ("cancelled", -32800, false),
        ]
        for (index, (kind, code, retryable)) in table.enumerated() {
            let mock: JSON = ["error": ["kind": .string(kind), "status": 418, "message": "scripted"]]
            for method in ["chat", "chatStream"] {
                let id = JSON.number("\(index)")
                let reply = try worker.call(method, RPC.chatParams(mock: mock), id: id)
                let data = assertProviderError(reply, id: id, code: code, kind: kind)
                XCTAssertEqual(data.removing("partial_content", "partial_tool_calls"),
                               ["kind": .string(kind), "status": 418, "retryable": .bool(retryable), "provider": "mock"], "\(method) \(kind)")
                XCTAssertEqual(reply["error"]?["message"], "scripted")
            }
        }
    }

    func testChatBeforeAnyConfigureIsNotConfigured() throws {
        let worker = try startWorker()
        for method in ["chat", "chatStream"] {
            let data = assertProviderError(try worker.call(method, RPC.chatParams()), id: 1, code: -32010, kind: "not_configured")
            XCTAssertEqual(data, ["kind": "not_configured", "status": nil, "retryable": false, "provider": nil])
        }
    }

    func testOpenAICompatibleWithoutBaseURLIsNotConfigured() throws {
        let worker = try startWorker()
        assertResult(try worker.call("configure", ["provider": "openai_compatible", "model": "m"], id: "c"), id: "c")
        let data = assertProviderError(try worker.call("chat", RPC.chatParams()), id: 1, code: -32010, kind: "not_configured")
        XCTAssertEqual(data["provider"], "openai_compatible")
        XCTAssertTrue(try worker.call("chat", RPC.chatParams(), id: 2)["error"]?["message"]?.string?.contains("base_url") ?? false)
    }

    func testListModelsOfTheMock() throws {
        let worker = try startMockWorker()
        let first = assertResult(try worker.call("listModels", id: 1), id: 1)
        XCTAssertEqual(first, ["provider": "mock", "cached": false,
                               "models": [["id": "mock-1", "name": "Mock model", "supports_tools": true, "owned_by": "caal-llm-worker"]]])
        XCTAssertEqual(assertResult(try worker.call("listModels", id: 2), id: 2)["cached"], true)
        XCTAssertEqual(assertResult(try worker.call("listModels", ["refresh": true], id: 3), id: 3)["cached"], false)
        assertInvalidParams(try worker.call("listModels", ["provider": "nope"], id: 4), id: 4, field: "provider")
        assertInvalidParams(try worker.call("listModels", ["refresh": "yes"], id: 5), id: 5, field: "refresh")
    }
}
