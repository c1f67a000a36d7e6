import XCTest
@testable import LLMWorkerTestSupport

/// -32602 for params that do not fit the method, naming the offending field in `error.data.field` and in the
/// message; unknown methods -32601.
final class InvalidParamsTests: XCTestCase {
    private func expectInvalid(_ worker: WorkerProcess, _ method: String, _ params: JSON, field: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let reply = try worker.call(method, params, id: "bad")
        assertInvalidParams(reply, id: "bad", field: field, file: file, line: line)
    }

    func testConfigureRejectsEachInvalidField() throws {
        let worker = try startWorker()
        let cases: [(JSON, String)] = [
            (["provider": "mock", "temperature": 2.5], "temperature"),
            (["provider": "mock", "temperature": -0.1], "temperature"),
            (["provider": "mock", "temperature": "hot"], "temperature"),
            (["provider": "mock", "max_tokens": 0], "max_tokens"),
            (["provider": "mock", "max_tokens": -1], "max_tokens"),
            (["provider": "mock", "max_tokens": "x"], "max_tokens"),
            (["provider": "mock", "max_tokens": 1.5], "max_tokens"),
            (["provider": "openai_compatible", "base_url": "file:///etc/passwd"], "base_url"),
            (["provider": "openai_compatible", "base_url": "http://"], "base_url"),
            (["provider": "openai_compatible", "base_url": "localhost:1234"], "base_url"),
            (["provider": "openai_compatible", "base_url": "not a url"], "base_url"),
            (["provider": "ollama"], "provider"),
            (["provider": nil], "provider"),
            (["provider": 3], "provider"),
            (["provider": "mock", "connect_timeout_s": 0], "connect_timeout_s"),
            (["provider": "mock", "first_token_timeout_s": -1], "first_token_timeout_s"),
            (["provider": "mock", "idle_timeout_s": 0], "idle_timeout_s"),
            (["provider": "mock", "timeout_s": -5], "timeout_s"),
            (["provider": "mock", "max_retries": 11], "max_retries"),
            (["provider": "mock", "max_retries": 1.5], "max_retries"),
            (["provider": "mock", "max_retry_wait_s": -1], "max_retry_wait_s"),
            (["provider": "mock", "headers": ["Bad Header": "x"]], "headers.Bad Header"),
            (["provider": "mock", "headers": ["X-Ok": 1]], "headers.X-Ok"),
            (["provider": "mock", "fallback_models": "m"], "fallback_models"),
            (["provider": "mock", "api_key": "line\nbreak"], "api_key"),
            (["provider": "mock", "strip_think": "yes"], "strip_think"),
            (["provider": "mock", "recover_tool_calls": 1], "recover_tool_calls"),
            (["temperature": 1], "provider"),
        ]
        for (params, field) in cases {
            try expectInvalid(worker, "configure", params, field: field)
        }
        try expectInvalid(worker, "probe", ["provider": "mock", "temperature": 3], field: "temperature")
    }

    func testChatAndChatStreamRejectEachInvalidField() throws {
        let worker = try startMockWorker()
        let user: JSON = ["role": "user", "content": "hi"]
        let cases: [(JSON, String)] = [
            ([:], "messages"),
            (["messages": []], "messages"),
            (["messages": "hi"], "messages"),
            (["messages": nil], "messages"),
            (["messages": ["hi"]], "messages[0]"),
            (["messages": [user, 5]], "messages[1]"),
            (["messages": [["content": "hi"]]], "messages[0].role"),
            (["messages": [user, ["role": 1, "content": "x"]]], "messages[1].role"),
            (["messages": [user], "temperature": 3], "temperature"),
            (["messages": [user], "max_tokens": 0], "max_tokens"),
            (["messages": [user], "max_tokens": "x"], "max_tokens"),
            (["messages": [user], "max_tokens": 2.5], "max_tokens"),
            (["messages": [user], "tools": [1]], "tools[0]"),
            (["messages": [user], "tools": "x"], "tools"),
            (["messages": [user], "model": 5], "model"),
            (["messages": [user], "extra": ["model": "x"]], "extra.model"),
            (["messages": [user], "extra": ["stream": true]], "extra.stream"),
            (["messages": [user], "extra": ["messages": []]], "extra.messages"),
            (["messages": [user], "extra": ["stream_options": [:]]], "extra.stream_options"),
            (["messages": [user], "extra": ["tools": []]], "extra.tools"),
            (["messages": [user], "extra": "x"], "extra"),
            (["messages": [user], "extra": ["mock": ["chunk_chars": -1]]], "extra.mock.chunk_chars"),
            (["messages": [user], "extra": ["mock": ["error": ["kind": "nope"]]]], "extra.mock.error.kind"),
            (["messages": [user], "extra": ["mock": ["bogus": 1]]], "extra.mock.bogus"),
            (["messages": [user], "extra": ["mock": ["error": ["kind": "auth", "status": 12_345_678_901_234_567_890.0]]]], "extra.mock.error.status"),
            (["messages": [user], "extra": ["mock": ["error": ["kind": "auth", "status": 42]]]], "extra.mock.error.status"),
            (["messages": [user], "extra": ["mock": ["error": ["kind": "auth", "status": "500"]]]], "extra.mock.error.status"),
            (["messages": [user], "extra": ["mock": ["error": ["kind": "auth", "after_deltas": -1]]]], "extra.mock.error.after_deltas"),
            (["messages": [user], "extra": ["mock": ["error": ["kind": "auth", "message": 5]]]], "extra.mock.error.message"),
            (["messages": [user], "extra": ["mock": ["usage": ["prompt_tokens": 9_223_372_036_854_775_807]]]], "extra.mock.usage.prompt_tokens"),
            (["messages": [user], "extra": ["mock": ["tool_calls": [["name": "f", "id": 7]]]]], "extra.mock.tool_calls[0].id"),
        ]
        for method in ["chat", "chatStream"] {
            for (params, field) in cases {
                try expectInvalid(worker, method, params, field: field)
            }
        }
        XCTAssertEqual(try worker.finish(), 0)
        XCTAssertEqual(try worker.remainingMessages(), [], "an invalid chatStream sends no delta")
    }

    func testCancelWithoutIDAndOtherMethodsParams() throws {
        let worker = try startWorker()
        try expectInvalid(worker, "cancel", [:], field: "id")
        try expectInvalid(worker, "cancel", ["id": [1]], field: "id")
        try expectInvalid(worker, "listModels", ["supports_tools": "yes"], field: "supports_tools")
        try expectInvalid(worker, "warm", ["provider": 5], field: "provider")
        try expectInvalid(worker, "warm", ["provider": "nope"], field: "provider")
    }

    func testParamsThatAreNotAnObject() throws {
        let worker = try startWorker()
        for params in [#"[1,2]"#, #""x""#, "3", "true", "null"] {
            try worker.send(#"{"jsonrpc":"2.0","id":7,"method":"ping","params":\#(params)}"#)
            assertInvalidParams(try worker.nextMessage(), id: 7, field: "params")
        }
    }

    func testUnknownMethodsAreMethodNotFound() throws {
        let worker = try startWorker()
        for method in ["nope", "Ping", "chat.stream", "rpc.nope", "", "chatStream.delta"] {
            let reply = try worker.call(method, id: "m")
            assertError(reply, id: "m", code: -32601, data: RPC.methodNotFoundData(method))
        }
    }
}
