import Foundation
import XCTest
@testable import LLMWorker

/// The version is written once (`WorkerVersion` in Sources/LLMWorker/Worker/WorkerContext.swift); these tests
/// check that every place that reports it agrees, through the built binary as CAAL sees it:
/// `--version`, `ping` and `rpc.discover`, plus the changelog in protocol/CHANGELOG.md.
final class VersionTests: XCTestCase {
    func testVersionsAreSemanticVersions() {
        XCTAssertTrue(Self.isSemanticVersion(WorkerVersion.current), "WorkerVersion.current = \(WorkerVersion.current)")
        XCTAssertTrue(Self.isSemanticVersion(WorkerVersion.protocolVersion),
                      "WorkerVersion.protocolVersion = \(WorkerVersion.protocolVersion)")
    }

    func testVersionFlagPrintsTheWorkerVersion() throws {
        let run = try VersionTestProcess.run(arguments: ["--version"], input: nil)
        XCTAssertEqual(run.status, 0, "stderr: \(run.stderr)")
        let firstLine = try XCTUnwrap(run.stdout.split(separator: "\n").first.map(String.init), "no output")
        let words = firstLine.split(separator: " ").map(String.init)
        XCTAssertEqual(words.first, "caal-llm-worker", firstLine)
        XCTAssertEqual(words.dropFirst().first, WorkerVersion.current, firstLine)
        // If the line names the protocol version too, it must be the one rpc.discover reports.
        if let range = firstLine.range(of: "(protocol ") {
            let rest = firstLine[range.upperBound...]
            XCTAssertEqual(rest.prefix { $0 != ")" }, Substring(WorkerVersion.protocolVersion), firstLine)
        }
    }

    func testPingAndDiscoverReportTheSameVersionsAsTheSource() throws {
        let requests = [
            #"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            #"{"jsonrpc":"2.0","id":2,"method":"rpc.discover"}"#,
        ]
        let run = try VersionTestProcess.run(arguments: [], input: requests.joined(separator: "\n") + "\n")
        XCTAssertEqual(run.status, 0, "stderr: \(run.stderr)")
        let responses = try VersionTestProcess.responsesByID(run.stdout)

        let ping = try XCTUnwrap(responses[1]?["result"] as? [String: Any], "ping: \(run.stdout)")
        XCTAssertEqual(ping["ok"] as? Bool, true)
        XCTAssertEqual(ping["version"] as? String, WorkerVersion.current)

        let discover = try XCTUnwrap(responses[2]?["result"] as? [String: Any], "rpc.discover: \(run.stdout)")
        let info = try XCTUnwrap(discover["info"] as? [String: Any], "rpc.discover has no info")
        XCTAssertEqual(info["version"] as? String, WorkerVersion.protocolVersion)
    }

