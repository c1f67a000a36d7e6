import Foundation

/// Reads the `GET /models` answers of OpenAI-compatible servers and of OpenRouter into `ModelInfo`s.
/// Pure: no I/O. The server's order is kept; of two entries with the same id the first wins.
enum ModelListParser {

    /// OpenAI-compatible `GET /models`: {"data":[…]} or {"models":[…]} (llama.cpp has both: prefer data), `"data": null`
    /// (Ollama, nothing installed) → [], entries as objects (`id`, else `name`, else `model`) or plain strings; context
    /// length from `context_length`, `max_model_len` (vLLM), `context_window`, `meta.n_ctx_train`/`n_ctx`; `owned_by`;
    /// `name` when it differs from id; supports_tools from a `capabilities` array containing "tools"/"tool_use" when
    /// present, else nil.
    /// - Throws: `ProviderError(.invalidResponse)` quoting the first bytes when the body is not a model list, or the
    ///   mapped error when the body is an error object (LM Studio answers an unknown path with HTTP 200 and one).
    static func parseOpenAICompatible(_ body: Data, provider: ProviderKind) throws -> [ModelInfo] {
        let entries = try entries(of: body, dialect: .openAICompatible, provider: provider)
        var seen = Set<String>()
        var models: [ModelInfo] = []
        for entry in entries {
            guard let model = openAICompatibleModel(entry), seen.insert(model.id).inserted else { continue }
            models.append(model)
        }
        return models
    }

    /// OpenRouter `GET /models`: {"data":[…]} with pricing strings per token → numbers per million (e.g. "0.0000025" →
    /// 2.5; "-1" or unparseable → omit pricing), top_provider.max_completion_tokens (may be null), context_length,
    /// supports_tools = supported_parameters contains "tools" (nil when supported_parameters absent).
    /// `supportsTools == true` drops only models known NOT to support tools (those with supported_parameters lacking
    /// "tools"); unknown stay.
    static func parseOpenRouter(_ body: Data, supportsTools: Bool?) throws -> [ModelInfo] {
        let entries = try entries(of: body, dialect: .openRouter, provider: .openrouter)
        var seen = Set<String>()
        var models: [ModelInfo] = []
        for entry in entries {
            guard let model = openRouterModel(entry), seen.insert(model.id).inserted else { continue }
            if supportsTools == true, model.supportsTools == false { continue }
            models.append(model)
        }
        return models
    }

    // MARK: - The list

    /// The entries of a model list, from whichever envelope the server used.
    private static func entries(of body: Data, dialect: ErrorDialect, provider: ProviderKind) throws -> [JSONValue] {
        let who = dialect == .openRouter ? "OpenRouter's" : "The server's"
        guard let value = UpstreamErrorMapper.ParsedBody.parseJSON(body) else {
            let quoted = UpstreamErrorMapper.ParsedBody(body).quotedText
            throw ProviderError(
                .invalidResponse,
                "\(who) model list is not JSON" + (quoted.map { ": \($0)" } ?? " (the body is empty)."),
                upstreamMessage: quoted, provider: provider.rawValue)
        }
        switch value {
        case .array(let items):
            // A bare list, as a few minimal servers send.
            return items
        case .object(let object):
            if let list = object["data"]?.arrayValue { return list }
            if let list = object["models"]?.arrayValue { return list }
            if object["data"] == .null || object["models"] == .null {
                // Ollama with nothing installed sends "data": null.
                return []
            }
            if let error = UpstreamErrorMapper.embeddedError(in: object, dialect: dialect, provider: provider) {
                throw error
            }
        default:
            break
        }
        let quoted = UpstreamErrorMapper.ParsedBody.json(value).quotedText
        throw ProviderError(
            .invalidResponse,
            "\(who) model list has neither a \"data\" nor a \"models\" array" + (quoted.map { ": \($0)" } ?? "."),
            upstreamMessage: quoted, provider: provider.rawValue)
    }

    // MARK: - OpenAI-compatible entries

    private static func openAICompatibleModel(_ entry: JSONValue) -> ModelInfo? {
        switch entry {
        case .string(let text):
            return nonEmpty(text).map { ModelInfo(id: $0) }
        case .object(let object):
            var idFromIdField = true
            var id = object["id"]?.stringValue.flatMap(nonEmpty)
            if id == nil {
                idFromIdField = false
                id = object["name"]?.stringValue.flatMap(nonEmpty) ?? object["model"]?.stringValue.flatMap(nonEmpty)
            }
            guard let id else { return nil }
            var model = ModelInfo(id: id)
            if idFromIdField, let name = object["name"]?.stringValue.flatMap(nonEmpty), name != id {
                model.name = name
            }
            let meta = object["meta"]?.objectValue ?? [:]
            // The context the server actually runs with beats the one the model was trained for.
            model.contextLength = positiveInt(object["context_length"])
                ?? positiveInt(object["max_model_len"])
                ?? positiveInt(object["context_window"])
                ?? positiveInt(object["loaded_context_length"])
                ?? positiveInt(object["max_context_length"])
                ?? positiveInt(meta["n_ctx"])
                ?? positiveInt(object["n_ctx"])
                ?? positiveInt(meta["n_ctx_train"])
            model.ownedBy = object["owned_by"]?.stringValue.flatMap(nonEmpty)
            model.supportsTools = toolSupport(object["capabilities"])
            return model
        default:
            return nil
        }
    }

