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
