import Foundation

extension UpstreamErrorMapper {
    // MARK: - Reading a body

    /// An upstream body, read once: nothing, JSON, or text that is not JSON (already reduced to a short quote).
    enum ParsedBody {
        case empty
        case json(JSONValue)
        case text(String)

        init(_ data: Data) {
            if data.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
                self = .empty
            } else if let value = ParsedBody.parseJSON(data) {
                self = .json(value)
            } else if let snippet = Quote.snippet(of: data, limit: UpstreamErrorMapper.bodySnippetLimit) {
                self = .text(snippet)
            } else {
                self = .empty
            }
        }

        /// What to quote of this body when it cannot be interpreted.
        var quotedText: String? {
            switch self {
            case .empty: return nil
            case .text(let text): return text
            case .json(let value):
                let text = Redactor.scrubPatterns(Quote.collapseWhitespace(Quote.compactJSON(value)))
                return Quote.clip(text, to: UpstreamErrorMapper.bodySnippetLimit)
            }
        }

        /// JSON from bytes that may not be valid UTF-8: a body with a stray invalid byte inside a string still parses.
        static func parseJSON(_ data: Data) -> JSONValue? {
            let decoder = JSONDecoder()
            if let value = try? decoder.decode(JSONValue.self, from: data) { return value }
            guard String(data: data, encoding: .utf8) == nil else { return nil }
            let repaired = Data(String(decoding: data, as: UTF8.self).utf8)
            return try? decoder.decode(JSONValue.self, from: repaired)
        }
    }

    // MARK: - What an error object says

    /// The parts of an upstream error object the mapping uses, gathered from whichever shape the server sent.
    struct ErrorDetails {
        /// The server's own message text (secrets scrubbed).
        var message: String?
        var type: String?
        var code: JSONValue?
        /// OpenRouter `metadata.provider_name` (or a mid-stream chunk's `provider`).
        var providerName: String?
        /// OpenRouter `metadata.raw`, reduced to its message text.
        var raw: String?
        /// OpenRouter moderation metadata.
        var reasons: [String] = []
        var flaggedInput: String?
        /// The response had no body at all (or only whitespace).
        var bodyWasEmpty = false

        init(message: String? = nil) {
            self.message = message
        }

        /// The code as an integer: a JSON number or a string of digits ("429").
        var numericCode: Int? {
            switch code {
            case .int(let value)?: return Int(exactly: value)
            case .double(let value)?: return value.isFinite ? Int(exactly: value) : nil
            case .string(let text)?:
                let trimmed = text.trimmingCharacters(in: .whitespaces)
                guard !trimmed.isEmpty, trimmed.count <= 4, trimmed.allSatisfy(\.isASCII),
                      trimmed.allSatisfy(\.isNumber) else { return nil }
                return Int(trimmed)
            default: return nil
            }
        }

        /// A code that is a word, like OpenAI's "context_length_exceeded".
        var codeString: String? {
            if case .string(let text)? = code, numericCode == nil { return ErrorDetails.meaningful(text) }
            return nil
        }

        /// OpenAI's `insufficient_quota` (a 429 that waiting does not cure) and LiteLLM's spent budget.
        var isQuotaExhausted: Bool {
            let words = [codeString, type].compactMap { $0?.lowercased() }
            return words.contains("insufficient_quota") || words.contains("budget_exceeded")
        }

        /// Whether the text, type or code says the prompt does not fit the model's context.
        var saysContextExceeded: Bool {
            let words = [codeString, type].compactMap { $0?.lowercased() }
            if words.contains(where: { $0.contains("context_length_exceeded") || $0.contains("exceed_context_size") }) {
                return true
            }
            let haystack = [message, raw].compactMap { $0?.lowercased() }.joined(separator: "\n")
            return ErrorDetails.contextPhrases.contains(where: haystack.contains)
        }

        static let contextPhrases = [
            "context_length_exceeded", "exceed_context_size", "maximum context length", "context length",
            "context_length", "context window", "context size", "too many tokens", "exceeds the available context",
            "prompt is too long", "input is too long", "reduce the length of the messages", "maximum prompt length",
            "`inputs` tokens + `max_new_tokens`", "maximum number of tokens", "input token count",
        ]

        /// The server's message as kept in `upstream_message`.
        var upstreamMessage: String? {
            message.map { Quote.clip($0, to: UpstreamErrorMapper.upstreamMessageLimit) }
        }

        /// The server's text as a person reads it: OpenRouter's message with the provider's name and, when it adds
        /// something, the provider's raw error.
        func displayText(dialect: ErrorDialect) -> String? {
            var text = message.map(Quote.collapseWhitespace)
            if let providerName = providerName.map(Quote.collapseWhitespace), !providerName.isEmpty {
                var base = text ?? "Error"
                if base.hasSuffix(".") { base.removeLast() }
                text = base + " (provider: \(providerName))"
            }
            if let raw = raw.map(Quote.collapseWhitespace), !raw.isEmpty {
                let known = (message ?? "").lowercased()
                if !known.contains(raw.lowercased()) {
                    text = (text.map { $0 + ": " } ?? "") + Quote.clip(raw, to: 300)
                }
            }
            if let current = text, current.isEmpty { return nil }
            return text
        }

        // MARK: Reading the shapes

        /// The details of an error status's body, whatever its shape.
        static func fromBody(_ value: JSONValue, dialect: ErrorDialect) -> ErrorDetails {
            if case .object(let object) = value {
                if let details = embedded(in: object, dialect: dialect) { return details }
                // Proxies and frameworks: {"message": …}, FastAPI {"detail": …}, {"msg": …}.
                for key in ["message", "detail", "msg", "error_message", "title"] {
                    if let value = object[key], let text = messageText(value) {
                        return ErrorDetails(message: text)
                    }
                }
            }
            // JSON that says nothing recognisable (a bare string, a list, an unknown object): quote it.
            if case .object = value {
                let text = Redactor.scrubPatterns(Quote.collapseWhitespace(Quote.compactJSON(value)))
                return ErrorDetails(message: Quote.clip(text, to: UpstreamErrorMapper.bodySnippetLimit))
            }
            return ErrorDetails(message: messageText(value).map { Quote.clip($0, to: UpstreamErrorMapper.bodySnippetLimit) })
        }

        /// The error an object carries, or nil when it carries none.
        static func embedded(in object: [String: JSONValue], dialect: ErrorDialect) -> ErrorDetails? {
            let topProvider = dialect == .openRouter ? object["provider"]?.stringValue.flatMap(meaningful) : nil
            switch object["error"] {
            case .object(let error)?:
                var details = fromErrorObject(error)
                if details.providerName == nil { details.providerName = topProvider }
                return details
            case .string(let text)?:
                if let text = meaningful(text) {
                    var details = ErrorDetails(message: Redactor.scrubPatterns(text))
                    details.providerName = topProvider
                    return details
                }
            case .array(let items)? where !items.isEmpty:
                var details = ErrorDetails(message: messageText(.array(items)))
                details.providerName = topProvider
                return details
            case .bool(true)?:
                var details = ErrorDetails()
                details.message = object["message"].flatMap { messageText($0) }
                details.code = object["code"]
                details.providerName = topProvider
                return details
            default:
                break
            }
            // vLLM before 2025: {"object":"error","message","type","param","code"} without a wrapper.
            if object["object"]?.stringValue == "error" {
                return fromErrorObject(object)
            }
            // An error inside a choice (OpenRouter, when part of a non-streamed answer was already produced).
            if let choices = object["choices"]?.arrayValue {
                for choice in choices {
                    if case .object(let error)? = choice["error"] {
                        var details = fromErrorObject(error)
                        if details.providerName == nil { details.providerName = topProvider }
                        return details
                    }
                }
                if dialect == .openRouter,
                   choices.contains(where: { $0["finish_reason"]?.stringValue == "error" }) {
                    var details = ErrorDetails()
                    details.providerName = topProvider
                    return details
                }
            }
            return nil
        }

        private static func fromErrorObject(_ error: [String: JSONValue]) -> ErrorDetails {
            var details = ErrorDetails()
            for key in ["message", "msg", "detail", "error", "error_message"] {
                if let value = error[key], let text = messageText(value) {
                    details.message = text
                    break
                }
            }
            details.type = error["type"]?.stringValue.flatMap(meaningful)
            if let code = error["code"], code != .null {
                if case .string(let text) = code, meaningful(text) == nil {
                    details.code = nil
                } else {
                    details.code = code
                }
            }
            if case .object(let metadata)? = error["metadata"] {
                details.providerName = metadata["provider_name"]?.stringValue.flatMap(meaningful)
                if let raw = metadata["raw"], let text = messageText(raw) {
                    details.raw = text
                }
                if let reasons = metadata["reasons"]?.arrayValue {
                    details.reasons = reasons.compactMap { $0.stringValue.flatMap(meaningful) }
                }
                if let flagged = metadata["flagged_input"]?.stringValue {
                    details.flaggedInput = Redactor.scrubPatterns(flagged)
                }
            }
            if details.message == nil, details.raw == nil {
                // An error object without any text: its type or code is all there is to show.
                details.message = details.type ?? details.codeString
            }
            return details
        }

        /// The text a JSON value carries as an error message: a string (which may itself be JSON text, as OpenRouter's
        /// `metadata.raw` often is), the message inside a nested error object, or the value written as compact JSON.
        static func messageText(_ value: JSONValue, depth: Int = 0) -> String? {
            guard depth < 6 else { return nil }
            switch value {
            case .null:
                return nil
            case .string(let text):
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !trimmed.isEmpty else { return nil }
                if let first = trimmed.first, first == "{" || first == "[",
                   let nested = ParsedBody.parseJSON(Data(trimmed.utf8)),
                   let inner = messageText(nested, depth: depth + 1) {
                    return inner
                }
                return Redactor.scrubPatterns(trimmed)
            case .object(let object):
                for key in ["error", "message", "msg", "detail", "data", "error_message"] {
                    if let inner = object[key], let text = messageText(inner, depth: depth + 1) { return text }
                }
                return object.isEmpty ? nil : Redactor.scrubPatterns(Quote.compactJSON(value))
            case .array(let items):
                // FastAPI validation errors: [{"loc": […], "msg": "field required", "type": …}, …]
                let texts = items.compactMap { item -> String? in
                    if case .object(let object) = item {
                        for key in ["msg", "message"] {
                            if let text = object[key]?.stringValue.flatMap(meaningful) { return text }
                        }
                    }
                    return nil
                }
                if !texts.isEmpty { return Redactor.scrubPatterns(texts.joined(separator: "; ")) }
                return items.isEmpty ? nil : Redactor.scrubPatterns(Quote.compactJSON(value))
            default:
                return Quote.compactJSON(value)
            }
        }

        /// A string that says something: not empty and not Python's "None" (LiteLLM) or "null".
        static func meaningful(_ text: String) -> String? {
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty || trimmed == "None" || trimmed == "null" { return nil }
            return trimmed
        }
    }
}
