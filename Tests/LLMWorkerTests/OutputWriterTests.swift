import Foundation
import XCTest
@testable import LLMWorker
#if canImport(Glibc)
import Glibc
#endif

/// The output writer's promise: whole lines, never interleaved, each sender's lines in the order it sent them,
/// whether the line was written by the writer thread or in place by its sender.
final class OutputWriterTests: XCTestCase {

    /// Reads everything from `fd` until EOF on a background thread.
    private final class Collector: @unchecked Sendable {
        private let lock = NSLock()
        private var bytes: [UInt8] = []
        private let done = DispatchSemaphore(value: 0)

        init(fd: Int32) {
            Thread { [self] in
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                while true {
                    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if count <= 0 { break }
                    lock.lock()
                    bytes.append(contentsOf: buffer[0..<count])
                    lock.unlock()
                }
                done.signal()
            }.start()
        }

        func lines(timeout: TimeInterval = 20) -> [String] {
            _ = done.wait(timeout: .now() + timeout)
            lock.lock()
            defer { lock.unlock() }
            return String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        }
    }

    func testConcurrentSendersKeepLinesWholeAndInOrder() async throws {
        // Races show up only now and then: several rounds make a regression visible.
        for _ in 0..<6 { try await sendConcurrently() }
    }

    private func sendConcurrently() async throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let collector = Collector(fd: fds[0])
        let writer = OutputWriter(fd: fds[1]) {}
        let senders = 8, perSender = 400
        await withTaskGroup(of: Void.self) { group in
            for sender in 0..<senders {
                group.addTask {
                    for index in 0..<perSender {
                        // Short lines (written in place when the writer is idle) and long ones (always queued).
                        let padding = String(repeating: "x", count: index % 50 == 0 ? 6000 : index % 7 * 10)
                        if index % 3 == 0 {
                            writer.sendNow(Array("\(sender) \(index) \(padding)".utf8))
                        } else {
                            await writer.send(Array("\(sender) \(index) \(padding)".utf8))
                        }
                    }
                }
            }
        }
        await writer.drain()
        close(fds[1])
        let lines = collector.lines()
        XCTAssertEqual(lines.last, "")
        var next = [Int](repeating: 0, count: senders)
        for line in lines.dropLast() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 3, let sender = Int(fields[0]), let index = Int(fields[1]), sender < senders else {
                return XCTFail("a line was cut or mixed with another: \(line.prefix(80))")
            }
            XCTAssertEqual(index, next[sender], "sender \(sender)'s lines out of order")
            XCTAssertTrue(fields[2].allSatisfy { $0 == "x" })
            next[sender] = index + 1
        }
        XCTAssertEqual(next, [Int](repeating: perSender, count: senders))
        close(fds[0])
    }
}
