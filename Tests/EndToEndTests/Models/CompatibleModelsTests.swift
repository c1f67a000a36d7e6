import XCTest
@testable import LLMWorkerTestSupport

/// `listModels` for openai_compatible: `GET {base_url}/models` in the shapes local servers really send, and a
/// server without the endpoint.
final class CompatibleModelsTests: XCTestCase {
    private func list(_ body: MockResponse, params: JSON? = nil, config: [String: JSON] = [:],
                      file: StaticString = #filePath, line: UInt = #line) throws -> (JSON, RecordedRequest?) {
        let server = try startServer()
        let worker = try startCompatibleWorker(server, config, file: file, line: line)
        server.enqueue(body, path: "/v1/models")
        let reply = try worker.call("listModels", params, id: 1)
        return (reply, requestsAfterWarmUp(server, count: 1, file: file, line: line).first)
    }

    private func models(_ body: JSON, params: JSON? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> JSON? {
        let (reply, _) = try list(OR.json(body), params: params, file: file, line: line)
        let result = assertResult(reply, id: 1, file: file, line: line)
        XCTAssertEqual(result["provider"], "openai_compatible", file: file, line: line)
        XCTAssertEqual(result["cached"], false, file: file, line: line)
        return result["models"]
    }

    /// `listModels` naming a provider that is not the active one uses what that provider remembered when the
    /// request's line was read: a `configure` right behind it (same write) does not redirect it.
    func testNamedProviderUsesTheConfigurationOfItsOwnLine() throws {
        let server = try startServer()
        let worker = try startCompatibleWorker(server)
        server.enqueue(OR.json(["data": [["id": "local-model"]]]), path: "/v1/models")
        assertResult(try worker.call("configure", ["provider": "mock"], id: "m"), id: "m")
        let elsewhere = "http://127.0.0.1:\(try closedLocalPort())/v1"
        try worker.send(RPC.request("listModels", ["provider": "openai_compatible"], id: 1).text + "\n"
                        + RPC.request("configure", ["provider": "openai_compatible", "base_url": .string(elsewhere)], id: "c").text)
        let (reply, _) = try worker.readUntilResponse(id: 1)
        XCTAssertEqual(assertResult(reply, id: 1)["models"]?.array?.first?["id"], "local-model", "\(reply)")
        XCTAssertEqual(server.requests.map(\.path), ["/v1/models", "/v1/models"], "the warm-up and the one list")
    }

    /// LM Studio / OpenAI: {"object": "list", "data": [...]}; the request carries no key and no OpenRouter headers.
    func testDataEnvelopeAndTheRequest() throws {
        let body: JSON = ["object": "list", "data": [
            ["id": "qwen2.5-7b-instruct", "object": "model", "owned_by": "organization_owner"],
            ["id": "text-embedding-nomic-embed-text-v1.5", "object": "model", "owned_by": "organization_owner"],
        ]]
        let (reply, request) = try list(OR.json(body))
        XCTAssertEqual(reply, ["jsonrpc": "2.0", "id": 1, "result": ["provider": "openai_compatible", "cached": false, "models": [
            ["id": "qwen2.5-7b-instruct", "owned_by": "organization_owner"],
            ["id": "text-embedding-nomic-embed-text-v1.5", "owned_by": "organization_owner"],
        ]]])
        XCTAssertEqual(request?.method, "GET")
        XCTAssertEqual(request?.path, "/v1/models")
        XCTAssertNil(request?.header("Authorization"), "no key configured: no Authorization header")
        for name in ["HTTP-Referer", "X-OpenRouter-Title", "X-Title"] {
            XCTAssertNil(request?.header(name), "\(name) is OpenRouter's, not sent elsewhere")
        }
    }

    func testKeyIsSentWhenConfigured() throws {
        let (_, request) = try list(OR.json(["data": []]), config: ["api_key": "local-proxy-key-123456"])
        XCTAssertEqual(request?.header("Authorization"), "Bearer local-proxy-key-123456")
    }

    /// vLLM: context length from max_model_len.
    func testVLLMContextLength() throws {
        let body: JSON = ["object": "list", "data": [[
            "id": "Qwen/Qwen2.5-7B-Instruct", "object": "model", "created": 1750000000, "owned_by": "vllm",
            "root": "Qwen/Qwen2.5-7B-Instruct", "parent": nil, "max_model_len": 32768,
            "permission": [["id": "modelperm-1", "object": "model_permission", "allow_sampling": true]],
        ]]]
        XCTAssertEqual(try models(body), [["id": "Qwen/Qwen2.5-7B-Instruct", "owned_by": "vllm", "context_length": 32768]])
    }

    /// {"models": [...]} with `name` (no `id`), and llama.cpp's answer with both arrays (data preferred).
    func testModelsEnvelope() throws {
        let ollamaStyle: JSON = ["models": [
            ["name": "llama3.2:3b", "model": "llama3.2:3b", "size": 2019393189, "digest": "a80c4f17acd5"],
            ["name": "qwen3:8b", "model": "qwen3:8b"],
        ]]
        XCTAssertEqual(try models(ollamaStyle), [["id": "llama3.2:3b"], ["id": "qwen3:8b"]])
        let llamaCpp: JSON = [
            "models": [["name": "qwen.gguf", "model": "qwen.gguf", "capabilities": ["completion"]]],
            "object": "list",
            "data": [["id": "qwen.gguf", "object": "model", "owned_by": "llamacpp",
                      "meta": ["n_ctx_train": 40960, "n_params": 8190735360]]],
        ]
        XCTAssertEqual(try models(llamaCpp), [["id": "qwen.gguf", "owned_by": "llamacpp", "context_length": 40960]])
    }

    /// Plain strings, in either envelope (what CAAL's own connection test accepts).
    func testStringEntries() throws {
        XCTAssertEqual(try models(["data": ["model-a", "model-b", "", "model-a"]]), [["id": "model-a"], ["id": "model-b"]])
        XCTAssertEqual(try models(["models": ["gemma3:4b"]]), [["id": "gemma3:4b"]])
    }

    /// Ollama with nothing installed: "data": null is an empty list, not an error.
    func testOllamaNullData() throws {
        XCTAssertEqual(try models(["object": "list", "data": nil]), [])
    }

    /// supports_tools: no query sent (only OpenRouter understands it); only models known not to support tools go.
    func testSupportsToolsFilter() throws {
        let body: JSON = ["data": [
            ["id": "with-tools", "capabilities": ["completion", "tools"]],
            ["id": "without-tools", "capabilities": ["completion"]],
            ["id": "unknown"],
        ]]
        let (reply, request) = try list(OR.json(body), params: ["supports_tools": true])
        XCTAssertEqual(assertResult(reply, id: 1)["models"], [["id": "with-tools", "supports_tools": true], ["id": "unknown"]])
        XCTAssertEqual(request?.path, "/v1/models")
    }

    /// A server without the endpoint: not_found, and the message says the model can be typed by hand.
    func testNoModelListIsNotFoundWithAHint() throws {
        let (reply, _) = try list(.openAIError(status: 404, message: "Not Found", type: "not_found_error"),
                                  config: ["max_retries": 0])
        let data = assertProviderError(reply, id: 1, code: -32005, kind: "not_found")
        XCTAssertEqual(data, ["kind": "not_found", "status": 404, "retryable": false, "provider": "openai_compatible",
                              "upstream_message": "Not Found"])
        let message = reply["error"]?["message"]?.string ?? ""
        XCTAssertTrue(message.contains("by hand"), message)
        XCTAssertTrue(message.contains("/v1/models"), message)

        let (plain, _) = try list(.text(status: 404, "404 page not found"), config: ["max_retries": 0])
        XCTAssertTrue((plain["error"]?["message"]?.string ?? "").contains("by hand"), "\(plain)")
    }

    /// Without base_url there is nothing to ask: -32010, and no request.
    func testNoBaseURL() throws {
        let worker = try startWorker()
        assertResult(try worker.call("configure", ["provider": "openai_compatible"], id: "c"), id: "c")
        let data = assertProviderError(try worker.call("listModels", nil, id: 1), id: 1, code: -32010, kind: "not_configured")
        XCTAssertEqual(data["provider"], "openai_compatible")
        XCTAssertTrue((try worker.call("listModels", ["provider": "nope"], id: 2))["error"]?["data"] == RPC.invalidParamsData("provider"))
    }
}
