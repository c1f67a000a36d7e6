import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// LineReader through a real pipe: lines cut at `\n`, `\r` before it dropped, blank lines skipped, oversized lines
/// discarded and reported once, a last line without newline delivered at end of input.
final class LineReaderTests: XCTestCase {
    private enum Event: Equatable {
        case line(String)
        case oversized(Int)
        case end
    }

    /// Collects a reader's events; `wait` returns them once the end of input has been seen.
    private final class Recorder: @unchecked Sendable {
        private let condition = NSCondition()
        private var events: [Event] = []

        func record(_ event: LineReader.Event) {
            condition.lock()
            switch event {
            case .line(let data): events.append(.line(String(decoding: data, as: UTF8.self)))
            case .oversized(let bytes): events.append(.oversized(bytes))
            case .endOfInput: events.append(.end)
            }
            condition.broadcast()
            condition.unlock()
        }

        func wait(timeout: TimeInterval = 20) -> [Event] {
            let deadline = Date().addingTimeInterval(timeout)
            condition.lock()
            defer { condition.unlock() }
            while events.last != .end, condition.wait(until: deadline) {}
            return events
        }
    }

    /// Feeds `chunks` (each written with its own `write`) through a pipe and returns the reader's events.
    private func read(_ chunks: [[UInt8]], maxLineBytes: Int = 1 << 20) throws -> [Event] {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let (readFD, writeFD) = (fds[0], fds[1])
        let recorder = Recorder()
        LineReader(fd: readFD, maxLineBytes: maxLineBytes) { recorder.record($0) }.start()
        let writer = Thread {
            for chunk in chunks {
                chunk.withUnsafeBytes { buffer in
                    var offset = 0
                    while offset < buffer.count {
                        let written = write(writeFD, buffer.baseAddress! + offset, buffer.count - offset)
                        if written <= 0 { break }
                        offset += written
                    }
                }
            }
            close(writeFD)
        }
        writer.start()
        let events = recorder.wait()
        close(readFD)
        XCTAssertEqual(events.last, .end, "the reader reached the end of input")
        return events
    }

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func testBytesOneAtATime() throws {
        let text = "first\r\nsecond\n\r\n\n  \nthird\r\n"
        XCTAssertEqual(try read(bytes(text).map { [$0] }), [.line("first"), .line("second"), .line("third"), .end])
    }

    func testSeveralLinesPerWriteAndLinesAcrossWrites() throws {
        XCTAssertEqual(try read([bytes("a\nb"), bytes("c\nd\ne"), bytes("f\n")]), [.line("a"), .line("bc"), .line("d"), .line("ef"), .end])
    }

    func testOnlyTheFinalCarriageReturnIsDropped() throws {
        XCTAssertEqual(try read([bytes("a\rb\r\r\n")]), [.line("a\rb\r"), .end])
    }

    func testLastLineWithoutNewline() throws {
        XCTAssertEqual(try read([bytes("one\ntwo")]), [.line("one"), .line("two"), .end])
        XCTAssertEqual(try read([bytes("only")]), [.line("only"), .end])
        XCTAssertEqual(try read([]), [.end])
        XCTAssertEqual(try read([bytes("\n\n   \r\n")]), [.end], "blank lines only")
    }

    func testOversizedLinesAreReportedOnceAndSkipped() throws {
        let long = String(repeating: "x", count: 5000)
        XCTAssertEqual(try read([bytes("ok\n" + long + "\nafter\n")], maxLineBytes: 1024),
                       [.line("ok"), .oversized(5000), .line("after"), .end])
        // Spread over many writes, and two in a row.
        XCTAssertEqual(try read(bytes(long + "\n" + long + "\nafter\n").chunked(100), maxLineBytes: 1024),
                       [.oversized(5000), .oversized(5000), .line("after"), .end])
        // Cut off by the end of input.
        XCTAssertEqual(try read([bytes("ok\n" + long)], maxLineBytes: 1024), [.line("ok"), .oversized(5000), .end])
    }

    func testLineOfExactlyTheLimit() throws {
        let exact = String(repeating: "y", count: 1024)
        XCTAssertEqual(try read([bytes(exact + "\n" + exact + "z\n")], maxLineBytes: 1024), [.line(exact), .oversized(1025), .end])
        XCTAssertEqual(try read(bytes(exact + "\n").chunked(7), maxLineBytes: 1024), [.line(exact), .end])
    }

    /// The `\r` of a `\r\n` ending is not part of the line, so it does not count against the limit.
    func testCarriageReturnOfTheLineEndDoesNotCountAgainstTheLimit() throws {
        let exact = String(repeating: "y", count: 1024)
        XCTAssertEqual(try read([bytes(exact + "\r\n" + exact + "z\r\n")], maxLineBytes: 1024),
                       [.line(exact), .oversized(1026), .end])
        XCTAssertEqual(try read(bytes(exact + "\r\n" + exact + "\r").chunked(5), maxLineBytes: 1024),
                       [.line(exact), .line(exact), .end], "split anywhere, and at the end of input")
        XCTAssertEqual(try read([bytes(exact + "\r"), bytes("\n")], maxLineBytes: 1024), [.line(exact), .end])
        XCTAssertEqual(try read([bytes(exact + "\rz\n")], maxLineBytes: 1024), [.oversized(1026), .end],
                       "a carriage return inside the line counts")
    }

    func testLargeLineInManyReads() throws {
        let big = String(repeating: "0123456789", count: 300_000)
        let events = try read(bytes(big + "\nend\n").chunked(70_000), maxLineBytes: 8 << 20)
        XCTAssertEqual(events, [.line(big), .line("end"), .end])
    }
}

extension Array {
    /// The array cut into pieces of `size` elements (the last may be shorter).
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
