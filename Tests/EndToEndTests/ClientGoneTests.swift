import XCTest
@testable import LLMWorkerTestSupport

/// A client that has gone (the reading end of the worker's stdout closed): no answer can be delivered, so the
/// worker stops its requests and exits at once instead of working for nobody.
final class ClientGoneTests: XCTestCase {
    func testTheFirstAnswerThatCannotBeWrittenEndsTheWorker() throws {
        let worker = try startWorker(["--shutdown-grace", "600"], closingStdout: true)
        try worker.send(RPC.request("configure", ["provider": "mock"], id: 1))
        XCTAssertEqual(try worker.waitForExit(), 0)
    }

    func testEndOfInputWithTheClientGoneDoesNotWaitForTheGrace() throws {
        let worker = try startWorker(["--shutdown-grace", "600", "--provider", "mock"], closingStdout: true)
        // Nothing is written before the end of input: the worker must notice the client has gone by itself.
        try worker.send(RPC.request("chat", RPC.chatParams(mock: ["first_token_delay_ms": 600_000]), id: 1))
        XCTAssertEqual(try worker.finish(), 0, "exits without waiting 600 s for a request nobody can receive")
    }

    func testAStreamToAGoneClientIsCancelled() throws {
        let worker = try startWorker(["--shutdown-grace", "600", "--provider", "mock", "--log-level", "info"], closingStdout: true)
        try worker.send(RPC.request("chatStream", RPC.chatParams(mock: ["text": "abcdefgh", "chunk_chars": 2, "delay_ms": 600_000]), id: 1))
        XCTAssertEqual(try worker.waitForExit(), 0, "the first delta fails to be written and the worker ends")
        XCTAssertTrue(worker.stderr.contains("stdout is closed"), worker.stderr)
    }
}
