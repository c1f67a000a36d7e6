import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    case error = 0, warn, info, debug

    public init?(name: String) {
        switch name.lowercased() {
        case "error": self = .error
        case "warn", "warning": self = .warn
        case "info": self = .info
        case "debug": self = .debug
        default: return nil
        }
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    var label: String {
        switch self {
        case .error: return "error"
        case .warn: return "warn"
        case .info: return "info"
        case .debug: return "debug"
        }
    }
}

/// Log lines on stderr, never stdout. Every line passes through the redactor first, so a key that found its
/// way into a message (a server echoing it back, say) is not written out.
public struct Logger: Sendable {
    public let level: LogLevel
    private let fd: Int32
    private let redactor: Redactor

    public init(level: LogLevel, fd: Int32 = 2, redactor: Redactor) {
        self.level = level
        self.fd = fd
        self.redactor = redactor
    }

    public func error(_ message: @autoclosure () -> String) { log(.error, message()) }
    public func warn(_ message: @autoclosure () -> String) { log(.warn, message()) }
    public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }

    public func log(_ messageLevel: LogLevel, _ message: @autoclosure () -> String) {
        guard messageLevel <= level else { return }
        let text = redactor.scrub(message()).replacingOccurrences(of: "\n", with: "\\n")
        let line = "caal-llm-worker \(messageLevel.label): \(text)\n"
        // One write per line: lines from different threads never mix.
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
    }
}