    /// LM Studio's and Ollama's `capabilities`: an array of words, or (some servers) an object of flags.
    private static func toolSupport(_ capabilities: JSONValue?) -> Bool? {
        switch capabilities {
        case .array(let items)?:
            let words = Set(items.compactMap { $0.stringValue?.lowercased() })
            return words.contains("tools") || words.contains("tool_use")
        case .object(let flags)?:
            for key in ["tools", "tool_use", "function_calling"] {
                if case .bool(let flag)? = flags[key] { return flag }
            }
            return nil
        default:
            return nil
        }
    }

    // MARK: - OpenRouter entries

    private static func openRouterModel(_ entry: JSONValue) -> ModelInfo? {
        guard case .object(let object) = entry, let id = object["id"]?.stringValue.flatMap(nonEmpty) else { return nil }
        let top = object["top_provider"]?.objectValue ?? [:]
        var model = ModelInfo(id: id)
        model.name = object["name"]?.stringValue.flatMap(nonEmpty)
        model.contextLength = positiveInt(object["context_length"]) ?? positiveInt(top["context_length"])
        model.maxCompletionTokens = positiveInt(top["max_completion_tokens"])
        if let pricing = object["pricing"]?.objectValue,
           let prompt = perMillion(pricing["prompt"]), let completion = perMillion(pricing["completion"]) {
            model.pricing = Pricing(promptPerMillion: prompt, completionPerMillion: completion)
        }
        if let parameters = object["supported_parameters"]?.arrayValue {
            model.supportsTools = parameters.contains { $0.stringValue == "tools" }
        }
        return model
    }

    /// A per-token USD price ("0.0000025", or a number) as USD per million tokens (2.5), computed in decimal so
    /// that the result is the exact decimal number rather than 2.4999999999999996. Negative ("-1": variable
    /// pricing of a router model) or unreadable → nil.
    static func perMillion(_ value: JSONValue?) -> Double? {
        let text: String
        switch value {
        case .string(let string)?: text = string.trimmingCharacters(in: .whitespaces)
        case .int(let number)?: text = String(number)
        case .double(let number)?: text = number.isFinite ? String(number) : ""
        default: return nil
        }
        guard isPlainDecimal(text), let decimal = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")),
              decimal >= 0 else { return nil }
        let scaled = decimal * Decimal(1_000_000)
        guard let result = Double(scaled.description), result.isFinite else { return nil }
        return result
    }

    /// "12", "0.0000025", "2.5e-06", "-1": digits with an optional sign, fraction and exponent, nothing else
    /// (`Decimal(string:)` alone would read "12abc" as 12).
    private static func isPlainDecimal(_ text: String) -> Bool {
        var bytes = Substring(text).utf8[...]
        func digits() -> Int {
            var count = 0
            while let byte = bytes.first, byte >= 0x30, byte <= 0x39 { bytes.removeFirst(); count += 1 }
            return count
        }
        if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") { bytes.removeFirst() }
        var mantissa = digits()
        if bytes.first == UInt8(ascii: ".") { bytes.removeFirst(); mantissa += digits() }
        guard mantissa > 0 else { return false }
        if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
            bytes.removeFirst()
            if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") { bytes.removeFirst() }
            guard digits() > 0 else { return false }
        }
        return bytes.isEmpty
    }

    // MARK: - Values

    /// A positive whole number from a JSON number or a string of digits; nil for null, 0, negatives and anything else.
    private static func positiveInt(_ value: JSONValue?) -> Int? {
        switch value {
        case .int(let number)?:
            return number > 0 ? Int(exactly: number) : nil
        case .double(let number)?:
            guard number.isFinite, number > 0, number < 1e15, number == number.rounded() else { return nil }
            return Int(number)
        case .string(let text)?:
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, trimmed.count < 16, trimmed.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let number = Int(trimmed), number > 0 else { return nil }
            return number
        default:
            return nil
        }
    }

    /// The text as given, unless it is empty or only whitespace (an id is sent back to the server exactly).
    private static func nonEmpty(_ text: String) -> String? {
        text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : text
    }
}
