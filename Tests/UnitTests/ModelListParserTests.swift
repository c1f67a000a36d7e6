import Foundation
import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport

/// `GET /models` answers as real servers send them (see shared/reference/wire-facts-sourced.md).
final class ModelListParserTests: XCTestCase {

    private func parse(_ json: String, file: StaticString = #filePath, line: UInt = #line) -> [ModelInfo] {
        do {
            return try ModelListParser.parseOpenAICompatible(Data(json.utf8), provider: .openaiCompatible)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return []
        }
    }

    private func parseFailure(_ body: Data, file: StaticString = #filePath, line: UInt = #line) -> ProviderError? {
        do {
            let models = try ModelListParser.parseOpenAICompatible(body, provider: .openaiCompatible)
            XCTFail("expected an error, got \(models)", file: file, line: line)
        } catch let error as ProviderError {
            return error
        } catch {
            XCTFail("not a ProviderError: \(error)", file: file, line: line)
        }
        return nil
    }

    private func parseOR(_ json: String, supportsTools: Bool? = nil,
                         file: StaticString = #filePath, line: UInt = #line) -> [ModelInfo] {
        do {
            return try ModelListParser.parseOpenRouter(Data(json.utf8), supportsTools: supportsTools)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return []
        }
    }

    // MARK: - OpenAI-compatible servers

