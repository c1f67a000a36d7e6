import Foundation

/// Which server family's error conventions apply: they differ for 403 (auth vs. moderation) and in wording.
enum ErrorDialect: Sendable {
    case openAICompatible
    case openRouter
}

/// Turns what an upstream server sent for a failed request into the contract's `ProviderError`.
/// Pure: no I/O, no logging. Every input, however malformed, gives an error and never a crash.
enum UpstreamErrorMapper {

    /// An HTTP error status (or a 2xx whose body is an error object) → the contract's error.
    /// The status decides the kind; the body only refines it (context length, quota, moderation) and supplies the text.
    static func map(status: Int, headers: [String: String], body: Data, dialect: ErrorDialect,
                    provider: ProviderKind) -> ProviderError {
        let retryAfter = retryAfterSeconds(headers: headers)
        let parsed = ParsedBody(body)

        guard (400...599).contains(status) else {
            // A non-error status: the body may still be an error object (servers that answer errors with 200).
            if case .json(.object(let object)) = parsed,
               var error = embeddedError(in: object, dialect: dialect, provider: provider) {
                if error.retryable, let retryAfter { error.retryAfterSeconds = retryAfter }
                return error
            }
            let quoted = parsed.quotedText
            let who = serverName(dialect)
            if (200...299).contains(status) {
                let message = "\(who) sent a response that is not what was expected (HTTP \(status))"
                    + (quoted.map { ": " + Quote.sentence(Quote.clip($0, to: messageQuoteLimit)) } ?? " with an empty body.")
                return ProviderError(.invalidResponse, message, status: status,
                                     upstreamMessage: quoted, provider: provider.rawValue)
            }
            // 1xx/3xx reaching here means a redirect was not followed or the server is not an HTTP API at all.
            var message = "\(who) answered with an unexpected HTTP status \(status)"
                + (quoted.map { ": " + Quote.sentence(Quote.clip($0, to: messageQuoteLimit)) } ?? ".")
            message += " Check base_url (http or https, and the path, usually ending in /v1)."
            return ProviderError(.upstreamError, message, status: status, retryable: false,
                                 upstreamMessage: quoted, provider: provider.rawValue)
        }

        var details: ErrorDetails
        switch parsed {
        case .empty:
            details = ErrorDetails()
            details.bodyWasEmpty = true
        case .text(let text):
            details = ErrorDetails(message: text)
        case .json(let value):
            details = ErrorDetails.fromBody(value, dialect: dialect)
        }
        return build(status: status, details: details, retryAfter: retryAfter, embedded: false,
                     dialect: dialect, provider: provider)
    }

    /// An error carried inside a 2xx JSON body or an SSE data event (mid-stream): OpenAI `{"error":{…}}`, vLLM flat
    /// `{"object":"error","message",…}`, LM Studio `{"error":"text"}`, OpenRouter chunk with top-level `error` +
    /// finish_reason "error". Returns nil when the object carries no error. The numeric code (or a digit string like
    /// "429") maps as if it were the status; otherwise upstream_error.
    static func embeddedError(in object: [String: JSONValue], dialect: ErrorDialect,
                              provider: ProviderKind) -> ProviderError? {
        guard let details = ErrorDetails.embedded(in: object, dialect: dialect) else { return nil }
        if let code = details.numericCode, (400...599).contains(code) {
            return build(status: code, details: details, retryAfter: nil, embedded: true,
                         dialect: dialect, provider: provider)
        }
        let who = serverName(dialect)
        let text = details.displayText(dialect: dialect)
        var message = "\(who) reported an error"
        if dialect == .openRouter, details.providerName != nil {
            message = "The model's provider failed, as reported by OpenRouter"
        }
        message += text.map { ": " + Quote.sentence(Quote.clip($0, to: messageQuoteLimit)) } ?? " without any details."
        if let hint = baseURLHint(details) { message += " " + hint }
        return ProviderError(.upstreamError, message, status: nil,
                             upstreamMessage: details.upstreamMessage, provider: provider.rawValue)
    }

