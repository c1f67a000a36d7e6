import XCTest
@testable import LLMWorkerTestSupport

/// Issue 3's "Done when": CAAL's voice turn through the binary against every server shape. `chat` with tools
/// → a tool call → the tool's result → `chat` again (a second tool call) → its result → `chatStream` for the
/// spoken answer, each round built from the previous result the way CAAL builds it.
final class ToolConversationTests: XCTestCase {
    private let system: JSON = ["role": "system", "content": "You are a helpful voice assistant."]
    private let user: JSON = ["role": "user", "content": "What's the weather in Paris, and what time is it there?"]

    /// The assistant message CAAL appends for a result with tool calls (arguments as the object the worker gave).
    private func assistantMessage(_ result: JSON) -> JSON {
        let calls = (result["tool_calls"]?.array ?? []).map { call -> JSON in
            ["id": call["id"] ?? nil, "type": "function",
             "function": ["name": call["name"] ?? nil, "arguments": call["arguments"] ?? nil]]
        }
        return ["role": "assistant", "content": result["content"] ?? nil, "tool_calls": .array(calls)]
    }

    private func toolMessage(id: String, _ content: String) -> JSON {
        ["role": "tool", "tool_call_id": .string(id), "content": .string(content)]
    }

    func testMultiRoundToolConversationWithEveryServerShape() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        for shape in ServerShape.allCases {
            let before = server.requests.count
            let weather = FixtureToolCall(id: shape.toolCallID(0), name: "get_weather", argumentPieces: [#"{"city": "Paris"}"#])
            let time = FixtureToolCall(id: shape.toolCallID(1), name: "get_time", argumentPieces: [#"{"tz":"Europe/Paris"}"#])
            server.enqueue(shape.completion(content: nil, toolCalls: [weather]))
            server.enqueue(shape.completion(content: nil, toolCalls: [time]))
            server.enqueue(shape.textStream(reasoning: ["Weather and time ", "are known."],
                                            content: ["It's 18 degrees", " and sunny in Paris,", " and it is 14:05."],
                                            usage: FixtureUsage(prompt: 90, completion: 16)).response(delay: 0.002))
            let tools: JSON = [weatherTool, timeTool]

            // Round 1: the model calls get_weather.
            var messages: [JSON] = [system, user]
            let first = try worker.call("chat", chatRequest(.array(messages), tools: tools, toolChoice: "auto"), id: .string("\(shape)-1"))
            let firstResult = assertChatResult(first, id: .string("\(shape)-1"), expectedResult(
                content: nil,
                toolCalls: [expectedToolCall(id: weather.id, name: "get_weather", arguments: ["city": "Paris"], raw: weather.arguments)],
                finishReason: "tool_calls", usage: shape.expectedUsage(FixtureUsage(prompt: 30, completion: 9)), model: shape.model,
                upstreamProvider: shape.upstreamProvider))
            messages += [assistantMessage(firstResult), toolMessage(id: weather.id, #"{"temp_c": 18, "sky": "sunny"}"#)]

            // Round 2: with the weather known, the model calls get_time.
            let second = try worker.call("chat", chatRequest(.array(messages), tools: tools, toolChoice: "auto"), id: .string("\(shape)-2"))
            let secondResult = assertChatResult(second, id: .string("\(shape)-2"), expectedResult(
                content: nil,
                toolCalls: [expectedToolCall(id: time.id, name: "get_time", arguments: ["tz": "Europe/Paris"], raw: time.arguments)],
                finishReason: "tool_calls", usage: shape.expectedUsage(FixtureUsage(prompt: 30, completion: 9)), model: shape.model,
                upstreamProvider: shape.upstreamProvider))
            messages += [assistantMessage(secondResult), toolMessage(id: time.id, "14:05")]

            // Round 3: the spoken answer, streamed, tools offered but not to be called.
            let streamID = JSON.string("\(shape)-3")
            let (deltas, response) = try worker.stream(chatRequest(.array(messages), tools: tools, toolChoice: "none"), id: streamID)
            let transcript = checkDeltas(deltas, id: streamID)
            let answer = "It's 18 degrees and sunny in Paris, and it is 14:05."
            XCTAssertEqual(transcript.content, answer, "\(shape)")
            XCTAssertEqual(transcript.reasoning, "Weather and time are known.", "\(shape)")
            assertChatResult(response, id: streamID, expectedResult(
                content: answer, reasoning: "Weather and time are known.",
                usage: shape.expectedUsage(FixtureUsage(prompt: 90, completion: 16)), model: shape.model,
                upstreamProvider: shape.upstreamProvider))

            // What the server was sent: the conversation grows, tool calls in the OpenAI wire format.
            let sent = server.requests.dropFirst(before).map(\.json)
            XCTAssertEqual(sent.count, 3, "\(shape)")
            guard sent.count == 3 else { continue }
            let wireCall = { (call: FixtureToolCall) -> JSON in
                ["role": "assistant", "content": nil, "tool_calls": [
                    ["id": .string(call.id), "type": "function", "function": ["name": .string(call.name), "arguments": .string(call.arguments)]],
                ]]
            }
            let round2: [JSON] = [system, user, wireCall(weather), toolMessage(id: weather.id, #"{"temp_c": 18, "sky": "sunny"}"#)]
            let round3: [JSON] = round2 + [wireCall(time), toolMessage(id: time.id, "14:05")]
            XCTAssertEqual(sent[0], ["model": "test-model", "messages": [system, user], "tools": tools, "tool_choice": "auto"], "\(shape)")
            XCTAssertEqual(normalizedArguments(sent[1]), ["model": "test-model", "messages": .array(round2), "tools": tools,
                                                           "tool_choice": "auto"], "\(shape)")
            XCTAssertEqual(normalizedArguments(sent[2]), ["model": "test-model", "messages": .array(round3), "tools": tools,
                                                           "tool_choice": "none", "stream": true,
                                                           "stream_options": ["include_usage": true]], "\(shape)")
        }
    }

    /// The body with each assistant tool call's `arguments` string re-serialized from its parsed object (the
    /// worker serializes the object the client gave back; its spacing is not part of the contract). Checks on the
    /// way that every `arguments` is a string holding a JSON object.
    private func normalizedArguments(_ body: JSON, file: StaticString = #filePath, line: UInt = #line) -> JSON {
        guard var object = body.object, let messages = object["messages"]?.array else { return body }
        object["messages"] = .array(messages.map { message in
            guard var m = message.object, let calls = m["tool_calls"]?.array else { return message }
            m["tool_calls"] = .array(calls.map { call in
                guard var c = call.object, var function = c["function"]?.object else { return call }
                guard let text = function["arguments"]?.string, let parsed = try? JSON.parse(text), parsed.object != nil else {
                    XCTFail("arguments are not a string holding a JSON object: \(call)", file: file, line: line)
                    return call
                }
                // Back to the fixtures' spelling: compare the objects, not their spacing.
                function["arguments"] = .string(Self.fixtureSpelling.first { $0.object == parsed }?.text ?? parsed.text)
                c["function"] = .object(function)
                return .object(c)
            })
            return .object(m)
        })
        return .object(object)
    }

    private static let fixtureSpelling: [(object: JSON, text: String)] = [
        (["city": "Paris"], #"{"city": "Paris"}"#),
        (["tz": "Europe/Paris"], #"{"tz":"Europe/Paris"}"#),
    ]
}
