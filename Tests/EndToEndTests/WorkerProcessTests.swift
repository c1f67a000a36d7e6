import XCTest
@testable import LLMWorkerTestSupport

/// The harness itself: once a worker has exited and been waited for, every file descriptor the harness opened
/// for it is closed (other tests count descriptors, so nothing may close late).
final class WorkerProcessTests: XCTestCase {
    /// The test process's open descriptors, each with what it points at (`pipe:[inode]`, `socket:[inode]`, a path).
    /// The first worker started by the process makes Foundation and Dispatch open a few descriptors of their own, for
    /// good: one worker is run first so they are counted.
    private func openDescriptors() throws -> [String: String] {
        let warmUp = try WorkerProcess()
        XCTAssertEqual(try warmUp.finish(), 0)
        return openDescriptorsNow()
    }

    private func openDescriptorsNow() -> [String: String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        var table: [String: String] = [:]
        for name in names {
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)")) ?? "?"
            // The directory being listed is itself open while it is read, under whichever number is free.
            if target.hasPrefix("/proc/"), target.hasSuffix("/fd") { continue }
            table[name] = target
        }
        return table
    }

    /// Descriptors open now that were not open before (compared with what they point at, so a number reused for
    /// another pipe counts). An earlier test's server closing its sockets late only removes descriptors: it cannot
    /// make this fail, while a descriptor the harness leaves open always does.
    private func assertNoneOpenedSince(_ before: [String: String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(before, [:], "/proc/self/fd could not be read", file: file, line: line)
        // The harness opens pipes only; a socket that appears belongs to an earlier test's mock server, whose accept
        // thread may still take a late connection from that test's worker.
        let added = openDescriptorsNow().filter { before[$0.key] != $0.value && !$0.value.hasPrefix("socket:") }
        XCTAssertEqual(added, [:], "descriptors left open by the harness", file: file, line: line)
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
        assertNoneOpenedSince(before)
    }

    func testAKilledWorkerLeavesNoDescriptorEither() throws {
        let before = try openDescriptors()
        for _ in 0..<5 {
            let worker = try WorkerProcess(arguments: ["--provider", "mock"])
            try worker.send(RPC.request("chat", RPC.chatParams(mock: ["first_token_delay_ms": 600_000]), id: 1))
            worker.stop()
            XCTAssertFalse(worker.isRunning)
        }
        assertNoneOpenedSince(before)
    }
}
