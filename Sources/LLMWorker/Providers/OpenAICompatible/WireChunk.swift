import Foundation

/// A Chat Completions response or stream chunk as servers really send it. Every field is read leniently:
/// a field of an unexpected type is treated as absent rather than failing the whole chunk, because one
/// server's quirk (an empty-string finish_reason, content as parts, arguments as an object) must not silence the answer.
///
/// Built from a `JSONValue` parsed by `JSONReader` (one pass over the bytes, no `Decodable` machinery: this runs
/// once per token).
struct WireChunk {
    var choices: [WireChoice] = []
    var model: String?
    var provider: String?
    var usage: Usage?
    /// Set when the body or event may carry an error (an `error` member, vLLM's flat `"object": "error"`, or
    /// OpenRouter's `finish_reason: "error"`): the whole object is then handed to `UpstreamErrorMapper`.
    var mayCarryError = false
    /// The whole object, for `UpstreamErrorMapper` when `mayCarryError` is set.
    let object: [String: JSONValue]

    /// Parses one chunk or response body; throws when it is not JSON or not a JSON object.
    init(parsing bytes: Data) throws {
        guard case .object(let object) = try JSONReader.parse(bytes) else {
            throw JSONReader.Failure(message: "not a JSON object", offset: 0)
        }
        self.init(object)
    }

    init(_ object: [String: JSONValue]) {
        self.object = object
        // An array whose elements are not all objects counts as absent, as it did when decoded as [WireChoice].
        choices = object["choices"].flatMap { WireChoice.objects(in: $0)?.map(WireChoice.init) } ?? []
        model = object["model"]?.stringValue
        provider = object["provider"]?.stringValue
        usage = object["usage"]?.objectValue.flatMap(Self.usage)
        let errorPresent = object["error"].map { !$0.isNull } ?? false
        mayCarryError = errorPresent || object["object"]?.stringValue == "error"
            || choices.contains { $0.finishReason == "error" }
    }

    private static func usage(_ object: [String: JSONValue]) -> Usage? {
        func count(_ key: String) -> Int? {
            switch object[key] {
            case .int(let value)?: return Int(exactly: value)
            case .double(let value)?: return Int(exactly: value.rounded(.towardZero))
            default: return nil
            }
        }
        guard let prompt = count("prompt_tokens"), let completion = count("completion_tokens") else { return nil }
        return Usage(promptTokens: prompt, completionTokens: completion, totalTokens: count("total_tokens"),
                     cost: object["cost"]?.doubleValue)
    }

    /// The answer is choice 0: the worker never asks for more (`n`), but a server may send several, in any order.
    /// A choice without an index counts as 0 (some servers leave it out when there is only one).
    var answer: WireChoice? { choices.first { ($0.index ?? 0) == 0 } }

    /// Choice 0 as a `CompletionChunk`, with a warning when other choices were ignored.
    var completionChunk: CompletionChunk {
        var chunk = CompletionChunk(model: model, upstreamProvider: provider)
        chunk.usage = usage
        if choices.contains(where: { ($0.index ?? 0) != 0 }) {
            chunk.warnings.append("The server sent more than one choice; only the choice with index 0 is used.")
        }
        if let choice = answer {
            let message = choice.delta ?? choice.message
            chunk.content = message?.content
            chunk.reasoning = message?.reasoning
            chunk.toolCalls = message?.toolCalls ?? []
            chunk.finishReason = choice.finishReason
        }
        return chunk
    }
}

struct WireChoice {
    var index: Int?
    var delta: WireMessage?
    var message: WireMessage?
    var finishReason: String?

    init(_ object: [String: JSONValue]) {
        if case .int(let value)? = object["index"] { index = Int(exactly: value) }
        delta = object["delta"]?.objectValue.map(WireMessage.init)
        message = object["message"]?.objectValue.map(WireMessage.init)
        // LocalAI sends "" where others send null.
        if let reason = object["finish_reason"]?.stringValue, !reason.isEmpty { finishReason = reason }
    }

    /// The elements of `value` when it is an array of objects only; nil otherwise.
    static func objects(in value: JSONValue) -> [[String: JSONValue]]? {
        guard case .array(let elements) = value else { return nil }
        var objects: [[String: JSONValue]] = []
        objects.reserveCapacity(elements.count)
        for element in elements {
            guard case .object(let object) = element else { return nil }
            objects.append(object)
        }
        return objects
    }
}

struct WireMessage {
    var content: String?
    var reasoning: String?
    var toolCalls: [ToolCallFragment] = []

    init(_ object: [String: JSONValue]) {
        if let text = object["content"]?.stringValue {
            content = text
        } else if let parts = object["content"].flatMap(Self.parts) {
            content = parts.compactMap(\.text).joined()
        }
        // Three names for the same thing (vLLM renamed reasoning_content to reasoning; OpenRouter adds details).
        // Only one is used, so a server sending several does not repeat the reasoning.
        if let text = object["reasoning"]?.stringValue, !text.isEmpty {
            reasoning = text
        } else if let text = object["reasoning_content"]?.stringValue, !text.isEmpty {
            reasoning = text
        } else if let details = object["reasoning_details"].flatMap(Self.parts) {
            let text = details.compactMap { $0.text ?? $0.summary }.joined()
            if !text.isEmpty { reasoning = text }
        }
        if let calls = object["tool_calls"].flatMap(WireChoice.objects) {
            toolCalls = calls.map(Self.fragment)
        }
    }

    private struct Part {
        var text: String?
        var summary: String?
    }

    /// Content parts (`[{"type": "text", "text": …}]`): an array of objects whose `text` and `summary`, when
    /// present and not null, are strings; anything else is not parts.
    private static func parts(_ value: JSONValue) -> [Part]? {
        guard let objects = WireChoice.objects(in: value) else { return nil }
        var parts: [Part] = []
        for object in objects {
            var part = Part()
            for (key, path) in [("text", \Part.text), ("summary", \Part.summary)] {
                switch object[key] {
                case nil, .null?: break
                case .string(let text)?: part[keyPath: path] = text
                default: return nil
                }
            }
            parts.append(part)
        }
        return parts
    }

    private static func fragment(_ call: [String: JSONValue]) -> ToolCallFragment {
        var fragment = ToolCallFragment()
        if case .int(let index)? = call["index"] { fragment.index = Int(exactly: index) }
        fragment.id = call["id"]?.stringValue
        // OpenAI nests name and arguments under `function`; a few servers put them at the top level.
        let function = call["function"]?.objectValue ?? call
        fragment.name = function["name"]?.stringValue
        switch function["arguments"] {
        case .string(let text)?:
            fragment.arguments = text
        case let object? where !object.isNull:
            fragment.arguments = ToolCallAssembler.argumentsText(object)
        default:
            break
        }
        return fragment
    }
}
