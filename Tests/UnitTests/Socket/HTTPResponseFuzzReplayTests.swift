import Foundation
import XCTest
@testable import LLMWorkerTestSupport
@testable import LLMWorker

/// Replays the saved FuzzHTTPResponse inputs (Tests/Fuzz/regressions/http: inputs that once crashed the target or
/// broke one of its invariants; Tests/Fuzz/seeds/http: the seed corpus) through the target's entry point.
final class HTTPResponseFuzzReplayTests: XCTestCase {
    private static let fuzzDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz")

    func testSavedHTTPResponseInputsReplayCleanly() throws {
        let manager = FileManager.default
        var files: [URL] = []
        for folder in ["regressions/http", "seeds/http"] {
            let directory = Self.fuzzDirectory.appendingPathComponent(folder)
            // git keeps no empty folder: without findings there is no regressions folder.
            guard manager.fileExists(atPath: directory.path) else { continue }
            files += try manager.contentsOfDirectory(atPath: directory.path).sorted().map { directory.appendingPathComponent($0) }
        }
        XCTAssertGreaterThan(files.count, 5)
        for file in files {
            let data = try Data(contentsOf: file)
            data.withUnsafeBytes { FuzzEntryPoints.httpResponse($0) }
        }
    }
}
