import Foundation

/// The result of `probe`.
public struct ProbeReport: Encodable, Sendable {
    public struct Check: Encodable, Sendable {
        public var ok = false
        public var ms: Double = 0
        public var error: CheckError?
        public var count: Int?
        public var ttftMs: Double?
        public var supported: Bool?

        enum CodingKeys: String, CodingKey {
            case ok, ms, error, count, supported
            case ttftMs = "ttft_ms"
        }
    }

    public struct CheckError: Encodable, Sendable {
        public var code: Int
        public var kind: String
        public var message: String
        public var status: Int?

        init(_ failure: ProviderError) {
            code = failure.kind.code
            kind = failure.kind.rawValue
            message = failure.message
            status = failure.status
        }
    }

    public struct Checks: Encodable, Sendable {
        public var models = Check()
        public var chat = Check()
        public var stream = Check()
        public var tools = Check()
    }

    public var ok: Bool
    public var provider: String
    public var baseURL: String?
    public var model: String?
    public var checks: Checks
    public var warnings: [String]

    /// The report with `scrub` applied to every text that may quote a server (check errors and warnings).
    func scrubbed(_ scrub: (String) -> String) -> ProbeReport {
        var report = self
        for path in [\Checks.models, \Checks.chat, \Checks.stream, \Checks.tools] {
            if let message = report.checks[keyPath: path].error?.message {
                report.checks[keyPath: path].error?.message = scrub(message)
            }
        }
        report.warnings = warnings.map(scrub)
        return report
    }

    enum CodingKeys: String, CodingKey {
        case ok, provider, model, checks, warnings
        case baseURL = "base_url"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ok, forKey: .ok)
        try c.encode(provider, forKey: .provider)
        try c.encodeNullable(baseURL, forKey: .baseURL)
        try c.encodeNullable(model, forKey: .model)
        try c.encode(checks, forKey: .checks)
        try c.encode(warnings, forKey: .warnings)
    }
}