    func testVersionFlagAndPingAgree() throws {
        let flag = try VersionTestProcess.run(arguments: ["--version"], input: nil)
        let flagVersion = flag.stdout.split(separator: " ").dropFirst().first.map(String.init)
        let ping = try VersionTestProcess.run(arguments: [], input: #"{"jsonrpc":"2.0","id":"v","method":"ping"}"# + "\n")
        let line = try XCTUnwrap(ping.stdout.split(separator: "\n").first, "no ping response")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let result = try XCTUnwrap(object["result"] as? [String: Any], String(line))
        XCTAssertNotNil(flagVersion)
        XCTAssertEqual(result["version"] as? String, flagVersion)
    }

    func testInProcessDiscoverDocumentCarriesTheProtocolVersion() throws {
        guard case .object(let document) = try OpenRPCDocument.value(),
              case .object(let info)? = document["info"],
              case .string(let version)? = info["version"] else {
            return XCTFail("the embedded OpenRPC document has no info.version")
        }
        XCTAssertEqual(version, WorkerVersion.protocolVersion)
    }

    func testCommittedOpenRPCFileCarriesTheProtocolVersion() throws {
        let url = VersionTestProcess.repositoryRoot.appendingPathComponent("protocol/openrpc.json")
        guard let data = try? Data(contentsOf: url) else {
            throw XCTSkip("protocol/openrpc.json is not in this checkout yet")
        }
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let info = try XCTUnwrap(document["info"] as? [String: Any], "protocol/openrpc.json has no info")
        XCTAssertEqual(info["version"] as? String, WorkerVersion.protocolVersion)
    }

    /// Bumping the version without a changelog entry fails here.
    func testChangelogHasAnEntryForTheCurrentVersions() throws {
        let url = VersionTestProcess.repositoryRoot.appendingPathComponent("protocol/CHANGELOG.md")
        let text = try String(contentsOf: url, encoding: .utf8)
        let headings = text.split(separator: "\n").filter { $0.hasPrefix("## ") }
        let entry = try XCTUnwrap(headings.first { $0.hasPrefix("## \(WorkerVersion.current) ") || $0 == "## \(WorkerVersion.current)" },
                                  "protocol/CHANGELOG.md has no '## \(WorkerVersion.current)' heading")
        XCTAssertEqual(headings.first, entry, "the newest changelog entry (the first) must be the current version")
        XCTAssertTrue(entry.contains("protocol \(WorkerVersion.protocolVersion)"),
                      "the '## \(WorkerVersion.current)' heading must name 'protocol \(WorkerVersion.protocolVersion)': \(entry)")
    }

    private static func isSemanticVersion(_ text: String) -> Bool {
        let core = text.split(separator: "-", maxSplits: 1).first ?? ""
        let parts = core.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
    }
}

/// Runs the debug binary built next to the tests, with a time limit.
private enum VersionTestProcess {
    struct Outcome {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// <repo>/Tests/LLMWorkerTests/VersionTests.swift → <repo>
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The binary next to the test bundle (whatever the build folder and configuration), else `.build/debug`.
    static func binary() throws -> URL {
        var candidates: [URL] = []
        if let executable = Bundle.main.executableURL {
            var directory = executable.deletingLastPathComponent()
            // Inside an .xctest bundle directory (Darwin), step out of it.
            while directory.path.contains(".xctest") { directory = directory.deletingLastPathComponent() }
            candidates.append(directory.appendingPathComponent("caal-llm-worker"))
        }
        candidates.append(repositoryRoot.appendingPathComponent(".build/debug/caal-llm-worker"))
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        throw NSError(domain: "VersionTests", code: 1, userInfo: [
            NSLocalizedDescriptionKey: "caal-llm-worker is not built (looked at \(candidates.map(\.path))); run `swift build` first",
        ])
    }

    static func run(arguments: [String], input: String?, timeout: TimeInterval = 30) throws -> Outcome {
        let process = Process()
        process.executableURL = try binary()
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["OPENROUTER_API_KEY"] = nil
        environment["OPENAI_API_KEY"] = nil
        process.environment = environment
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()  // end of input: the worker answers what it has, then exits 0

        // Read both pipes concurrently so neither can fill up and block the worker.
        let collected = CollectedOutput()
        let group = DispatchGroup()
        for (handle, isOut) in [(stdout.fileHandleForReading, true), (stderr.fileHandleForReading, false)] {
            group.enter()
            DispatchQueue.global().async {
                let data = handle.readDataToEndOfFile()
                collected.set(data, stdout: isOut)
                group.leave()
            }
        }
        if group.wait(timeout: .now() + timeout) == .timedOut {
            process.terminate()
            _ = group.wait(timeout: .now() + 5)
            throw NSError(domain: "VersionTests", code: 2, userInfo: [
                NSLocalizedDescriptionKey: "caal-llm-worker \(arguments) did not finish within \(timeout) s",
            ])
        }
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: collected.text(stdout: true),
                       stderr: collected.text(stdout: false))
    }

    /// Parses one JSON-RPC message per line and indexes the responses by their integer id.
    static func responsesByID(_ output: String) throws -> [Int: [String: Any]] {
        var result: [Int: [String: Any]] = [:]
        for line in output.split(separator: "\n") where !line.isEmpty {
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
            if let id = object["id"] as? Int { result[id] = object }
        }
        return result
    }
}

private final class CollectedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()

    func set(_ data: Data, stdout: Bool) {
        lock.lock(); defer { lock.unlock() }
        if stdout { out = data } else { err = data }
    }

    func text(stdout: Bool) -> String {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: stdout ? out : err, as: UTF8.self)
    }
}
