import Foundation
import XCTest
@testable import LLMWorkerTestSupport

// Driving the worker binary against a `MockHTTPServer` with the `openai_compatible` provider, and checking what
// came back (the JSON-RPC lines) and what went out (the HTTP requests the server recorded).

/// The model name the tests configure.
let upstreamTestModel = "test-model"

extension XCTestCase {
    /// Starts the worker and points `openai_compatible` at `server` (its `/v1` base URL) with model `test-model`
    /// and `max_retries: 0` (so an error status is answered at once); `config` adds or replaces configure params.
    /// The warm-up configure starts is answered and checked (`configureWarmingUp`): it is `server.requests[0]`.
    func startUpstreamWorker(_ server: MockHTTPServer, config: [String: JSON] = [:], environment: [String: String] = [:],
                             file: StaticString = #filePath, line: UInt = #line) throws -> WorkerProcess {
        let worker = try startWorker(environment: environment)
        var params: [String: JSON] = ["provider": "openai_compatible", "base_url": .string(server.v1BaseURL),
                                      "model": .string(upstreamTestModel), "max_retries": 0]
        for (key, value) in config { params[key] = value }
        let result = try configureWarmingUp(worker, server, params, file: file, line: line)
        XCTAssertEqual(result["provider"], "openai_compatible", "configure failed", file: file, line: line)
        return worker
    }

    /// `configure` with `params`, answering and checking the warm-up it starts when its base_url is on `server`:
    /// configure makes the worker open a connection at once with a cheap GET (`{base}/models`; OpenRouter's
    /// `{base}/models/count`), answered here ahead of anything the test queued. This waits until the server has it,
    /// and checks that it is the next request the server recorded; the test's own requests come after it (a request
    /// waits for a warm-up still under way), on its connection. `warmUpAnswer` replaces the usual answer. Returns the
    /// configure result.
    @discardableResult
    func configureWarmingUp(_ worker: WorkerProcess, _ server: MockHTTPServer, _ params: [String: JSON], id: JSON = "setup",
                            warmUpAnswer: MockResponse? = nil,
                            file: StaticString = #filePath, line: UInt = #line) throws -> JSON {
        let warmUp = params["base_url"]?.string.flatMap { server.warmUpPath(base: $0, provider: params["provider"]?.string) }
        if let warmUp { server.enqueueFirst(warmUpAnswer ?? warmUp.answer, path: warmUp.path) }
        let recorded = server.requests.count
        let result = assertResult(try worker.call("configure", .object(params), id: id), id: id, file: file, line: line)
        if let warmUp {
            XCTAssertTrue(server.waitForRequests(count: recorded + 1, timeout: WorkerProcess.defaultTimeout),
                          "configure sent no warm-up request", file: file, line: line)
            let sent = server.requests.dropFirst(recorded).first
            XCTAssertEqual(sent.map { "\($0.method) \($0.path)" }, "GET \(warmUp.path)", file: file, line: line)
        }
        return result
    }

    /// The first `count` requests the server recorded after the warm-up that the `start…Worker` helpers answered
    /// and checked (`requests[0]`), waiting for them.
    func requestsAfterWarmUp(_ server: MockHTTPServer, count: Int, file: StaticString = #filePath, line: UInt = #line) -> [RecordedRequest] {
        Array(receivedRequests(server, count: count + 1, file: file, line: line).dropFirst())
    }
}

/// The short model list the tests' servers answer the worker's connection warm-up with.
let warmUpAnswer = MockResponse.json(body: ["object": "list", "data": [["id": upstreamTestModel, "object": "model"]]])

extension MockHTTPServer {
    /// The warm-up request's path and the answer it gets, when `base` is this server; nil otherwise.
    func warmUpPath(base: String, provider: String?) -> (path: String, answer: MockResponse)? {
        guard let url = URL(string: base.trimmingCharacters(in: .whitespaces)), url.host == "127.0.0.1", url.port == port else { return nil }
        var path = url.path
        while path.hasSuffix("/") { path.removeLast() }
        if provider == "openrouter" { return (path + "/models/count", OR.json(["data": ["count": 5]])) }
        return (path + "/models", warmUpAnswer)
    }

    /// Answers the next request to `path` (a `warm`) with `warmUpAnswer`, ahead of anything queued for it.
    func answerWarmUp(path: String = "/v1/models") {
        enqueueFirst(warmUpAnswer, path: path)
    }

    /// The requests received for `path` (compared without the query), in order: one endpoint's share of the traffic,
    /// without configure's warm-up.
    func requests(to path: String) -> [RecordedRequest] {
        requests.filter { $0.pathWithoutQuery == path }
    }
}

/// chat / chatStream params with the given messages and optional extras.
func chatRequest(_ messages: JSON, tools: JSON? = nil, toolChoice: JSON? = nil, more: [String: JSON] = [:]) -> JSON {
    var params: [String: JSON] = ["messages": messages]
    if let tools { params["tools"] = tools }
    if let toolChoice { params["tool_choice"] = toolChoice }
    for (key, value) in more { params[key] = value }
    return .object(params)
}

