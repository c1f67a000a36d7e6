import Foundation
import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport

/// The version is written once (`WorkerVersion` in Sources/LLMWorker/Worker/WorkerVersion.swift); these tests
/// check that every place that reports it agrees, through the built binary as CAAL sees it:
/// `--version`, `ping` and `rpc.discover`, plus the changelog in protocol/CHANGELOG.md. The binary is found and
/// driven by the harness in Support/ (WorkerProcess).
final class VersionTests: XCTestCase {
    func testVersionsAreSemanticVersions() {
        XCTAssertTrue(Self.isSemanticVersion(WorkerVersion.current), "WorkerVersion.current = \(WorkerVersion.current)")
        XCTAssertTrue(Self.isSemanticVersion(WorkerVersion.protocolVersion),
                      "WorkerVersion.protocolVersion = \(WorkerVersion.protocolVersion)")
    }

    func testVersionFlagPrintsTheWorkerVersion() throws {
        let firstLine = try versionFlagLine()
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
        let worker = try startWorker()
        let ping = assertResult(try worker.call("ping", id: 1), id: 1)
        XCTAssertEqual(ping["ok"], true)
        XCTAssertEqual(ping["version"]?.string, WorkerVersion.current)

        let discover = assertResult(try worker.call("rpc.discover", id: 2), id: 2)
        XCTAssertEqual(discover["info"]?["version"]?.string, WorkerVersion.protocolVersion)
        XCTAssertEqual(try worker.finish(), 0)
    }

    func testVersionFlagAndPingAgree() throws {
        let flagVersion = try versionFlagLine().split(separator: " ").dropFirst().first.map(String.init)
        let worker = try startWorker()
        let ping = assertResult(try worker.call("ping", id: "v"), id: "v")
        XCTAssertNotNil(flagVersion)
        XCTAssertEqual(ping["version"]?.string, flagVersion)
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
        let url = PackagePaths.file("protocol/openrpc.json")
        guard let data = try? Data(contentsOf: url) else {
            throw XCTSkip("protocol/openrpc.json is not in this checkout yet")
        }
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let info = try XCTUnwrap(document["info"] as? [String: Any], "protocol/openrpc.json has no info")
        XCTAssertEqual(info["version"] as? String, WorkerVersion.protocolVersion)
    }

    /// Bumping the version without a changelog entry fails here.
    func testChangelogHasAnEntryForTheCurrentVersions() throws {
        let url = PackagePaths.file("protocol/CHANGELOG.md")
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

private extension VersionTests {
    /// The first line `caal-llm-worker --version` prints (it must exit 0 without reading stdin).
    func versionFlagLine() throws -> String {
        let worker = try startWorker(["--version"])
        let line = try worker.nextLine()
        XCTAssertEqual(try worker.waitForExit(), 0, worker.stderr)
        return line
    }
}
