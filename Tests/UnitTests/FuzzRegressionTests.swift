import Foundation
import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport

/// Replays every saved fuzz input (Tests/Fuzz/regressions: inputs that once crashed a target or broke one of
/// its invariants; Tests/Fuzz/seeds: the seed corpora) through the same entry points the libFuzzer targets
/// use, so a fixed finding stays fixed; and checks the framing and SSE parsing invariants directly.
final class FuzzRegressionTests: XCTestCase {
    private static let fuzzDirectory = PackagePaths.file("Tests/Fuzz")

    private func inputs(_ folders: [String]) throws -> [URL] {
        let manager = FileManager.default
        var urls: [URL] = []
        for folder in folders {
            let directory = Self.fuzzDirectory.appendingPathComponent(folder)
            // git keeps no empty folder: a target without findings has no regressions folder in a clone.
            guard manager.fileExists(atPath: directory.path) else { continue }
            let names = try manager.contentsOfDirectory(atPath: directory.path).sorted()
            urls += names.map { directory.appendingPathComponent($0) }
        }
        return urls
    }

    func testSavedProtocolInputsReplayCleanly() throws {
        let files = try inputs(["regressions/line", "seeds/protocol"])
        XCTAssertFalse(files.isEmpty)
        for file in files {
            let data = try Data(contentsOf: file)
            data.withUnsafeBytes { FuzzEntryPoints.protocolInput($0) }
        }
    }

    func testSavedSSEInputsReplayCleanly() throws {
        let files = try inputs(["regressions/sse", "seeds/sse"])
        XCTAssertGreaterThan(files.count, 1)
        for file in files {
            let data = try Data(contentsOf: file)
            data.withUnsafeBytes { FuzzEntryPoints.sseStream($0) }
        }
    }

    /// The first finding: a stray `</think>` after a split think span is ordinary text (PROTOCOL §7), and an
    /// event that is not JSON does not disturb what follows in the parser.
    func testStrayClosingThinkTagStaysContent() {
        var accumulator = ChatAccumulator(stripThink: true)
        var content = ""
        for piece in ["ink>plan</thi", "nk>\n\nAnswer"] {
            content += accumulator.add(CompletionChunk(content: piece)).content
        }
        content += accumulator.finish().content
        XCTAssertEqual(content, "ink>plan</think>\n\nAnswer")
        XCTAssertEqual(accumulator.result(provider: .mock, timing: Timing(ttftMs: nil, totalMs: 0)).content, content)
    }

    func testLineFramingDoesNotDependOnHowTheInputIsCut() {
        let input = Array(("{\"a\":1}\r\n\n  \t\r\n" + String(repeating: "x", count: 100) + "\nlast").utf8)
        func frame(_ cuts: [Int]) -> [LineReader.Event] {
            var framer = LineFramer(maxLineBytes: 50)
            var events: [LineReader.Event] = []
            var start = 0
            for cut in cuts + [input.count] where cut > start {
                input[start..<cut].withUnsafeBytes { framer.feed($0) { events.append($0) } }
                start = cut
            }
            framer.finish { events.append($0) }
            return events
        }
        let expected: [LineReader.Event] = [.line(Data("{\"a\":1}".utf8)), .oversized(bytes: 100), .line(Data("last".utf8))]
        XCTAssertEqual(frame([]), expected)
        for step in 1...9 { XCTAssertEqual(frame(Array(stride(from: step, to: input.count, by: step))), expected, "cut every \(step) bytes") }
    }
}

extension FuzzRegressionTests {
    /// Second finding (FuzzSSEParser): a tool-call fragment that carries nothing (no id, no name, no arguments)
    /// is not sent to the client, so it must not become a call in the result either: the result would hold a
    /// nameless call that no delta announced (PROTOCOL §4.3, guarantee 4).
    func testAToolCallFragmentWithNothingInItIsNeitherSentNorInTheResult() {
        var accumulator = ChatAccumulator(stripThink: true)
        var sent: [ToolCallFragment] = []
        sent += accumulator.add(CompletionChunk(content: "Checking.", toolCalls: [ToolCallFragment(index: 1, arguments: "")])).toolCalls
        sent += accumulator.add(CompletionChunk(toolCalls: [ToolCallFragment(index: 0, id: "call_1", name: "f", arguments: "{}")],
                                                finishReason: "tool_calls")).toolCalls
        let result = accumulator.result(provider: .mock, timing: Timing(ttftMs: nil, totalMs: 0))
        XCTAssertEqual(Set(sent.compactMap(\.index)), [0])
        XCTAssertEqual(result.toolCalls.map(\.name), ["f"])
        XCTAssertEqual(result.finishReason, "tool_calls")
    }
}
