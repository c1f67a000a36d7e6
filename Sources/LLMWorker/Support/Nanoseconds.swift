import Foundation

/// Seconds to nanoseconds for sleeps and deadlines, saturating: a limit of 1e300 s from `configure` or
/// `--shutdown-grace`, or a server's enormous Retry-After, means "practically never", not a crash converting it.
enum Nanoseconds {
    /// About 285 years: beyond any real limit, and still far from UInt64's end when added to an uptime.
    static let ceiling: UInt64 = 9_000_000_000_000_000_000

    static func from(seconds: Double) -> UInt64 {
        guard seconds > 0 else { return 0 }  // NaN too
        let nanoseconds = seconds * 1e9
        return nanoseconds >= Double(ceiling) ? ceiling : UInt64(nanoseconds)
    }
}
