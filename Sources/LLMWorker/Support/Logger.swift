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

    /// Whether lines at `messageLevel` are written: callers check it before building costly messages.
    public func isEnabled(_ messageLevel: LogLevel) -> Bool { messageLevel <= level }

    public func log(_ messageLevel: LogLevel, _ message: @autoclosure () -> String) {
        guard isEnabled(messageLevel) else { return }
        emit("caal-llm-worker \(messageLevel.label): \(Self.oneLine(redactor.scrub(message())))\n")
    }

    /// A line about one request: `caal-llm-worker debug [id "abc" #3] chatStream: message`.
    func log(_ messageLevel: LogLevel, tag: LogTag, _ message: @autoclosure () -> String) {
        guard isEnabled(messageLevel) else { return }
        let text = Self.oneLine(redactor.scrub("\(tag.method): \(message())"))
        emit("caal-llm-worker \(messageLevel.label) \(tag.text(scrubbedBy: redactor)) \(text)\n")
    }

    /// The text with every line break written as an escape (`\\n`, `\\r`, `\\u2028`…): one message, one line.
    static func oneLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isLineBreak) else { return text }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result.append(contentsOf: "\\n".unicodeScalars)
            case "\r": result.append(contentsOf: "\\r".unicodeScalars)
            case _ where isLineBreak(scalar): result.append(contentsOf: String(format: "\\u%04x", scalar.value).unicodeScalars)
            default: result.append(scalar)
            }
        }
        return String(result)
    }

    /// What a terminal or a line reader may take for the end of a line.
    static func isLineBreak(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0x2028, 0x2029: return true
        default: return false
        }
    }

    /// Lines from different threads never mix: one writer at a time, and each line written whole (a pipe may take
    /// a long line in parts, and a write may be interrupted).
    private static let writeLock = NSLock()

    private func emit(_ line: String) {
        var bytes = Array(line.utf8)
        Self.writeLock.lock()
        defer { Self.writeLock.unlock() }
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
