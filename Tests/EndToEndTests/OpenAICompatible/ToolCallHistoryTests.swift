import XCTest
@testable import LLMWorkerTestSupport

/// An assistant message in the history may carry its tool calls as the worker returned them in a ChatResult
/// (`{id, name, arguments, arguments_raw}`), so a client appends them without converting; the server always
/// receives OpenAI's wire shape. What the server received is checked byte for byte.
final class ToolCallHistoryTests: XCTestCase {
    private let user: JSON = ["role": "user", "content": "Weather in Paris?"]

    private func chatBodies(_ server: MockHTTPServer) -> [String] {
        server.requests.filter { $0.method == "POST" && $0.path == "/v1/chat/completions" }.map { $0.bodyString ?? "" }
    }

    func testAResultsToolCallsAppendedAsTheyCameAreSentInTheWireShape() throws {
        let server = try MockHTTPServer()
        let weather = FixtureToolCall(id: "call_w", name: "get_weather", argumentPieces: [#"{"city": "Paris", "days": 2}"#])
        server.enqueue(ServerShape.openAI.completion(content: nil, toolCalls: [weather]))
        server.enqueue(ServerShape.openAI.completion(content: "Sunny."))
        let worker = try startUpstreamWorker(server)

        let first = assertResult(try worker.call("chat", chatRequest([user]), id: 1), id: 1)
        let returned = try XCTUnwrap(first["tool_calls"]?.array)
        XCTAssertEqual(returned, [expectedToolCall(id: "call_w", name: "get_weather", arguments: ["city": "Paris", "days": 2],
                                                   raw: weather.arguments)])
        let handWritten: [JSON] = [
            // The worker's shape with the arguments as a string of JSON, and with none at all.
            ["id": "call_t", "name": "get_time", "arguments": #"{"tz": "Europe/Paris"}"#],
            ["id": "call_n", "name": "get_news", "arguments": nil],
            ["id": "call_h", "name": "get_headlines"],
            // The wire shape: forwarded as given, members the worker does not know included.
            ["id": "call_x", "type": "function", "function": ["name": "get_time", "arguments": #"{"tz":"UTC"}"#], "x_vendor": 1],
        ]
        let assistant: JSON = ["role": "assistant", "content": nil, "tool_calls": .array(returned + handWritten)]
        let tool: JSON = ["role": "tool", "tool_call_id": "call_w", "content": "18 C"]
        let second = assertResult(try worker.call("chat", chatRequest([user, assistant, tool]), id: 2), id: 2)
        XCTAssertEqual(second["content"], "Sunny.")

        let bodies = chatBodies(server)
        XCTAssertEqual(bodies.count, 2)
        // The ToolCall's `arguments` object is sent (serialized, keys sorted), not its `arguments_raw`.
        let expected: [String] = [
            #"{"messages":[{"content":"Weather in Paris?","role":"user"},{"content":null,"role":"assistant","tool_calls":["#,
            #"{"function":{"arguments":"{\"city\":\"Paris\",\"days\":2}","name":"get_weather"},"id":"call_w","type":"function"},"#,
            #"{"function":{"arguments":"{\"tz\": \"Europe/Paris\"}","name":"get_time"},"id":"call_t","type":"function"},"#,
            #"{"function":{"arguments":"{}","name":"get_news"},"id":"call_n","type":"function"},"#,
            #"{"function":{"arguments":"{}","name":"get_headlines"},"id":"call_h","type":"function"},"#,
            #"{"function":{"arguments":"{\"tz\":\"UTC\"}","name":"get_time"},"id":"call_x","type":"function","x_vendor":1}]},"#,
            #"{"content":"18 C","role":"tool","tool_call_id":"call_w"}],"model":"test-model"}"#,
        ]
        XCTAssertEqual(bodies.last, expected.joined())
    }

    func testWireShapeToolCallsAreForwardedUnchangedExceptObjectArguments() throws {
        let server = try MockHTTPServer()
        server.enqueue(ServerShape.openAI.completion(content: "ok"))
        let worker = try startUpstreamWorker(server)
        let assistant: JSON = ["role": "assistant", "content": "", "tool_calls": [
            ["id": "a", "type": "function", "function": ["name": "f", "arguments": ["x": ["y": true]]]],
            ["id": "b", "type": "function", "function": ["name": "g", "arguments": "not json, the server's to judge"]],
        ]]
        assertResult(try worker.call("chat", chatRequest([user, assistant, ["role": "tool", "tool_call_id": "a", "content": "1"]]), id: 1), id: 1)
        let expected: [String] = [
            #"{"messages":[{"content":"Weather in Paris?","role":"user"},{"content":"","role":"assistant","tool_calls":["#,
            #"{"function":{"arguments":"{\"x\":{\"y\":true}}","name":"f"},"id":"a","type":"function"},"#,
            #"{"function":{"arguments":"not json, the server's to judge","name":"g"},"id":"b","type":"function"}]},"#,
            #"{"content":"1","role":"tool","tool_call_id":"a"}],"model":"test-model"}"#,
        ]
        XCTAssertEqual(chatBodies(server), [expected.joined()])
    }

    func testAMalformedToolCallIsInvalidParamsNamingItAndNothingIsSent() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        let cases: [(calls: JSON, field: String)] = [
            ("get_weather", "messages[1].tool_calls"),
            (["id": "a", "name": "f"], "messages[1].tool_calls"),
            (["not a call"], "messages[1].tool_calls[0]"),
            ([["id": "a", "name": "f"], 7], "messages[1].tool_calls[1]"),
            ([["id": "a", "arguments": ["x": 1]]], "messages[1].tool_calls[0].name"),
            ([["id": "a", "name": ""]], "messages[1].tool_calls[0].name"),
            ([["id": "a", "name": 5]], "messages[1].tool_calls[0].name"),
            ([["name": "f"]], "messages[1].tool_calls[0].id"),
            ([["id": 12, "name": "f"]], "messages[1].tool_calls[0].id"),
            ([["id": "a", "name": "f", "arguments": [1, 2]]], "messages[1].tool_calls[0].arguments"),
            ([["id": "a", "name": "f", "arguments": true]], "messages[1].tool_calls[0].arguments"),
        ]
        for (n, item) in cases.enumerated() {
            let id = JSON.number(String(n))
            let assistant: JSON = ["role": "assistant", "content": nil, "tool_calls": item.calls]
            assertInvalidParams(try worker.call("chat", chatRequest([user, assistant]), id: id), id: id, field: item.field)
            assertInvalidParams(try worker.call("chatStream", chatRequest([user, assistant]), id: id), id: id, field: item.field)
        }
        // null and [] are what many clients write for "no tool calls": accepted.
        server.enqueue(contentsOf: [ServerShape.openAI.completion(content: "a"), ServerShape.openAI.completion(content: "b")])
        for (n, calls) in [JSON.null, []].enumerated() {
            let assistant: JSON = ["role": "assistant", "content": "Hi.", "tool_calls": calls]
            let id = JSON.string("ok-\(n)")
            assertResult(try worker.call("chat", chatRequest([user, assistant]), id: id), id: id)
        }
        XCTAssertEqual(chatBodies(server).count, 2, "no malformed history reached the server")
    }
}
