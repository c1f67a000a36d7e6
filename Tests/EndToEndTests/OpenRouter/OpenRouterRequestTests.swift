import XCTest
@testable import LLMWorkerTestSupport

/// What the worker sends OpenRouter: the attribution headers and the key on every request (chat, stream, model
/// list, configure's warm-up), `fallback_models` as the `models` array and `routing` as the `provider` object.
final class OpenRouterRequestTests: XCTestCase {
    private let question: JSON = ["messages": [["role": "user", "content": "What time is it?"]]]

    /// chat, chatStream and listModels, one request each; returns the three requests the server received.
    private func oneOfEach(_ server: MockHTTPServer, _ worker: WorkerProcess) throws -> [RecordedRequest] {
        server.enqueue(OR.json(OR.completion()), path: OR.chatPath)
        server.enqueue(OR.stream([.event(OR.chunk(OR.content("Hi."))), .event(OR.chunk([:], finishReason: "stop", usage: OR.usage()))]),
                       path: OR.chatPath)
        server.enqueue(OR.json(OR.modelList), path: OR.modelsPath)
        assertResult(try worker.call("chat", question, id: 1), id: 1)
        assertResult(try worker.stream(question, id: 2).response, id: 2)
        assertResult(try worker.call("listModels", [:], id: 3), id: 3)
        return requestsAfterWarmUp(server, count: 3)
    }

    func testDefaultAttributionAndTheKeyOnEveryRequest() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        let requests = try oneOfEach(server, worker)
        XCTAssertEqual(requests.map(\.method), ["POST", "POST", "GET"])
        XCTAssertEqual(requests.map(\.path), [OR.chatPath, OR.chatPath, OR.modelsPath])
        for request in requests { assertOpenRouterHeaders(request) }
        assertOpenRouterHeaders(server.requests[0])
        XCTAssertEqual(server.requests[0].path, "/api/v1/models/count", "configure's warm-up")
        XCTAssertEqual(requests.map { $0.header("Accept") }, ["application/json", "text/event-stream", "application/json"])
        XCTAssertEqual(requests[0].header("Content-Type"), "application/json")
    }

    func testConfiguredAttribution() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server, ["app_url": "https://home.example.org/caal", "app_title": "Kitchen Assistant"])
        for request in try [server.requests[0]] + oneOfEach(server, worker) {
            assertOpenRouterHeaders(request, referer: "https://home.example.org/caal", title: "Kitchen Assistant")
        }
        // Back to the defaults with null.
        _ = try worker.call("configure", ["app_url": nil, "app_title": nil], id: "reset")
        server.enqueue(OR.json(OR.completion()), path: OR.chatPath)
        assertResult(try worker.call("chat", question, id: 4), id: 4)
        assertOpenRouterHeaders(requestsAfterWarmUp(server, count: 4)[3])
    }

    func testTheExactChatBodyWithFallbacksAndRouting() throws {
        let server = try startServer()
        let routing: JSON = ["order": ["OpenAI", "Azure"], "allow_fallbacks": false, "sort": "throughput",
                             "data_collection": "deny", "quantizations": ["fp16", "bf16"], "max_price": ["prompt": 1, "completion": 2.5]]
        let worker = try startOpenRouterWorker(server, ["fallback_models": ["anthropic/claude-3.5-haiku", "google/gemini-2.0-flash-001"],
                                                        "routing": routing, "temperature": 0.4, "max_tokens": 200])
        server.enqueue(OR.json(OR.completion()), path: OR.chatPath)
        server.enqueue(OR.stream([.event(OR.chunk(OR.content("Hi."), finishReason: "stop"))]), path: OR.chatPath)
        assertResult(try worker.call("chat", question, id: 1), id: 1)
        assertResult(try worker.stream(question, id: 2).response, id: 2)
        let requests = requestsAfterWarmUp(server, count: 2)
        let expected: JSON = [
            "model": "openai/gpt-4o-mini",
            "models": ["openai/gpt-4o-mini", "anthropic/claude-3.5-haiku", "google/gemini-2.0-flash-001"],
            "provider": routing,
            "messages": [["role": "user", "content": "What time is it?"]],
            "temperature": 0.4, "max_tokens": 200,
        ]
        XCTAssertEqual(requests[0].json, expected)
        var streamed = expected.object ?? [:]
        streamed["stream"] = true
        streamed["stream_options"] = ["include_usage": true]
        XCTAssertEqual(requests[1].json, .object(streamed))
    }

    /// The request's own model is the primary; a fallback equal to it is not sent twice; without fallbacks no
    /// `models` array, without routing no `provider` object.
    func testModelsArrayFollowsTheRequestModel() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server, ["fallback_models": ["anthropic/claude-3.5-haiku", "openai/gpt-4o"]])
        server.enqueue(contentsOf: [OR.json(OR.completion()), OR.json(OR.completion()), OR.json(OR.completion())], path: OR.chatPath)
        var params = question.object ?? [:]
        params["model"] = "openai/gpt-4o"
        assertResult(try worker.call("chat", .object(params), id: 1), id: 1)
        _ = try worker.call("configure", ["fallback_models": nil], id: "c")
        assertResult(try worker.call("chat", question, id: 2), id: 2)
        _ = try worker.call("configure", ["fallback_models": ["anthropic/claude-3.5-haiku"], "routing": ["only": ["OpenAI"]]], id: "c2")
        _ = try worker.call("configure", ["routing": nil], id: "c3")
        assertResult(try worker.call("chat", question, id: 3), id: 3)
        let bodies = requestsAfterWarmUp(server, count: 3).map(\.json)
        XCTAssertEqual(bodies[0]["model"], "openai/gpt-4o")
        XCTAssertEqual(bodies[0]["models"], ["openai/gpt-4o", "anthropic/claude-3.5-haiku"])
        XCTAssertEqual(bodies[1].keys, ["model", "messages"])
        XCTAssertEqual(bodies[2].keys, ["model", "messages", "models"])
        XCTAssertEqual(bodies[2]["models"], ["openai/gpt-4o-mini", "anthropic/claude-3.5-haiku"])
    }
}