/// The `get_weather` tool the conversations use.
let weatherTool: JSON = ["type": "function", "function": [
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": ["type": "object", "properties": ["city": ["type": "string"]], "required": ["city"]],
]]

/// The `get_time` tool.
let timeTool: JSON = ["type": "function", "function": [
    "name": "get_time", "description": "Current time in a time zone",
    "parameters": ["type": "object", "properties": ["tz": ["type": "string"]]],
]]

/// What a `chatStream` sent: the deltas checked one by one, and what they add up to.
struct StreamTranscript {
    var deltas: [JSON] = []
    var content = ""
    var reasoning = ""
    /// Tool-call `arguments` pieces concatenated per `index`.
    var toolArguments: [Int: String] = [:]
    /// The id and name from the first fragment of each `index`.
    var toolHeads: [Int: (id: String?, name: String?)] = [:]
    /// Every tool-call fragment, in order.
    var toolFragments: [JSON] = []
}

private let deltaParamKeys: Set<String> = ["id", "index", "content", "reasoning", "tool_calls"]

/// Checks every delta line of a stream exactly: the envelope, the request id, indexes 0, 1, 2, … without gaps,
/// that each carries something non-empty, and the tool-call fragment shapes. Returns what they add up to.
@discardableResult
func checkDeltas(_ deltas: [JSON], id: JSON, file: StaticString = #filePath, line: UInt = #line) -> StreamTranscript {
    var transcript = StreamTranscript(deltas: deltas)
    for (position, delta) in deltas.enumerated() {
        XCTAssertEqual(delta.keys, ["jsonrpc", "method", "params"], "\(delta)", file: file, line: line)
        XCTAssertEqual(delta["jsonrpc"], "2.0", file: file, line: line)
        XCTAssertEqual(delta["method"], "chatStream.delta", file: file, line: line)
        let params = delta["params"] ?? .null
        XCTAssertTrue(params.keys.isSubset(of: deltaParamKeys), "unknown member in \(delta)", file: file, line: line)
        XCTAssertEqual(params["id"], id, "delta for another id: \(delta)", file: file, line: line)
        XCTAssertEqual(params["index"], .number(String(position)), "indexes go 0, 1, 2, …: \(delta)", file: file, line: line)
        var carries = false
        if let content = params["content"] {
            XCTAssertNotEqual(content.string ?? "", "", "content must be a non-empty string: \(delta)", file: file, line: line)
            transcript.content += content.string ?? ""
            carries = true
        }
        if let reasoning = params["reasoning"] {
            XCTAssertNotEqual(reasoning.string ?? "", "", "reasoning must be a non-empty string: \(delta)", file: file, line: line)
            transcript.reasoning += reasoning.string ?? ""
            carries = true
        }
        if let calls = params["tool_calls"] {
            let fragments = calls.array ?? []
            XCTAssertFalse(fragments.isEmpty, "tool_calls must be a non-empty array: \(delta)", file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(fragment.keys.isSubset(of: ["index", "id", "name", "arguments"]), "\(fragment)", file: file, line: line)
                XCTAssertTrue(fragment.keys.count > 1, "a fragment that carries nothing: \(delta)", file: file, line: line)
                guard let index = fragment["index"]?.int else {
                    XCTFail("fragment without an integer index: \(delta)", file: file, line: line)
                    continue
                }
                if transcript.toolHeads[index] == nil {
                    transcript.toolHeads[index] = (fragment["id"]?.string, fragment["name"]?.string)
                } else {
                    XCTAssertNil(fragment["id"], "id comes with the first fragment only: \(delta)", file: file, line: line)
                    XCTAssertNil(fragment["name"], "name comes with the first fragment only: \(delta)", file: file, line: line)
                }
                transcript.toolArguments[index, default: ""] += fragment["arguments"]?.string ?? ""
                transcript.toolFragments.append(fragment)
                carries = true
            }
        }
        XCTAssertTrue(carries, "a delta that carries nothing: \(delta)", file: file, line: line)
    }
    return transcript
}

/// Checks a successful ChatResult exactly, except `timing`, which must hold `ttft_ms` (a number, or null when
/// `ttftExpected` is false) ≤ `total_ms`. Returns the result.
@discardableResult
func assertChatResult(_ response: JSON, id: JSON, _ expected: JSON, ttftExpected: Bool = true,
                      file: StaticString = #filePath, line: UInt = #line) -> JSON {
    let result = assertResult(response, id: id, file: file, line: line)
    XCTAssertEqual(result.keys, RPC.chatResultKeys, "ChatResult members: \(result)", file: file, line: line)
    XCTAssertEqual(result.removing("timing"), expected, "ChatResult", file: file, line: line)
    assertTiming(result["timing"] ?? .null, ttftExpected: ttftExpected, file: file, line: line)
    return result
}

