import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// OutputWriter through a real pipe: many concurrent senders never interleave lines, a slow reader makes senders
/// wait instead of queueing without bound, nothing is lost, and a reader that goes away is noticed.
final class OutputWriterTests: XCTestCase {
    /// Reads everything from `fd` on its own thread until end of file.
    private final class PipeReader: @unchecked Sendable {
        private let condition = NSCondition()
        private var bytes: [UInt8] = []
        private var finished = false
        private let gate = DispatchSemaphore(value: 0)

        init(fd: Int32, startPaused: Bool = false) {
            let thread = Thread { [self] in
                if startPaused { gate.wait() }
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                while true {
                    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if count < 0 && errno == EINTR { continue }
                    condition.lock()
                    if count <= 0 {
                        finished = true
                        condition.broadcast()
                        condition.unlock()
                        break
                    }
                    bytes.append(contentsOf: buffer[0..<count])
                    condition.broadcast()
                    condition.unlock()
                }
            }
            thread.start()
        }

        func resume() { gate.signal() }

        /// Waits for end of file; returns everything read.
        func all(timeout: TimeInterval = 20) -> [UInt8]? {
            let deadline = Date().addingTimeInterval(timeout)
            condition.lock()
            defer { condition.unlock() }
            while !finished, condition.wait(until: deadline) {}
            return finished ? bytes : nil
        }
    }

    /// Counts completed sends from many tasks.
    private actor Counter {
        var bytes = 0
        func add(_ count: Int) { bytes += count }
    }

    private func makePipe() -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        return (fds[0], fds[1])
    }

    private static let senders = 40, perSender = 100

    /// "sender:index:payload" where the payload's length and content follow from sender and index.
    private static func line(sender: Int, index: Int) -> [UInt8] {
        let payload = [UInt8](repeating: UInt8(97 + (sender + index) % 26), count: (sender * 131 + index * 17) % 3000)
        return Array("\(sender):\(index):".utf8) + payload
    }

    /// Every line of the concurrent-senders test, `sentLines[sender][index]`, built once: the test is about the
    /// writer, and building 6 MB of lines per round in unoptimised test code would dwarf it.
    private static let sentLines: [[[UInt8]]] = (0..<senders).map { sender in (0..<perSender).map { line(sender: sender, index: $0) } }

    /// `bytes` cut at each "\n" (the last piece is what follows the last one), found with memchr: a generic split of
    /// megabytes is slow in a debug build.
    private static func splitLines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            while start < buffer.count, let newline = memchr(base + start, 0x0A, buffer.count - start) {
                let end = UnsafeRawPointer(newline) - base
                lines.append(bytes[start..<end])
                start = end + 1
            }
        }
        lines.append(bytes[start...])
        return lines
    }

    /// memcmp: comparing megabytes element by element is slow in a debug build.
    private static func sameBytes(_ a: ArraySlice<UInt8>, _ b: [UInt8]) -> Bool {
        a.count == b.count && a.withUnsafeBytes { x in b.withUnsafeBytes { y in a.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, a.count) == 0 } }
    }

    func testConcurrentSendersNeverInterleaveAndNothingIsLost() async throws {
        // Races between in-place writes and the writer thread show up only now and then: several rounds.
        for _ in 0..<4 { try await sendConcurrently() }
    }

    private func sendConcurrently() async throws {
        let (readFD, writeFD) = makePipe()
        let reader = PipeReader(fd: readFD)
        let writer = OutputWriter(fd: writeFD, highWaterBytes: 256 << 10) {}
        let senders = Self.senders, perSender = Self.perSender
        await withTaskGroup(of: Void.self) { group in
            for sender in 0..<senders {
                group.addTask {
                    for index in 0..<perSender {
                        if index % 10 == 0 {
                            writer.sendNow(Self.sentLines[sender][index])
                        } else {
                            await writer.send(Self.sentLines[sender][index])
                        }
                    }
                }
            }
        }
        await writer.drain()
        close(writeFD)
        let output = try XCTUnwrap(reader.all())
        close(readFD)
        let lines = Self.splitLines(output)
        XCTAssertEqual(lines.last?.isEmpty, true, "output ends with a newline")
        var seen = Set<String>()
        var nextIndex = [Int](repeating: 0, count: senders)
        for raw in lines.dropLast() {
            let parts = raw.split(separator: UInt8(ascii: ":"), maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, let sender = Int(String(decoding: parts[0], as: UTF8.self)),
                  let index = Int(String(decoding: parts[1], as: UTF8.self)),
                  (0..<senders).contains(sender), (0..<perSender).contains(index) else {
                XCTFail("a mangled line: \(String(decoding: raw.prefix(80), as: UTF8.self))")
                continue
            }
            XCTAssertTrue(Self.sameBytes(raw, Self.sentLines[sender][index]), "line \(sender):\(index) is not intact")
            XCTAssertEqual(index, nextIndex[sender], "one sender's lines keep their order")
            nextIndex[sender] = index + 1
            seen.insert("\(sender):\(index)")
        }
        XCTAssertEqual(seen.count, senders * perSender)
    }

    func testASlowReaderMakesSendersWaitAndLosesNothing() async throws {
        let (readFD, writeFD) = makePipe()
        let reader = PipeReader(fd: readFD, startPaused: true)
        let highWater = 64 << 10
        let writer = OutputWriter(fd: writeFD, highWaterBytes: highWater) {}
        let counter = Counter()
        let line = [UInt8](repeating: UInt8(ascii: "z"), count: 1000)
        let total = 4000
        let sender = Task {
            for _ in 0..<total {
                await writer.send(line)
                await counter.add(line.count + 1)
            }
        }
        // Without a reader, the sender gets at most the pipe's buffer plus the writer's high-water mark ahead.
        let pipeCapacity = Int(fcntl(writeFD, 1032 /* F_GETPIPE_SZ, not exported by Glibc */))
        let bound = pipeCapacity + highWater + 2 * (line.count + 1)
        var last = -1
        for _ in 0..<100 {
            try await Task.sleep(nanoseconds: 20_000_000)
            let now = await counter.bytes
            if now == last { break }
            last = now
        }
        let ahead = await counter.bytes
        XCTAssertLessThanOrEqual(ahead, bound, "the sender ran \(ahead) bytes ahead of a reader that reads nothing")
        XCTAssertLessThan(ahead, total * (line.count + 1), "the sender was held back")
        reader.resume()
        await sender.value
        await writer.drain()
        close(writeFD)
        let output = try XCTUnwrap(reader.all())
        close(readFD)
        XCTAssertEqual(output.count, total * (line.count + 1))
        XCTAssertEqual(output, Array(repeating: line + [0x0A], count: total).flatMap { $0 })
    }

    func testAReaderThatGoesAwayIsNoticedOnceAndSendsDoNotHang() async throws {
        signal(SIGPIPE, SIG_IGN)
        let (readFD, writeFD) = makePipe()
        let notified = expectation(description: "onBroken")
        notified.assertForOverFulfill = true
        let writer = OutputWriter(fd: writeFD, highWaterBytes: 4096) { notified.fulfill() }
        close(readFD)
        for _ in 0..<200 {
            await writer.send(Array(repeating: UInt8(ascii: "q"), count: 2000))
        }
        await fulfillment(of: [notified], timeout: 20)
        XCTAssertTrue(writer.isReaderGone)
        await writer.send(Array("after".utf8))
        await writer.drain()
        close(writeFD)
    }
}
