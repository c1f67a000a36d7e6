import Foundation
@testable import LLMWorkerTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The built `caal-llm-worker` binary running as a child process, driven the way CAAL drives it: lines (or raw
/// bytes) written to its stdin, stdout read line by line, stderr collected. Every wait has a timeout, so a test
/// can fail but never hang; `stop()` (registered as a teardown by `startWorker`) kills whatever is left.
final class WorkerProcess: @unchecked Sendable {
    /// Generous: a busy 2-core CI machine must not fail a wait that normally takes milliseconds.
    static let defaultTimeout: TimeInterval = 20

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let process = Process()
    private let stdinPipe = Pipe()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()

    // Guarded by `state`.
    private let state = NSCondition()
    private var stdoutBytes: [UInt8] = []
    private var lines: [[UInt8]] = []
    private var partialLine: [UInt8] = []
    private var consumed = 0
    private var stdoutClosed = false
    private var stderrBytes: [UInt8] = []
    private var stderrClosed = false
    private var exitStatus: Int32?
    private var exitedBySignal = false
    private var inputClosed = false
    private var stdoutPaused = false

    /// Starts the binary with `arguments`. The environment is the test's own without the API-key variables
    /// (so a key on the CI machine cannot change results), plus `environment`. `closingStdout` plays a client
    /// that has gone: the reading end of the worker's stdout is closed at once and nothing is read.
    /// `nonBlockingPipes` plays a parent that hands its pipes over in O_NONBLOCK mode.
    init(arguments: [String] = [], environment: [String: String] = [:], closingStdout: Bool = false,
         nonBlockingPipes: Bool = false) throws {
        signal(SIGPIPE, SIG_IGN) // writing to a worker that has exited must fail with EPIPE, not kill the tests
        var env = ProcessInfo.processInfo.environment
        env["OPENAI_API_KEY"] = nil
        env["OPENROUTER_API_KEY"] = nil
        env.merge(environment) { _, new in new }

        process.executableURL = try Self.binaryURL()
        process.arguments = arguments
        process.environment = env
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        if nonBlockingPipes {
            for fd in [stdinPipe.fileHandleForReading.fileDescriptor, stdoutPipe.fileHandleForWriting.fileDescriptor] {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            }
        }
        process.terminationHandler = { [weak self] finished in
            guard let self else { return }
            self.state.lock()
            self.exitStatus = finished.terminationStatus
            self.exitedBySignal = finished.terminationReason == .uncaughtSignal
            self.state.broadcast()
            self.state.unlock()
        }
        try process.run()
        if closingStdout {
            try? stdoutPipe.fileHandleForReading.close()
            state.lock()
            stdoutClosed = true
            state.unlock()
        } else {
            startReader(stdoutPipe.fileHandleForReading, name: "worker-stdout", isStdout: true)
        }
        startReader(stderrPipe.fileHandleForReading, name: "worker-stderr", isStdout: false)
    }

    deinit {
        stop()
    }

    var pid: Int32 { process.processIdentifier }

    // MARK: Finding the binary

    /// The binary built with the tests: next to the test bundle (same build products directory), else
    /// `<package>/.build/debug`. `CAAL_LLM_WORKER_BINARY` overrides both.
    static func binaryURL() throws -> URL {
        let manager = FileManager.default
        var candidates: [URL] = []
        if let override = ProcessInfo.processInfo.environment["CAAL_LLM_WORKER_BINARY"], !override.isEmpty {
            candidates.append(URL(fileURLWithPath: override))
        }
        for bundle in [Bundle.main] + Bundle.allBundles {
            for url in [bundle.executableURL, bundle.bundleURL].compactMap({ $0 }) {
                candidates.append(url.deletingLastPathComponent().appendingPathComponent("caal-llm-worker"))
            }
        }
        if let argv0 = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: argv0).deletingLastPathComponent().appendingPathComponent("caal-llm-worker"))
        }
        candidates.append(PackagePaths.root.appendingPathComponent(".build/debug/caal-llm-worker"))
        for candidate in candidates {
            var isDirectory: ObjCBool = false
            if manager.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
               manager.isExecutableFile(atPath: candidate.path) {
                return candidate
            }
        }
        let tried = Set(candidates.map(\.path)).sorted().joined(separator: "\n  ")
        throw Failure(description: """
            The caal-llm-worker binary was not found. Build it first (`swift build`, or run `bash Tests/run-all.sh`, \
            which builds before testing), or set CAAL_LLM_WORKER_BINARY. Looked in:
              \(tried)
            """)
    }

    // MARK: Input

    /// Writes `line` and a newline.
    func send(_ line: String, timeout: TimeInterval = defaultTimeout) throws {
        try sendRaw(Array(line.utf8) + [0x0A], timeout: timeout)
    }

    /// Writes `message` as one compact JSON line.
    func send(_ message: JSON, timeout: TimeInterval = defaultTimeout) throws {
        try send(message.text, timeout: timeout)
    }

    /// Writes bytes exactly as given. A worker that stops reading makes this fail after `timeout`, not hang:
    /// the write runs on its own thread and the worker is killed if it does not finish in time.
    func sendRaw(_ bytes: [UInt8], timeout: TimeInterval = defaultTimeout) throws {
        let fd = stdinPipe.fileHandleForWriting.fileDescriptor
        let done = DispatchSemaphore(value: 0)
        let outcome = WriteOutcome()
        let thread = Thread {
            outcome.set(Self.writeAll(fd: fd, bytes))
            done.signal()
        }
        thread.start()
        if done.wait(timeout: .now() + timeout) == .timedOut {
            kill(pid, SIGKILL)
            _ = done.wait(timeout: .now() + 10)
            throw failure("writing \(bytes.count) bytes to the worker's stdin did not finish within \(timeout) s")
        }
        if let error = outcome.get() {
            throw failure("writing to the worker's stdin failed: errno \(error)")
        }
    }

    /// Closes the worker's stdin (end of input).
    func closeInput() {
        state.lock()
        let alreadyClosed = inputClosed
        inputClosed = true
        state.unlock()
        if !alreadyClosed { try? stdinPipe.fileHandleForWriting.close() }
    }

    private final class WriteOutcome: @unchecked Sendable {
        private let lock = NSLock()
        private var error: Int32?
        func set(_ value: Int32?) { lock.lock(); error = value; lock.unlock() }
        func get() -> Int32? { lock.lock(); defer { lock.unlock() }; return error }
    }

    private static func writeAll(fd: Int32, _ bytes: [UInt8]) -> Int32? {
        bytes.withUnsafeBytes { buffer -> Int32? in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
    }

    // MARK: Output

    private func startReader(_ handle: FileHandle, name: String, isStdout: Bool) {
        let fd = handle.fileDescriptor
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                if isStdout {
                    state.lock()
                    while stdoutPaused { state.wait() }
                    state.unlock()
                }
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                // Closed before the end is announced: once a wait returns, no descriptor of this worker is open.
                if count <= 0 { try? handle.close() }
                state.lock()
                if count <= 0 {
                    if isStdout { stdoutClosed = true } else { stderrClosed = true }
                    state.broadcast()
                    state.unlock()
                    break
                }
                let chunk = buffer[0..<count]
                if isStdout {
                    stdoutBytes.append(contentsOf: chunk)
                    var rest = chunk[...]
                    while let newline = rest.firstIndex(of: 0x0A) {
                        partialLine.append(contentsOf: rest[..<newline])
                        lines.append(partialLine)
                        partialLine = []
                        rest = rest[(newline + 1)...]
                    }
                    partialLine.append(contentsOf: rest)
                } else {
                    stderrBytes.append(contentsOf: chunk)
                }
                state.broadcast()
                state.unlock()
            }
        }
        thread.name = name
        thread.start()
    }

    /// Stops reading the worker's stdout (a slow client): the pipe fills and the worker's writes block until
    /// `resumeStdout()`. Lines already read stay available.
    func pauseStdout() {
        state.lock()
        stdoutPaused = true
        state.unlock()
    }

    func resumeStdout() {
        state.lock()
        stdoutPaused = false
        state.broadcast()
        state.unlock()
    }

    /// The next stdout line not yet returned, without its newline, as bytes.
    func nextLineBytes(timeout: TimeInterval = defaultTimeout) throws -> [UInt8] {
        let deadline = Date().addingTimeInterval(timeout)
        state.lock()
        defer { state.unlock() }
        while consumed >= lines.count {
            if stdoutClosed {
                let leftover = partialLine.isEmpty ? "" : " (an unterminated last line: \(String(decoding: partialLine, as: UTF8.self).prefix(200)))"
                throw failureLocked("stdout ended before another line came\(leftover)")
            }
            if !state.wait(until: deadline) && consumed >= lines.count {
                throw failureLocked("no line on stdout within \(timeout) s")
            }
        }
        consumed += 1
        return lines[consumed - 1]
    }

    /// The next stdout line not yet returned, as text (it must be valid UTF-8).
    func nextLine(timeout: TimeInterval = defaultTimeout) throws -> String {
        let bytes = try nextLineBytes(timeout: timeout)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw failure("stdout line is not valid UTF-8: \(bytes.prefix(200))")
        }
        return text
    }

    /// The next stdout line, parsed.
    func nextMessage(timeout: TimeInterval = defaultTimeout) throws -> JSON {
        let line = try nextLine(timeout: timeout)
        do {
            return try JSON.parse(line)
        } catch {
            throw failure("stdout line is not JSON (\(error)): \(line.prefix(300))")
        }
    }

    /// The next `count` stdout lines, parsed.
    func nextMessages(_ count: Int, timeout: TimeInterval = defaultTimeout) throws -> [JSON] {
        try (0..<count).map { _ in try nextMessage(timeout: timeout) }
    }

    /// Waits until the worker's stderr contains `text` (a log line); false on timeout.
    func waitForStderr(containing text: String, timeout: TimeInterval = defaultTimeout) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !stderr.contains(text) {
            if Date() >= deadline { return false }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return true
    }

    /// Lines read so far but not yet returned by `nextLine`.
    var unreadLineCount: Int {
        state.lock()
        defer { state.unlock() }
        return lines.count - consumed
    }

    /// Everything the worker has written to stdout so far, byte for byte.
    var stdout: [UInt8] {
        state.lock()
        defer { state.unlock() }
        return stdoutBytes
    }

    var stderr: String {
        state.lock()
        defer { state.unlock() }
        return String(decoding: stderrBytes, as: UTF8.self)
    }

    /// Waits until stdout is closed (the worker exited), then returns every line not yet returned, parsed.
    func remainingMessages(timeout: TimeInterval = defaultTimeout) throws -> [JSON] {
        try waitForStdoutEnd(timeout: timeout)
        var messages: [JSON] = []
        while unreadLineCount > 0 { messages.append(try nextMessage()) }
        return messages
    }

    func waitForStdoutEnd(timeout: TimeInterval = defaultTimeout) throws {
        let deadline = Date().addingTimeInterval(timeout)
        state.lock()
        defer { state.unlock() }
        while !stdoutClosed {
            if !state.wait(until: deadline) && !stdoutClosed {
                throw failureLocked("stdout was not closed within \(timeout) s")
            }
        }
    }

    // MARK: Exit

    /// Waits for the worker to exit and for its stdout and stderr to be read to the end (so `stdout` and
    /// `stderr` are complete); returns its exit status (throws if it was killed by a signal).
    @discardableResult
    func waitForExit(timeout: TimeInterval = defaultTimeout) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        state.lock()
        defer { state.unlock() }
        while exitStatus == nil || !stdoutClosed || !stderrClosed {
            if !state.wait(until: deadline) && (exitStatus == nil || !stdoutClosed || !stderrClosed) {
                let what = exitStatus == nil ? "the worker did not exit" : "the worker's output was not closed"
                throw failureLocked("\(what) within \(timeout) s")
            }
        }
        if exitedBySignal { throw failureLocked("the worker was killed by signal \(exitStatus!)") }
        return exitStatus!
    }

    /// Closes stdin and waits for the exit; returns the exit status.
    @discardableResult
    func finish(timeout: TimeInterval = defaultTimeout) throws -> Int32 {
        closeInput()
        return try waitForExit(timeout: timeout)
    }

    var isRunning: Bool {
        state.lock()
        defer { state.unlock() }
        return exitStatus == nil
    }

    func sendSignal(_ number: Int32) {
        if isRunning { kill(pid, number) }
    }

    /// Kills the worker if it is still running and waits (bounded) for it to go.
    func stop() {
        resumeStdout()
        closeInput()
        if isRunning {
            kill(pid, SIGKILL)
            _ = try? waitForExit(timeout: 10)
        }
    }

    // MARK: Failures

    private func failure(_ problem: String) -> Failure {
        state.lock()
        defer { state.unlock() }
        return failureLocked(problem)
    }

    private func failureLocked(_ problem: String) -> Failure {
        let shown = lines.suffix(5).map { String(decoding: $0.prefix(300), as: UTF8.self) }.joined(separator: "\n    ")
        let errors = String(decoding: stderrBytes.suffix(2000), as: UTF8.self)
        return Failure(description: """
            \(problem)
              last stdout lines (\(lines.count) in all, \(consumed) read by the test):
                \(shown)
              stderr (tail):
            \(errors)
            """)
    }
}