    /// Retry-After: `retry-after-ms` first, then `retry-after` as seconds or an HTTP date; nil if absent/unparseable.
    static func retryAfterSeconds(headers: [String: String], now: Date = Date()) -> Double? {
        if let raw = header("retry-after-ms", in: headers), let ms = nonNegativeNumber(raw) {
            return ms / 1000
        }
        guard let raw = header("retry-after", in: headers) else { return nil }
        if let seconds = nonNegativeNumber(raw) { return seconds }
        guard let date = httpDate(raw.trimmingCharacters(in: .whitespaces)) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }

    // MARK: - Building the error

    /// How much of the server's text goes into the human-readable `message`.
    static let messageQuoteLimit = 500
    /// How much of the server's own text is kept in `upstream_message`.
    static let upstreamMessageLimit = 2000
    /// How much of a body that is not JSON is quoted.
    static let bodySnippetLimit = 200

    private static func build(status: Int, details: ErrorDetails, retryAfter: Double?, embedded: Bool,
                              dialect: ErrorDialect, provider: ProviderKind) -> ProviderError {
        let kind = kind(status: status, details: details, dialect: dialect)
        var retryable = kind.isRetryable
        // OpenRouter: "a 402 without the header is not a wait-and-retry case"; with it, it is.
        if status == 402, kind == .insufficientCredits { retryable = retryAfter != nil }

        let who = serverName(dialect)
        let origin = embedded ? "error code \(status)" : "HTTP \(status)"
        let lead: String
        var advice: [String] = []
        let keyHint = apiKeyHint(provider)

        switch kind {
        case .auth:
            if status == 403 {
                lead = "\(who) refused access (\(origin))"
                advice.append("Check that the API key (\(keyHint)) is allowed to use this model.")
            } else {
                lead = "\(who) rejected the API key (\(origin))"
                advice.append("Check \(keyHint).")
            }
        case .notFound:
            lead = "\(who) answered not found (\(origin))"
            if dialect == .openRouter {
                advice.append("The model may not exist on OpenRouter: check the model name with listModels.")
            } else {
                advice.append("The model may not exist on this server: check the model name with listModels."
                              + " If the name is right, check base_url (it usually ends in /v1).")
            }
        case .contextLength:
            lead = "The conversation is too long for the model's context window (\(origin))"
            advice.append("Shorten the conversation or lower max_tokens.")
        case .badRequest:
            lead = "\(who) rejected the request (\(origin))"
        case .timeout:
            lead = "\(who) timed out (\(origin))"
            advice.append("Try again.")
        case .rateLimited:
            lead = "\(who) is rate-limiting requests (\(origin))"
            if let retryAfter {
                advice.append("Try again in \(formatSeconds(retryAfter)) s.")
            } else {
                advice.append("Wait a little and try again.")
            }
        case .insufficientCredits:
            if details.isQuotaExhausted {
                lead = "\(who) says the account has exceeded its quota (\(origin))"
                advice.append("Check the plan and billing of the account; retrying will not help.")
            } else if status == 403 {
                lead = "\(who) says this API key has reached its spending limit (\(origin))"
                advice.append("Raise the key's limit or use another key.")
            } else {
                lead = "\(who) says the account is out of credits (\(origin))"
                if dialect == .openRouter {
                    advice.append("Add credits at https://openrouter.ai/settings/credits or choose a cheaper model.")
                } else {
                    advice.append("Check the billing of the account.")
                }
                if retryable, let retryAfter { advice.append("Try again in \(formatSeconds(retryAfter)) s.") }
            }
        case .contentBlocked:
            lead = "\(who) blocked the request (\(origin))"
            advice.append("Rephrase the request or choose another model.")
        case .unavailable:
            if dialect == .openRouter, status == 502 {
                lead = "OpenRouter could not get an answer from the model's provider (\(origin))"
                advice.append("Try again shortly or choose another model.")
            } else if dialect == .openRouter, status == 503 {
                lead = "OpenRouter has no provider available for this model (\(origin))"
                advice.append("Try again shortly, or relax routing in configure.")
            } else {
                lead = "\(who) is unavailable (\(origin))"
                advice.append("It may be overloaded, restarting or still loading the model; try again shortly.")
            }
        default:
            lead = "\(who) failed to answer (\(origin))"
        }

        var message = lead
        if let text = details.displayText(dialect: dialect) {
            message += ": " + Quote.sentence(Quote.clip(text, to: messageQuoteLimit))
        } else {
            message += details.bodyWasEmpty ? " with an empty response body." : " without any details."
        }
        if kind == .contentBlocked {
            if !details.reasons.isEmpty {
                message += " Flagged for: " + details.reasons.joined(separator: ", ") + "."
            }
            if let flagged = details.flaggedInput, !flagged.isEmpty {
                message += " Flagged input: \"" + Quote.clip(Quote.collapseWhitespace(flagged), to: 120) + "\"."
            }
        }
        if let hint = baseURLHint(details) { advice.append(hint) }
        if !advice.isEmpty { message += " " + advice.joined(separator: " ") }

        return ProviderError(kind, message, status: status, retryable: retryable,
                             retryAfterSeconds: retryable ? retryAfter : nil,
                             upstreamMessage: details.upstreamMessage, provider: provider.rawValue)
    }

