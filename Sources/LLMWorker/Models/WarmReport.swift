import Foundation

/// The result of `warm`: whether the provider's server answered the cheap request that opens (or reuses) a
/// connection, how long it took, and whether the connection was already open. Every member is always present.
public struct WarmReport: Encodable, Sendable {
    public var ok: Bool
    public var provider: String
    public var ms: Double
    /// Whether the request travelled on a connection that was already open; nil when that cannot be told.
    public var reused: Bool?
    /// The HTTP status of the answer (any status counts: the server was reached); nil without one.
    public var status: Int?
    public var error: ProbeReport.CheckError?

    /// A provider that makes no network connections (the mock) has nothing to warm.
    static func nothingToWarm(_ provider: ProviderKind) -> WarmReport {
        WarmReport(ok: true, provider: provider.rawValue, ms: 0, reused: nil, status: nil, error: nil)
    }

    /// The report with `scrub` applied to the error message (it may quote a server).
    func scrubbed(_ scrub: (String) -> String) -> WarmReport {
        var report = self
        if let message = error?.message { report.error?.message = scrub(message) }
        return report
    }

    enum CodingKeys: String, CodingKey {
        case ok, provider, ms, reused, status, error
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ok, forKey: .ok)
        try c.encode(provider, forKey: .provider)
        try c.encode(ms, forKey: .ms)
        try c.encodeNullable(reused, forKey: .reused)
        try c.encodeNullable(status, forKey: .status)
        try c.encodeNullable(error, forKey: .error)
    }
}
