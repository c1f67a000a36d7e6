import XCTest
@testable import LLMWorkerTestSupport

/// The harness itself: once a worker has exited and been waited for, every file descriptor the harness opened
/// for it is closed (other tests count descriptors, so nothing may close late).
final class WorkerProcessTests: XCTestCase {
    /// Open descriptors of the test process. The first worker started by the process makes Foundation and
    /// Dispatch open a few descriptors of their own, for good: one worker is run first so they are counted.
    private func openDescriptors() throws -> Int {
        let warmUp = try WorkerProcess()
        XCTAssertEqual(try warmUp.finish(), 0)
        return (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }

    private func openDescriptorsNow() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }

    func testNoDescriptorIsLeftOpenOrClosedLate() throws {
        let before = try openDescriptors()
        for round in 0..<10 {
            let worker = try WorkerProcess(arguments: round % 2 == 0 ? [] : ["--bogus"])
            if round % 2 == 0 {
                XCTAssertEqual(try worker.call("ping")["id"], 1)
                XCTAssertEqual(try worker.finish(), 0)
            } else {
                XCTAssertEqual(try worker.waitForExit(), 2)
            }
            worker.stop()
        }
        XCTAssertEqual(openDescriptorsNow(), before)
    }

    func testAKilledWorkerLeavesNoDescriptorEither() throws {
        let before = try openDescriptors()
        for _ in 0..<5 {
            let worker = try WorkerProcess(arguments: ["--provider", "mock"])
            try worker.send(RPC.request("chat", RPC.chatParams(mock: ["first_token_delay_ms": 600_000]), id: 1))
            worker.stop()
            XCTAssertFalse(worker.isRunning)
        }
        XCTAssertEqual(openDescriptorsNow(), before)
    }
}