    /// The kind an error status means, refined by what the body says.
    private static func kind(status: Int, details: ErrorDetails, dialect: ErrorDialect) -> ErrorKind {
        switch status {
        case 401:
            return .auth
        case 402:
            return .insufficientCredits
        case 403:
            guard dialect == .openRouter else { return .auth }
            if !details.reasons.isEmpty || details.flaggedInput != nil { return .contentBlocked }
            let text = (details.message ?? "").lowercased()
            // "Key limit exceeded (monthly limit). Manage it using https://openrouter.ai/settings/keys"
            if text.contains("key"), text.contains("limit") { return .insufficientCredits }
            if ["key", "permission", "unauthorized", "not authorized", "credential"].contains(where: text.contains) {
                return .auth
            }
            return .contentBlocked
        case 404:
            return .notFound
        case 408:
            return .timeout
        case 409:
            return .upstreamError
        case 429:
            return details.isQuotaExhausted ? .insufficientCredits : .rateLimited
        case 502, 503, 504:
            return .unavailable
        case 500...599:
            return .upstreamError
        default:
            return details.saysContextExceeded ? .contextLength : .badRequest
        }
    }

    private static func serverName(_ dialect: ErrorDialect) -> String {
        dialect == .openRouter ? "OpenRouter" : "The server"
    }

    private static func apiKeyHint(_ provider: ProviderKind) -> String {
        if let variable = provider.apiKeyEnvironmentVariable { return "api_key in configure or \(variable)" }
        return "api_key in configure"
    }

    /// LM Studio answers a request to a path it does not serve (base_url without /v1) with HTTP 200 and this text.
    private static func baseURLHint(_ details: ErrorDetails) -> String? {
        guard let text = details.message?.lowercased(), text.contains("unexpected endpoint") else { return nil }
        return "Check base_url (it usually ends in /v1)."
    }

    private static func formatSeconds(_ seconds: Double) -> String {
        if seconds == seconds.rounded(), let whole = Int(exactly: seconds) { return String(whole) }
        return String(format: "%.1f", seconds)
    }

    // MARK: - Headers

    private static func header(_ name: String, in headers: [String: String]) -> String? {
        if let value = headers[name] { return value }
        return headers.first { $0.key.lowercased() == name }?.value
    }

