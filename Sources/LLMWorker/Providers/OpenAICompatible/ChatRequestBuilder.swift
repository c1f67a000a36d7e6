import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Builds the HTTP request for `POST {base_url}/chat/completions`. The body is the client's messages and tools
/// as given, the settings' defaults, the flavor's fields, and `extra` merged last.
struct ChatRequestBuilder: Sendable {
    let flavor: any ProviderFlavor

    func build(_ request: ProviderRequest, stream: Bool, streamOptions: Bool) throws -> URLRequest {
        let settings = request.settings
        guard let base = settings.baseURL, let url = URL(string: base + "/chat/completions"), let model = request.model else {
            throw ProviderError(.notConfigured, "base_url and model must be configured", provider: flavor.kind.rawValue)
        }
        var body: [String: JSONValue] = [
            "model": .string(model),
            "messages": .array(request.params.messages.map(Self.normalizeMessage)),
        ]
        if let tools = request.params.tools, !tools.isEmpty { body["tools"] = .array(tools) }
        if let choice = request.params.toolChoice { body["tool_choice"] = choice }
        if let temperature = request.params.temperature ?? settings.temperature { body["temperature"] = .double(temperature) }
        if let maxTokens = request.params.maxTokens ?? settings.maxTokens { body["max_tokens"] = .int(Int64(maxTokens)) }
        if stream {
            body["stream"] = .bool(true)
            if streamOptions { body["stream_options"] = .object(["include_usage": .bool(true)]) }
        }
        body.merge(flavor.extraBody(request, model: model)) { _, flavored in flavored }
        body.merge(request.params.extra?.filter { $0.key != "mock" } ?? [:]) { _, extra in extra }

        var urlRequest = URLRequest(url: url)
        urlRequest.httpMethod = "POST"
        var bytes: [UInt8] = []
        try JSONText.appendValue(.object(body), to: &bytes)
        urlRequest.httpBody = Data(bytes)
        applyHeaders(to: &urlRequest, settings: settings, accept: stream ? "text/event-stream" : "application/json")
        return urlRequest
    }

    func applyHeaders(to request: inout URLRequest, settings: ResolvedSettings, accept: String) {
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(accept, forHTTPHeaderField: "Accept")
        request.setValue("caal-llm-worker/\(WorkerVersion.current)", forHTTPHeaderField: "User-Agent")
        for (name, value) in flavor.extraHeaders(settings) { request.setValue(value, forHTTPHeaderField: name) }
        for (name, value) in settings.headers { request.setValue(value, forHTTPHeaderField: name) }
        // Many local servers need no key: no Authorization header at all then, rather than a placeholder.
        if let key = settings.apiKey { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
    }

    /// A message's `tool_calls` in the wire shape (see `HistoryToolCalls`); `validate()` has already refused what
    /// cannot be converted, so a failure here leaves the message as given.
    static func normalizeMessage(_ message: JSONValue) -> JSONValue {
        guard case .object(var object) = message, let calls = object["tool_calls"],
              let wire = try? HistoryToolCalls.wireShape(calls, field: "tool_calls") else { return message }
        object["tool_calls"] = wire
        return .object(object)
    }
}
