import Foundation

/// Removes secrets from text the worker writes: every API key it has been given or read from the environment,
/// plus anything shaped like a bearer token or a provider key, whoever it belongs to.
public final class Redactor: Sendable {
    private let secrets = Locked<Set<String>>([])

    public init() {}

    public func register(_ secret: String?) {
        // Very short strings would redact ordinary words; no real key is that short.
        guard let secret, secret.count >= 8 else { return }
        secrets.withLock { _ = $0.insert(secret) }
    }

    public func scrub(_ text: String) -> String {
        let known = secrets.withLock { $0 }
        var result = text
        for secret in known where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: "[redacted]")
        }
        return Self.scrubPatterns(result)
    }

    /// Bearer tokens and `sk-…` keys, even ones the worker was never told about.
    static func scrubPatterns(_ text: String) -> String {
        guard text.contains("Bearer") || text.contains("bearer") || text.contains("sk-") else { return text }
        var result = text
        for pattern in [#"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{6,}"#, #"sk-[A-Za-z0-9_-]{8,}"#] {
            guard let regex = try? NSRegularExpression(pattern: pattern) else { continue }
            let range = NSRange(result.startIndex..., in: result)
            let template = pattern.hasPrefix("(?i)") ? "$1[redacted]" : "[redacted]"
            result = regex.stringByReplacingMatches(in: result, range: range, withTemplate: template)
        }
        return result
    }
}