    /// A plain non-negative decimal number ("30", "1.5"); not "inf", "nan", "-1", "0x10" or "1e3".
    private static func nonNegativeNumber(_ raw: String) -> Double? {
        let text = raw.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty, text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E }),
              text.utf8.contains(where: { $0 != 0x2E }), let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// The three date formats HTTP allows (RFC 9110 §5.6.7): IMF-fixdate, RFC 850 and asctime.
    private static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}

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

    // MARK: - Text helpers

    /// Shortening and cleaning text quoted from a server.
    enum Quote {
        /// The first `limit` characters of a body that is not JSON, whitespace collapsed; for an HTML page its `<title>`,
        /// else its text without tags. Nil when nothing readable is left. Invalid UTF-8 is replaced, never fatal.
        static func snippet(of data: Data, limit: Int) -> String? {
            let text = String(decoding: data.prefix(64 * 1024), as: UTF8.self)
            var readable = collapseWhitespace(text)
            if looksLikeMarkup(text) {
                // An HTML page (or an XML error document): its title, else its text without the tags.
                var extracted: String
                if let title = htmlTitle(text), !collapseWhitespace(title).isEmpty {
                    extracted = title
                } else {
                    extracted = stripTags(text)
                }
                extracted = collapseWhitespace(decodeEntities(extracted))
                if !extracted.isEmpty { readable = extracted }
            }
            guard !readable.isEmpty else { return nil }
            return clip(Redactor.scrubPatterns(readable), to: limit)
        }

        static func looksLikeMarkup(_ text: String) -> Bool {
            text.prefix(256).trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("<")
        }

        static func htmlTitle(_ html: String) -> String? {
            guard let open = html.range(of: "<title", options: .caseInsensitive),
                  let openEnd = html.range(of: ">", range: open.upperBound..<html.endIndex),
                  let close = html.range(of: "</title", options: .caseInsensitive, range: openEnd.upperBound..<html.endIndex)
            else { return nil }
            return String(html[openEnd.upperBound..<close.lowerBound])
        }

        /// The text of an HTML page: `<script>`/`<style>` blocks and all tags replaced by spaces.
        static func stripTags(_ html: String) -> String {
            var text = html
            for block in ["script", "style"] {
                while let open = text.range(of: "<\(block)", options: .caseInsensitive) {
                    if let close = text.range(of: "</\(block)>", options: .caseInsensitive, range: open.upperBound..<text.endIndex) {
                        text.replaceSubrange(open.lowerBound..<close.upperBound, with: " ")
                    } else {
                        text.removeSubrange(open.lowerBound..<text.endIndex)
                    }
                }
            }
            var out = ""
            out.reserveCapacity(text.count)
            var inTag = false
            for character in text {
                if inTag {
                    if character == ">" { inTag = false; out.append(" ") }
                } else if character == "<" {
                    inTag = true
                } else {
                    out.append(character)
                }
            }
            return out
        }

        static func decodeEntities(_ text: String) -> String {
            guard text.contains("&") else { return text }
            var result = text
            for (entity, character) in [("&nbsp;", " "), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""),
                                        ("&#39;", "'"), ("&apos;", "'"), ("&#x27;", "'"), ("&amp;", "&")] {
                result = result.replacingOccurrences(of: entity, with: character, options: .caseInsensitive)
            }
            return result
        }

        /// Runs of whitespace (newlines included) become one space; other control characters go; ends are trimmed.
        static func collapseWhitespace(_ text: String) -> String {
            var out = ""
            out.reserveCapacity(text.utf8.count)
            var pendingSpace = false
            for scalar in text.unicodeScalars {
                if scalar.properties.isWhitespace {
                    pendingSpace = !out.isEmpty
                } else if scalar.properties.generalCategory == .control {
                    continue
                } else {
                    if pendingSpace { out.append(" "); pendingSpace = false }
                    out.unicodeScalars.append(scalar)
                }
            }
            return out
        }

        /// At most `limit` characters, with "…" when cut.
        static func clip(_ text: String, to limit: Int) -> String {
            guard text.count > limit else { return text }
            return String(text.prefix(max(0, limit - 1))).trimmingCharacters(in: .whitespaces) + "…"
        }

        /// Text ending like a sentence, so advice can follow it.
        static func sentence(_ text: String) -> String {
            guard let last = text.last else { return text }
            return ".!?…".contains(last) ? text : text + "."
        }

        static func compactJSON(_ value: JSONValue) -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            guard let data = try? encoder.encode(value) else { return "" }
            return String(decoding: data, as: UTF8.self)
        }
    }
}