    func testVLLM() {
        let json = #"""
        {"object":"list","data":[
          {"id":"Qwen/Qwen3-8B","object":"model","created":1740000000,"owned_by":"vllm","root":"Qwen/Qwen3-8B","parent":null,"max_model_len":32768,
           "permission":[{"id":"modelperm-5d1c","object":"model_permission","created":1740000000,"allow_create_engine":false,"allow_sampling":true,"allow_logprobs":true,"allow_search_indices":false,"allow_view":true,"allow_fine_tuning":false,"organization":"*","group":null,"is_blocking":false}]},
          {"id":"sql-lora","object":"model","created":1740000000,"owned_by":"vllm","root":"/adapters/sql-lora","parent":"Qwen/Qwen3-8B","max_model_len":32768,"permission":[]}
        ]}
        """#
        XCTAssertEqual(parse(json), [
            ModelInfo(id: "Qwen/Qwen3-8B", contextLength: 32768, ownedBy: "vllm"),
            ModelInfo(id: "sql-lora", contextLength: 32768, ownedBy: "vllm"),
        ])
    }

    func testLlamaCppPrefersDataOverModels() {
        let json = #"""
        {"models":[{"name":"qwen3-4b","model":"qwen3-4b","modified_at":"","size":"","digest":"","type":"model","description":"","tags":[""],"capabilities":["completion"],"parameters":"","details":{"parent_model":"","format":"gguf","family":"","families":[""],"parameter_size":"","quantization_level":""}}],
         "object":"list",
         "data":[{"id":"qwen3-4b","object":"model","created":1757000000,"owned_by":"llamacpp","meta":{"vocab_type":2,"n_vocab":151936,"n_ctx_train":40960,"n_embd":2560,"n_params":4022468096,"size":4280405760}}]}
        """#
        // From `data`: the context it was trained for, and nothing about tools (the `models` entry's
        // ["completion"] would wrongly say "no tools").
        XCTAssertEqual(parse(json), [ModelInfo(id: "qwen3-4b", contextLength: 40960, ownedBy: "llamacpp")])
    }

    func testLlamaCppRuntimeContextBeatsTrainingContextAndNullMetaWhileLoading() {
        let fork = #"{"object":"list","data":[{"id":"m.gguf","object":"model","owned_by":"llamacpp","meta":{"n_ctx":8192,"n_ctx_train":131072}}]}"#
        XCTAssertEqual(parse(fork).first?.contextLength, 8192)
        let loading = #"{"object":"list","data":[{"id":"/models/m.gguf","object":"model","created":1,"owned_by":"llamacpp","meta":null}]}"#
        XCTAssertEqual(parse(loading), [ModelInfo(id: "/models/m.gguf", ownedBy: "llamacpp")])
        let router = #"{"object":"list","data":[{"id":"a","name":"a","object":"model","status":{"value":"loaded"},"meta":{"n_ctx":4096,"n_ctx_train":32768,"n_embd":2048}}]}"#
        XCTAssertEqual(parse(router), [ModelInfo(id: "a", contextLength: 4096)], "name equal to id is left out")
    }

    func testOllama() {
        let json = #"""
        {"object":"list","data":[
          {"id":"qwen3:8b","object":"model","created":1745000000,"owned_by":"library"},
          {"id":"llama3.2:latest","object":"model","created":1740000000,"owned_by":"library"},
          {"id":"hf.co/bartowski/Qwen2.5-7B-Instruct-GGUF:Q4_K_M","object":"model","created":1730000000,"owned_by":"hf.co"}
        ]}
        """#
        XCTAssertEqual(parse(json).map(\.id), ["qwen3:8b", "llama3.2:latest", "hf.co/bartowski/Qwen2.5-7B-Instruct-GGUF:Q4_K_M"])
        XCTAssertEqual(parse(json).first, ModelInfo(id: "qwen3:8b", ownedBy: "library"))
    }

    func testOllamaWithNothingInstalledSendsDataNull() {
        XCTAssertEqual(parse(#"{"object":"list","data":null}"#), [])
        XCTAssertEqual(parse(#"{"object":"list","data":[]}"#), [])
        XCTAssertEqual(parse(#"{"models":null}"#), [])
    }

    func testOllamaNativeTagsShape() {
        let json = #"""
        {"models":[
          {"name":"llama3:latest","model":"llama3:latest","modified_at":"2025-05-01T10:00:00.000Z","size":4661224676,"digest":"365c0bd3c000","details":{"parent_model":"","format":"gguf","family":"llama","families":["llama"],"parameter_size":"8.0B","quantization_level":"Q4_0"}},
          {"model":"only-model-field:7b","size":1}
        ]}
        """#
        XCTAssertEqual(parse(json), [ModelInfo(id: "llama3:latest"), ModelInfo(id: "only-model-field:7b")])
    }

    func testLMStudio() {
        let v1 = #"""
        {"data":[
          {"id":"qwen2.5-7b-instruct","object":"model","owned_by":"organization_owner"},
          {"id":"deepseek-r1-distill-qwen-7b","object":"model","owned_by":"organization_owner"},
          {"id":"text-embedding-nomic-embed-text-v1.5","object":"model","owned_by":"organization_owner"}
        ],"object":"list"}
        """#
        XCTAssertEqual(parse(v1).map(\.id), ["qwen2.5-7b-instruct", "deepseek-r1-distill-qwen-7b",
                                             "text-embedding-nomic-embed-text-v1.5"])
        XCTAssertEqual(parse(v1).first, ModelInfo(id: "qwen2.5-7b-instruct", ownedBy: "organization_owner"))

        // The native /api/v0/models listing, if base_url points there.
        let v0 = #"""
        {"object":"list","data":[
          {"id":"qwen2.5-7b-instruct","object":"model","type":"llm","publisher":"lmstudio-community","arch":"qwen2","compatibility_type":"gguf","quantization":"Q4_K_M","state":"loaded","max_context_length":32768,"loaded_context_length":8192,"capabilities":["tool_use"]},
          {"id":"gemma-3-4b","object":"model","type":"vlm","state":"not-loaded","max_context_length":131072,"capabilities":[]},
          {"id":"nomic-embed","object":"model","type":"embeddings","state":"not-loaded","max_context_length":2048}
        ]}
        """#
        XCTAssertEqual(parse(v0), [
            ModelInfo(id: "qwen2.5-7b-instruct", contextLength: 8192, supportsTools: true),
            ModelInfo(id: "gemma-3-4b", contextLength: 131072, supportsTools: false),
            ModelInfo(id: "nomic-embed", contextLength: 2048),
        ])
    }

    func testLMStudioStringErrorWith200Throws() {
        let body = Data(#"{"error":"Unexpected endpoint or method. (GET /models)"}"#.utf8)
        let error = parseFailure(body)
        XCTAssertEqual(error?.kind, .upstreamError)
        XCTAssertEqual(error?.upstreamMessage, "Unexpected endpoint or method. (GET /models)")
        XCTAssertTrue(error?.message.contains("/v1") ?? false, error?.message ?? "")
    }

    func testLiteLLM() {
        let json = #"""
        {"data":[
          {"id":"gpt-4o","object":"model","created":1677610602,"owned_by":"openai"},
          {"id":"claude-sonnet","object":"model","created":1677610602,"owned_by":"openai"},
          {"id":"local-qwen","object":"model","created":1677610602,"owned_by":"openai"}
        ],"object":"list"}
        """#
        XCTAssertEqual(parse(json), [
            ModelInfo(id: "gpt-4o", ownedBy: "openai"),
            ModelInfo(id: "claude-sonnet", ownedBy: "openai"),
            ModelInfo(id: "local-qwen", ownedBy: "openai"),
        ])
    }

    func testLocalAI() {
        let json = #"{"object":"list","data":[{"id":"gpt-4","object":"model"},{"id":"phi-2","object":"model"},{"id":"whisper-1","object":"model"}]}"#
        XCTAssertEqual(parse(json), [ModelInfo(id: "gpt-4"), ModelInfo(id: "phi-2"), ModelInfo(id: "whisper-1")])
    }

    func testPlainStringEntriesAndBareArrays() {
        XCTAssertEqual(parse(#"{"models":["llama3","mistral"]}"#), [ModelInfo(id: "llama3"), ModelInfo(id: "mistral")])
        XCTAssertEqual(parse(#"{"data":["a",{"id":"b"}]}"#), [ModelInfo(id: "a"), ModelInfo(id: "b")])
        XCTAssertEqual(parse(#"[{"id":"tgi","object":"model","owned_by":"tgi"}]"#), [ModelInfo(id: "tgi", ownedBy: "tgi")])
    }

    func testNamesContextFieldsAndCapabilities() {
        let json = #"""
        {"data":[
          {"id":"m1","name":"Model One","context_length":"8192","capabilities":["completion","tools"]},
          {"id":"m2","context_window":200000,"capabilities":["completion"]},
          {"id":"m3","context_length":null,"max_model_len":4096.0,"capabilities":{"function_calling":true}},
          {"id":"m4","context_length":0,"context_window":-5,"n_ctx":2048},
          {"id":"m5","context_length":1.5,"name":"m5","owned_by":""},
          {"name":"Only A Name"}
        ]}
        """#
        XCTAssertEqual(parse(json), [
            ModelInfo(id: "m1", name: "Model One", contextLength: 8192, supportsTools: true),
            ModelInfo(id: "m2", contextLength: 200000, supportsTools: false),
            ModelInfo(id: "m3", contextLength: 4096, supportsTools: true),
            ModelInfo(id: "m4", contextLength: 2048),
            ModelInfo(id: "m5"),
            ModelInfo(id: "Only A Name"),
        ])
    }

    func testOrderIsKeptDuplicatesAndJunkEntriesAreDropped() {
        let json = #"""
        {"data":[{"id":"z","owned_by":"first"},null,42,true,{},{"id":""},{"id":"   "},{"id":7},[],"",
                 {"id":"a"},{"id":"z","owned_by":"second"},"a",{"id":"m"}]}
        """#
        XCTAssertEqual(parse(json), [ModelInfo(id: "z", ownedBy: "first"), ModelInfo(id: "a"), ModelInfo(id: "m")])
    }

    func testUnreadableBodiesThrowInvalidResponseQuotingTheFirstBytes() {
        let html = parseFailure(Data("<html><head><title>404 Not Found</title></head><body>nginx</body></html>".utf8))
        XCTAssertEqual(html?.kind, .invalidResponse)
        XCTAssertEqual(html?.upstreamMessage, "404 Not Found")
        XCTAssertEqual(html?.provider, "openai_compatible")
        XCTAssertTrue(html?.message.contains("404 Not Found") ?? false)

        let empty = parseFailure(Data())
        XCTAssertEqual(empty?.kind, .invalidResponse)
        XCTAssertNil(empty?.upstreamMessage)
        XCTAssertTrue(empty?.message.contains("empty") ?? false)

        let truncated = parseFailure(Data(#"{"object":"list","data":[{"id":"a"#.utf8))
        XCTAssertEqual(truncated?.kind, .invalidResponse)
        XCTAssertEqual(truncated?.upstreamMessage, #"{"object":"list","data":[{"id":"a"#)

        let wrongShape = parseFailure(Data(#"{"object":"list","items":[]}"#.utf8))
        XCTAssertEqual(wrongShape?.kind, .invalidResponse)
        XCTAssertEqual(wrongShape?.upstreamMessage, #"{"items":[],"object":"list"}"#)
        XCTAssertEqual(parseFailure(Data(#"{"data":"none"}"#.utf8))?.kind, .invalidResponse)
        XCTAssertEqual(parseFailure(Data("42".utf8))?.kind, .invalidResponse)

        let long = parseFailure(Data(String(repeating: "x", count: 5000).utf8))
        XCTAssertLessThanOrEqual(long?.upstreamMessage?.count ?? .max, 200)
        XCTAssertFalse(long?.retryable ?? true)
    }

    func testInvalidUTF8IsDecodedLossily() {
        var body = Data(#"{"data":[{"id":"caf"#.utf8)
        body.append(0xE9)
        body.append(Data(#""},{"id":"ok"}]}"#.utf8))
        XCTAssertEqual(try ModelListParser.parseOpenAICompatible(body, provider: .openaiCompatible).map(\.id),
                       ["caf\u{FFFD}", "ok"])
        XCTAssertEqual(parseFailure(Data([0xFF, 0xFE, 0x00, 0x80]))?.kind, .invalidResponse)
    }

    func testEncodesToTheContractShape() throws {
        let model = parse(#"{"data":[{"id":"m","name":"M","max_model_len":4096,"owned_by":"vllm"}]}"#)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(model), as: UTF8.self)
        XCTAssertEqual(text, #"[{"context_length":4096,"id":"m","name":"M","owned_by":"vllm"}]"#)
    }

    // MARK: - OpenRouter

    private let openRouterList = #"""
    {"data":[
      {"id":"openai/gpt-4o-mini","canonical_slug":"openai/gpt-4o-mini-2024-07-18","hugging_face_id":null,"name":"OpenAI: GPT-4o-mini","created":1721260800,
       "description":"GPT-4o mini is OpenAI's newest model after GPT-4 Omni...","context_length":128000,
       "architecture":{"modality":"text+image->text","input_modalities":["text","image","file"],"output_modalities":["text"],"tokenizer":"GPT","instruct_type":null},
       "pricing":{"prompt":"0.00000015","completion":"0.0000006","request":"0","image":"0.000217","web_search":"0","internal_reasoning":"0","input_cache_read":"0.000000075"},
       "top_provider":{"context_length":128000,"max_completion_tokens":16384,"is_moderated":true},
       "per_request_limits":null,
       "supported_parameters":["frequency_penalty","logit_bias","logprobs","max_tokens","presence_penalty","response_format","seed","stop","structured_outputs","temperature","tool_choice","tools","top_logprobs","top_p"],
       "default_parameters":{}},
      {"id":"anthropic/claude-sonnet-4","canonical_slug":"anthropic/claude-4-sonnet-20250522","name":"Anthropic: Claude Sonnet 4","created":1747930371,"context_length":200000,
       "architecture":{"modality":"text+image->text","input_modalities":["image","text","file"],"output_modalities":["text"],"tokenizer":"Claude","instruct_type":null},
       "pricing":{"prompt":"0.000003","completion":"0.000015","request":"0","image":"0.0048","web_search":"0","internal_reasoning":"0","input_cache_read":"0.0000003","input_cache_write":"0.00000375"},
       "top_provider":{"context_length":200000,"max_completion_tokens":64000,"is_moderated":true},"per_request_limits":null,
       "supported_parameters":["include_reasoning","max_tokens","reasoning","stop","temperature","tool_choice","tools","top_k","top_p"]},
      {"id":"meta-llama/llama-3.3-70b-instruct:free","canonical_slug":"meta-llama/llama-3.3-70b-instruct","name":"Meta: Llama 3.3 70B Instruct (free)","created":1733506137,"context_length":65536,
       "architecture":{"modality":"text->text","input_modalities":["text"],"output_modalities":["text"],"tokenizer":"Llama3","instruct_type":null},
       "pricing":{"prompt":"0","completion":"0","request":"0","image":"0","web_search":"0","internal_reasoning":"0"},
       "top_provider":{"context_length":65536,"max_completion_tokens":null,"is_moderated":false},"per_request_limits":null,
       "supported_parameters":["frequency_penalty","max_tokens","presence_penalty","repetition_penalty","stop","temperature","top_k","top_p"]},
      {"id":"openrouter/auto","canonical_slug":"openrouter/auto","name":"Auto Router","created":1699401600,"context_length":2000000,
       "architecture":{"modality":"text->text","input_modalities":["text"],"output_modalities":["text"],"tokenizer":"Router","instruct_type":null},
       "pricing":{"prompt":"-1","completion":"-1"},
       "top_provider":{"context_length":null,"max_completion_tokens":null,"is_moderated":false},"per_request_limits":null},
      {"id":"google/gemini-2.5-pro","canonical_slug":"google/gemini-2.5-pro","name":"Google: Gemini 2.5 Pro","created":1750169544,"context_length":1048576,
       "pricing":{"prompt":"0.00000125","completion":"0.00001","request":"0","image":"0.00516","web_search":"0","internal_reasoning":"0","input_cache_read":"0.00000031","input_cache_write":"0.000001625"},
       "top_provider":{"context_length":1048576,"max_completion_tokens":65536,"is_moderated":false},
       "supported_parameters":["include_reasoning","max_tokens","reasoning","response_format","seed","stop","structured_outputs","temperature","tool_choice","tools","top_p"]},
      {"id":"mistralai/mistral-nemo","name":"Mistral: Mistral Nemo","context_length":131072,
       "pricing":{"prompt":"0.0000000075","completion":"0.00000005"},
       "top_provider":{"context_length":131072}}
    ],"links":{"next":null}}
    """#

    func testOpenRouterModels() {
        let models = parseOR(openRouterList)
        XCTAssertEqual(models, [
            ModelInfo(id: "openai/gpt-4o-mini", name: "OpenAI: GPT-4o-mini", contextLength: 128000,
                      maxCompletionTokens: 16384, pricing: Pricing(promptPerMillion: 0.15, completionPerMillion: 0.6),
                      supportsTools: true),
            ModelInfo(id: "anthropic/claude-sonnet-4", name: "Anthropic: Claude Sonnet 4", contextLength: 200000,
                      maxCompletionTokens: 64000, pricing: Pricing(promptPerMillion: 3, completionPerMillion: 15),
                      supportsTools: true),
            ModelInfo(id: "meta-llama/llama-3.3-70b-instruct:free", name: "Meta: Llama 3.3 70B Instruct (free)",
                      contextLength: 65536, maxCompletionTokens: nil,
                      pricing: Pricing(promptPerMillion: 0, completionPerMillion: 0), supportsTools: false),
            ModelInfo(id: "openrouter/auto", name: "Auto Router", contextLength: 2000000),
            ModelInfo(id: "google/gemini-2.5-pro", name: "Google: Gemini 2.5 Pro", contextLength: 1048576,
                      maxCompletionTokens: 65536, pricing: Pricing(promptPerMillion: 1.25, completionPerMillion: 10),
                      supportsTools: true),
            ModelInfo(id: "mistralai/mistral-nemo", name: "Mistral: Mistral Nemo", contextLength: 131072,
                      pricing: Pricing(promptPerMillion: 0.0075, completionPerMillion: 0.05)),
        ])
        XCTAssertEqual(parseOR(openRouterList, supportsTools: false), models, "false filters nothing")
    }

    func testOpenRouterToolFilterDropsOnlyModelsKnownNotToSupportTools() {
        let ids = parseOR(openRouterList, supportsTools: true).map(\.id)
        XCTAssertEqual(ids, ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4", "openrouter/auto",
                             "google/gemini-2.5-pro", "mistralai/mistral-nemo"])
    }

    func testOpenRouterEncodesPricingPerMillion() throws {
        let models = parseOR(openRouterList)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let first = String(decoding: try encoder.encode(models[0]), as: UTF8.self)
        XCTAssertEqual(first, #"{"context_length":128000,"id":"openai\/gpt-4o-mini","max_completion_tokens":16384,"name":"OpenAI: GPT-4o-mini","pricing":{"completion_per_million":0.6,"prompt_per_million":0.15},"supports_tools":true}"#)
    }

    func testOpenRouterOddEntries() {
        let json = #"""
        {"data":[
          {"id":"a/one","pricing":{"prompt":"abc","completion":"0.000001"},"supported_parameters":"tools"},
          {"id":"a/two","pricing":{"prompt":2.5e-06,"completion":1e-05},"context_length":null,"top_provider":{"context_length":4096,"max_completion_tokens":"1024"}},
          {"id":"a/three","pricing":{"prompt":"0.000001"}},
          {"name":"no id"},
          {"id":"a/one","name":"duplicate"},
          "a/plain-string",
          {"id":"a/four","pricing":null,"top_provider":null,"supported_parameters":[]}
        ]}
        """#
        XCTAssertEqual(parseOR(json), [
            ModelInfo(id: "a/one"),
            ModelInfo(id: "a/two", contextLength: 4096, maxCompletionTokens: 1024,
                      pricing: Pricing(promptPerMillion: 2.5, completionPerMillion: 10)),
            ModelInfo(id: "a/three"),
            ModelInfo(id: "a/four", supportsTools: false),
        ])
        XCTAssertEqual(parseOR(json, supportsTools: true).map(\.id), ["a/one", "a/two", "a/three"])
    }

    func testOpenRouterEnvelopes() {
        XCTAssertEqual(parseOR(#"{"data":[]}"#), [])
        XCTAssertEqual(parseOR(#"{"data":null}"#), [])
        do {
            _ = try ModelListParser.parseOpenRouter(Data("<html><title>502 Bad Gateway</title></html>".utf8),
                                                   supportsTools: nil)
            XCTFail("expected an error")
        } catch let error as ProviderError {
            XCTAssertEqual(error.kind, .invalidResponse)
            XCTAssertEqual(error.provider, "openrouter")
            XCTAssertEqual(error.upstreamMessage, "502 Bad Gateway")
            XCTAssertTrue(error.message.contains("OpenRouter"))
        } catch {
            XCTFail("not a ProviderError: \(error)")
        }
        do {
            _ = try ModelListParser.parseOpenRouter(Data(#"{"error":{"code":503,"message":"Service busy"}}"#.utf8),
                                                   supportsTools: true)
            XCTFail("expected an error")
        } catch let error as ProviderError {
            XCTAssertEqual(error.kind, .unavailable)
            XCTAssertEqual(error.status, 503)
            XCTAssertEqual(error.upstreamMessage, "Service busy")
        } catch {
            XCTFail("not a ProviderError: \(error)")
        }
    }

    func testPerMillionConversion() {
        func convert(_ value: JSONValue?) -> Double? { ModelListParser.perMillion(value) }
        XCTAssertEqual(convert(.string("0.0000025")), 2.5)
        XCTAssertEqual(convert(.string("0.00000015")), 0.15)
        XCTAssertEqual(convert(.string("0.0000006")), 0.6)
        XCTAssertEqual(convert(.string("0.000003")), 3)
        XCTAssertEqual(convert(.string("0")), 0)
        XCTAssertEqual(convert(.string(" 0.000001 ")), 1)
        XCTAssertEqual(convert(.string("1e-6")), 1)
        XCTAssertEqual(convert(.string("2.5E-6")), 2.5)
        XCTAssertEqual(convert(.double(0.0000025)), 2.5)
        XCTAssertEqual(convert(.int(0)), 0)
        for bad: JSONValue? in [.string("-1"), .string("-0.5"), .string("abc"), .string("12abc"), .string(""),
                                .string("."), .string("1e"), .string("0x10"), .string("inf"), .null, nil,
                                .bool(true), .array([])] {
            XCTAssertNil(convert(bad), "\(String(describing: bad))")
        }
    }
}
