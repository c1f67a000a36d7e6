import XCTest
@testable import LLMWorkerTestSupport

/// The example files under protocol/examples that need no server or network, piped into the binary as the
/// README shows: the worker exits 0, writes only protocol messages, and answers every request exactly once.
final class ExamplesTests: XCTestCase {
    static let offline = ["ping", "mock-chat", "mock-stream", "mock-tools", "mock-text-tools", "mock-cancel", "batch", "errors", "discover", "shutdown"]

    func testOfflineExamplesAnswerEveryRequestOnce() throws {
        for name in Self.offline {
            let url = PackagePaths.file("protocol/examples/\(name).jsonl")
            guard let input = try? Data(contentsOf: url) else {
                XCTFail("protocol/examples/\(name).jsonl is missing")
                continue
            }
            var expectedIDs: [JSON] = []
            for line in input.split(separator: 0x0A) {
                guard let message = try? JSON.parse(Array(line)) else { continue }
                for item in message.array ?? [message] {
                    if let id = item["id"], id != .null { expectedIDs.append(id) }
                }
            }
            let worker = try startWorker()
            try worker.sendRaw(Array(input))
            XCTAssertEqual(try worker.finish(timeout: 60), 0, name)
            var answeredIDs: [JSON] = []
            for message in try worker.remainingMessages() {
                for item in message.array ?? [message] {
                    XCTAssertEqual(item["jsonrpc"], "2.0", "\(name): \(item)")
                    if item["method"] == "chatStream.delta" { continue }
                    XCTAssertTrue(item.keys == ["jsonrpc", "id", "result"] || item.keys == ["jsonrpc", "id", "error"], "\(name): \(item)")
                    if item["id"] != .null { answeredIDs.append(item["id"] ?? .null) }
                }
            }
            XCTAssertEqual(answeredIDs.map(\.text).sorted(), expectedIDs.map(\.text).sorted(), "\(name): every request answered once")
        }
    }
}