/// `timing` is `{"ttft_ms": number|null, "total_ms": number}` with 0 ≤ ttft ≤ total (no absolute bounds).
func assertTiming(_ timing: JSON, ttftExpected: Bool = true, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(timing.keys, ["ttft_ms", "total_ms"], "\(timing)", file: file, line: line)
    guard let total = timing["total_ms"]?.double else {
        XCTFail("total_ms is not a number: \(timing)", file: file, line: line)
        return
    }
    XCTAssertGreaterThanOrEqual(total, 0, file: file, line: line)
    if ttftExpected {
        guard let ttft = timing["ttft_ms"]?.double else {
            XCTFail("ttft_ms is not a number: \(timing)", file: file, line: line)
            return
        }
        XCTAssertGreaterThanOrEqual(ttft, 0, file: file, line: line)
        XCTAssertLessThanOrEqual(ttft, total, "ttft_ms must not exceed total_ms: \(timing)", file: file, line: line)
    } else {
        XCTAssertEqual(timing["ttft_ms"], .null, "\(timing)", file: file, line: line)
    }
}

/// The exact ChatResult (without `timing`) of an `openai_compatible` answer.
func expectedResult(content: String?, reasoning: String? = nil, toolCalls: [JSON] = [], finishReason: String? = "stop",
                    usage: JSON = .null, model: String?, upstreamProvider: JSON = .null, warnings: [JSON] = []) -> JSON {
    ["content": content.map(JSON.string) ?? .null, "reasoning": reasoning.map(JSON.string) ?? .null,
     "tool_calls": .array(toolCalls), "finish_reason": finishReason.map(JSON.string) ?? .null, "usage": usage,
     "model": model.map(JSON.string) ?? .null, "provider": "openai_compatible", "upstream_provider": upstreamProvider,
     "warnings": .array(warnings)]
}

/// A ToolCall as the result carries it.
func expectedToolCall(id: String, name: String, arguments: JSON, raw: String) -> JSON {
    ["id": .string(id), "name": .string(name), "arguments": arguments, "arguments_raw": .string(raw)]
}

/// The exact `error.data` of a provider error of the `openai_compatible` provider on `chat`/`chatStream`.
func expectedErrorData(kind: String, status: Int?, retryable: Bool, upstreamMessage: String? = nil,
                       retryAfter: Double? = nil, attempts: Int? = nil, partialContent: String = "",
                       partialToolCalls: [JSON] = []) -> JSON {
    var data: [String: JSON] = ["kind": .string(kind), "status": status.map { .number(String($0)) } ?? .null,
                                "retryable": .bool(retryable), "provider": "openai_compatible",
                                "partial_content": .string(partialContent), "partial_tool_calls": .array(partialToolCalls)]
    if let upstreamMessage { data["upstream_message"] = .string(upstreamMessage) }
    if let retryAfter { data["retry_after_s"] = .number(String(retryAfter)) }
    if let attempts { data["attempts"] = .number(String(attempts)) }
    return .object(data)
}

/// Checks that `response` is a provider error with `code` whose `error.data` is exactly `data` (numbers compared
/// by value: `7` and `7.0` are the same), and whose message mentions each of `mentioning`.
func assertProviderFailure(_ response: JSON, id: JSON, code: Int, data: JSON, mentioning: [String] = [],
                           file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(response.keys, ["jsonrpc", "id", "error"], "not an error response: \(response)", file: file, line: line)
    XCTAssertEqual(response["jsonrpc"], "2.0", file: file, line: line)
    XCTAssertEqual(response["id"], id, "wrong id in \(response)", file: file, line: line)
    let error = response["error"] ?? .null
    XCTAssertEqual(error.keys, ["code", "message", "data"], "error object: \(error)", file: file, line: line)
    XCTAssertEqual(error["code"]?.int, code, "error code in \(response)", file: file, line: line)
    XCTAssertEqual(numbersByValue(error["data"] ?? .null), numbersByValue(data), "error.data", file: file, line: line)
    let text = error["message"]?.string ?? ""
    XCTAssertFalse(text.isEmpty, "error message is empty: \(response)", file: file, line: line)
    for word in mentioning {
        XCTAssertTrue(text.contains(word), "error message does not mention '\(word)': \(text)", file: file, line: line)
    }
}

/// `value` with every number rewritten as a fractional lexeme, so that equality compares numbers by value.
func numbersByValue(_ value: JSON) -> JSON {
    switch value {
    case .number(let lexeme): return .number(Double(lexeme).map { "\($0)" } ?? lexeme)
    case .array(let items): return .array(items.map(numbersByValue))
    case .object(let members): return .object(members.mapValues(numbersByValue))
    default: return value
    }
}

extension RecordedRequest {
    /// The body parsed with the tests' own strict JSON parser (numbers kept as written).
    var json: JSON {
        (try? JSON.parse([UInt8](body))) ?? .string("<not JSON: \(bodyString ?? "binary")>")
    }
}

/// A TCP port on 127.0.0.1 on which nothing listens (bound, then closed): connecting to it is refused.
func closedLocalPort() throws -> Int {
    let server = try MockHTTPServer()
    let port = server.port
    server.stop()
    return port
}
