import XCTest
@testable import LLMWorkerTestSupport

/// `listModels` for openrouter: `GET {base_url}/models` with realistic entries → ModelInfo (pricing per million,
/// max_completion_tokens from top_provider, supports_tools from supported_parameters), and the tools filter.
final class OpenRouterModelsTests: XCTestCase {
    func testTheExactListFromRealisticEntries() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        server.enqueue(OR.json(OR.modelList), path: OR.modelsPath)
        let reply = try worker.call("listModels", nil, id: 1)
        XCTAssertEqual(reply, ["jsonrpc": "2.0", "id": 1, "result": [
            "provider": "openrouter", "cached": false,
            "models": [OR.gpt4oMiniInfo, OR.claudeHaikuInfo, OR.llamaFreeInfo, OR.autoInfo, OR.gpt4oInfo],
        ]])
        let request = requestsAfterWarmUp(server, count: 1)[0]
        XCTAssertEqual(request.method, "GET")
        XCTAssertEqual(request.path, "/api/v1/models")
        XCTAssertEqual(request.body, Data())
        assertOpenRouterHeaders(request)
        XCTAssertEqual(request.header("Accept"), "application/json")
    }

    /// `supports_tools: true` asks OpenRouter to filter (`?supported_parameters=tools`) and also filters what comes
    /// back: a model known not to support tools goes, a model that says nothing about tools stays.
    func testSupportsToolsAsksAndDropsOnlyTheKnownUnsupported() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        server.enqueue(OR.json(OR.modelList), path: OR.modelsPath)
        let result = assertResult(try worker.call("listModels", ["supports_tools": true], id: 1), id: 1)
        XCTAssertEqual(result, ["provider": "openrouter", "cached": false,
                                "models": [OR.gpt4oMiniInfo, OR.claudeHaikuInfo, OR.autoInfo, OR.gpt4oInfo]])
        let request = requestsAfterWarmUp(server, count: 1)[0]
        XCTAssertEqual(request.path, "/api/v1/models?supported_parameters=tools")
        assertOpenRouterHeaders(request)
    }

    /// listModels names openrouter while another provider is active: the openrouter settings remembered from
    /// an earlier configure are used (its base_url, key and attribution).
    func testNamedProviderUsesItsRememberedSettings() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server, ["app_title": "Kitchen"])
        assertResult(try worker.call("configure", ["provider": "mock"], id: "m"), id: "m")
        server.enqueue(OR.json(["data": [OR.gpt4oMini]]), path: OR.modelsPath)
        let result = assertResult(try worker.call("listModels", ["provider": "openrouter"], id: 1), id: 1)
        XCTAssertEqual(result, ["provider": "openrouter", "cached": false, "models": [OR.gpt4oMiniInfo]])
        assertOpenRouterHeaders(requestsAfterWarmUp(server, count: 1)[0], title: "Kitchen")
        XCTAssertEqual(assertResult(try worker.call("listModels", nil, id: 2), id: 2)["provider"], "mock")
    }

    /// Entries the worker cannot use are skipped, odd values are left out rather than failing the list.
    func testOddEntries() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server)
        let list: JSON = ["data": [
            ["id": "vendor/exp", "name": "Exp", "context_length": "32768",
             "pricing": ["prompt": "2.5e-06", "completion": "abc"], "top_provider": ["max_completion_tokens": 0],
             "supported_parameters": []],
            ["name": "no id"],
            "just-a-string",
            ["id": "vendor/exp", "name": "duplicate"],
            ["id": "vendor/tiny", "pricing": ["prompt": 0.000001, "completion": 0.000002], "context_length": nil,
             "top_provider": ["context_length": 4096, "max_completion_tokens": 1024], "supported_parameters": ["tools"]],
        ]]
        server.enqueue(OR.json(list), path: OR.modelsPath)
        XCTAssertEqual(assertResult(try worker.call("listModels", nil, id: 1), id: 1)["models"], [
            ["id": "vendor/exp", "name": "Exp", "context_length": 32768, "supports_tools": false],
            ["id": "vendor/tiny", "context_length": 4096, "max_completion_tokens": 1024,
             "pricing": ["prompt_per_million": 1, "completion_per_million": 2], "supports_tools": true],
        ])
    }

    /// A body that is not a model list is `invalid_response` quoting it, not a crash and not an empty list.
    func testABodyThatIsNotAList() throws {
        let server = try startServer()
        let worker = try startOpenRouterWorker(server, ["max_retries": 0])
        server.enqueue(.text("<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>",
                             headers: ["Content-Type": "text/html"]), path: OR.modelsPath)
        let data = assertProviderError(try worker.call("listModels", nil, id: 1), id: 1, code: -32007, kind: "invalid_response")
        XCTAssertEqual(data["upstream_message"], "502 Bad Gateway")
        XCTAssertNil(data["partial_content"])
    }
}
