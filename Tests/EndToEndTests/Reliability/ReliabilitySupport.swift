import Foundation
import XCTest
@testable import LLMWorkerTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Helpers shared by the reliability tests: a worker pointed at a `MockHTTPServer`, Chat Completions stream
/// events, and the worker's memory as the kernel sees it.
extension XCTestCase {
    /// Starts a worker and configures `openai_compatible` against `server` (model "m"), with `settings` merged
    /// into the `configure` params (timeouts, retries, api_key, ...); the warm-up configure starts is answered and
    /// checked (`configureWarmingUp`; `warmUpAnswer` replaces its answer). Count chat requests with
    /// `server.requests(to: Wire.path)`.
    func startHTTPWorker(_ server: MockHTTPServer, settings: [String: JSON] = [:], arguments: [String] = [],
                         environment: [String: String] = [:], warmUpAnswer: MockResponse? = nil,
                         file: StaticString = #filePath, line: UInt = #line) throws -> WorkerProcess {
        let worker = try startWorker(arguments, environment: environment)
        var params: [String: JSON] = ["provider": "openai_compatible", "base_url": .string(server.v1BaseURL), "model": "m"]
        params.merge(settings) { _, new in new }
        let result = try configureWarmingUp(worker, server, params, warmUpAnswer: warmUpAnswer, file: file, line: line)
        XCTAssertEqual(result["provider"], "openai_compatible", file: file, line: line)
        return worker
    }

    /// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
    func eventually(timeout: TimeInterval = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            if Date() >= deadline { return false }
            usleep(20_000)
        }
        return true
    }
}

/// Chat Completions wire events, as an OpenAI-compatible server streams them.
enum Wire {
    static let path = "/v1/chat/completions"

    /// One `chat.completion.chunk` with a content delta (and optionally a finish_reason).
    static func content(_ text: String, finish: String? = nil) -> String {
        var choice: [String: Any] = ["index": 0, "delta": ["content": text]]
        choice["finish_reason"] = finish ?? NSNull()
        return chunk(choice)
    }

    /// The last chunk: an empty delta with a finish_reason.
    static func finish(_ reason: String = "stop") -> String {
        chunk(["index": 0, "delta": [String: Any](), "finish_reason": reason])
    }

    private static func chunk(_ choice: [String: Any]) -> String {
        let object: [String: Any] = ["id": "c1", "object": "chat.completion.chunk", "model": "m", "choices": [choice]]
        return String(decoding: mockJSONData(object), as: UTF8.self)
    }

    /// A whole streamed answer: one content event per piece, a finish event, `[DONE]`.
    static func stream(_ pieces: [String], delay: TimeInterval = 0) -> MockResponse {
        .sseStream(events: pieces.map { content($0) } + [finish()], delay: delay)
    }

    /// A whole non-streamed `chat.completion` answer.
    static func completion(_ text: String) -> MockResponse {
        .json(body: [
            "id": "c1", "object": "chat.completion", "model": "m",
            "choices": [["index": 0, "message": ["role": "assistant", "content": text], "finish_reason": "stop"]],
            "usage": ["prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2],
        ] as [String: Any])
    }

    /// The head of a `200 text/event-stream` chunked response, to build streams by hand.
    static let streamHead = MockAction.status(200, headers: ["Content-Type": "text/event-stream"])
}

/// The worker's memory, read from /proc (Linux).
enum ProcessMemory {
    /// /proc files report a size of 0: read them with plain read(2) until the end.
    static func readProc(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Resident set size now, in MiB (`VmRSS`).
    static func residentMiB(_ pid: Int32) -> Double? { field("VmRSS", pid) }
    /// Peak resident set size so far, in MiB (`VmHWM`).
    static func peakMiB(_ pid: Int32) -> Double? { field("VmHWM", pid) }

    /// CPU time used so far (user + system), in seconds, from /proc/<pid>/stat.
    static func cpuSeconds(_ pid: Int32) -> Double? {
        guard let text = readProc("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    private static func field(_ name: String, _ pid: Int32) -> Double? {
        guard let text = readProc("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            let number = line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Double($0) }
            return number.map { $0 / 1024 }
        }
        return nil
    }
}

extension WorkerProcess {
    /// Sends `ping` and checks that it is answered: the worker is alive and serving.
    func assertAlive(id: JSON = "alive", file: StaticString = #filePath, line: UInt = #line) throws {
        let (reply, _) = try sendAndReadUntilResponse(RPC.request("ping", id: id), id: id)
        XCTAssertEqual(assertResult(reply, id: id, file: file, line: line)["ok"], true, file: file, line: line)
    }

    func sendAndReadUntilResponse(_ message: JSON, id: JSON, timeout: TimeInterval = defaultTimeout) throws -> (response: JSON, others: [JSON]) {
        try send(message)
        return try readUntilResponse(id: id, timeout: timeout)
    }

    /// Lines of stderr that contain `text`.
    func stderrLines(containing text: String) -> [Substring] {
        stderr.split(separator: "\n").filter { $0.contains(text) }
    }

    /// Lines of stderr that contain `text`, once there are at least `count` of them (or after 10 s): stderr is read on
    /// its own thread, so a line the worker wrote before its answer on stdout may reach the test a little after it.
    func stderrLines(containing text: String, waitingFor count: Int) -> [Substring] {
        let deadline = Date().addingTimeInterval(10)
        while stderrLines(containing: text).count < count && Date() < deadline { usleep(10_000) }
        return stderrLines(containing: text)
    }
}
