import Foundation
import XCTest
@testable import LLMWorkerTestSupport
@testable import LLMWorker

/// The response parser on exact bytes: every case is read whole, byte by byte and in pieces of 2 to 7 bytes, and
/// all must agree before the outcome is checked.
final class HTTPResponseParserTests: XCTestCase {
    private typealias Outcome = FuzzEntryPoints.HTTPResponseOutcome

    private func read(_ text: String, limits: HTTPResponseParser.Limits = .init(), expectsBody: Bool = true,
                      file: StaticString = #filePath, line: UInt = #line) -> Outcome {
        read(Array(text.utf8), limits: limits, expectsBody: expectsBody, file: file, line: line)
    }

    private func read(_ bytes: [UInt8], limits: HTTPResponseParser.Limits = .init(), expectsBody: Bool = true,
                      file: StaticString = #filePath, line: UInt = #line) -> Outcome {
        bytes.withUnsafeBytes { input in
            let whole = FuzzEntryPoints.readResponse(input, limits: limits, expectsBody: expectsBody)
            for size in 1...7 {
                let cut = FuzzEntryPoints.readResponse(input, limits: limits, expectsBody: expectsBody) { _ in size }
                XCTAssertEqual(cut, whole, "cut every \(size) bytes", file: file, line: line)
            }
            return whole
        }
    }

    private func assertMalformed(_ outcome: Outcome, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(outcome.error?.kind, .malformed, "\(outcome)", file: file, line: line)
        XCTAssertTrue(outcome.error?.message.contains(fragment) ?? false, "\(outcome.error?.message ?? "no error")", file: file, line: line)
    }

    private func body(_ outcome: Outcome) -> String { String(decoding: outcome.body, as: UTF8.self) }

    // MARK: Status line

    func testContentLengthResponse() {
        let outcome = read("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.head?.status, 200)
        XCTAssertEqual(outcome.head?.reason, "OK")
        XCTAssertEqual(outcome.head?.headers["content-type"], "text/plain")
        XCTAssertEqual(outcome.head?.framing, .length(5))
        XCTAssertEqual(outcome.head?.persistent, true)
        XCTAssertEqual(body(outcome), "hello")
        XCTAssertTrue(outcome.complete)
    }

    func testStatusLineWithoutReasonPhrase() {
        for text in ["HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", "HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok"] {
            let outcome = read(text)
            XCTAssertNil(outcome.error)
            XCTAssertEqual(outcome.head?.status, 200)
            XCTAssertEqual(outcome.head?.reason, "")
            XCTAssertEqual(body(outcome), "ok")
        }
    }

    func testBadStatusLinesAreMalformed() {
        for text in ["HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1  200 OK\r\n\r\n",
                     "http/1.1 200 OK\r\n\r\n", "<html>hello</html>\r\n", " HTTP/1.1 200 OK\r\n\r\n", "\r\nHTTP/1.1 200 OK\r\n\r\n"] {
            assertMalformed(read(text), "status")
        }
        assertMalformed(read("HTTP/1.1 600 Nope\r\n\r\n"), "invalid status code 600")
        assertMalformed(read("HTTP/1.1 099 Nope\r\n\r\n"), "invalid status code 99")
        assertMalformed(read("HTTP/1.1 200 O\0K\r\n\r\n"), "NUL")
    }

    func testBareLineFeedsAreLineEndsButBareCarriageReturnsAreNot() {
        let outcome = read("HTTP/1.1 200 OK\nContent-Length: 2\n\nok")
        XCTAssertNil(outcome.error)
        XCTAssertEqual(body(outcome), "ok")
        assertMalformed(read("HTTP/1.1 200 OK\rContent-Length: 2\r\n\r\nok"), "carriage return")
        assertMalformed(read("HTTP/1.1 200 OK\r\nX-A: b\rc\r\n\r\n"), "carriage return")
    }

    // MARK: Interim responses

    func testInterimResponsesBeforeTheRealStatusAreSkipped() {
        let text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx"
        let outcome = read(text)
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.head?.status, 201)
        XCTAssertEqual(outcome.head?.headers["link"], nil, "fields of an interim response are not the final head's")
        XCTAssertEqual(body(outcome), "x")
    }

    func testTooManyInterimResponsesAndSwitchingProtocolsAreMalformed() {
        let many = String(repeating: "HTTP/1.1 100 Continue\r\n\r\n", count: 17) + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        assertMalformed(read(many), "more than 16 interim")
        let sixteen = String(repeating: "HTTP/1.1 100 Continue\r\n\r\n", count: 16) + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        XCTAssertEqual(read(sixteen).head?.status, 200)
        assertMalformed(read("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"), "switched protocols")
    }

    // MARK: Fields

    func testFoldedFieldLinesAreJoinedWithASpace() {
        let outcome = read("HTTP/1.1 200 OK\r\nX-Long: one\r\n  two\r\n\tthree\r\nContent-Length: 0\r\n\r\n")
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.head?.headers["x-long"], "one two three")
        assertMalformed(read("HTTP/1.1 200 OK\r\n folded: first\r\n\r\n"), "folded field line with no field before it")
    }

    func testALineOfExactlyTheLimitIsAcceptedAndOneByteMoreIsNot() {
        let limit = 64 * 1024
        let value = String(repeating: "v", count: limit - "X-Big: ".count)
        let accepted = read("HTTP/1.1 200 OK\r\nX-Big: \(value)\r\nContent-Length: 0\r\n\r\n")
        XCTAssertNil(accepted.error)
        XCTAssertEqual(accepted.head?.headers["x-big"]?.count, value.count)
        assertMalformed(read("HTTP/1.1 200 OK\r\nX-Big: \(value)v\r\nContent-Length: 0\r\n\r\n"), "longer than 64 KiB")
        // A line that never ends is refused as soon as it passes the limit, not buffered without end.
        assertMalformed(read("HTTP/1.1 200 OK\r\nX-Big: \(value)vvvv"), "longer than 64 KiB")
        let folded = read("HTTP/1.1 200 OK\r\nX-Big: \(value.dropLast(10))\r\n \(String(repeating: "w", count: 20))\r\n\r\n")
        assertMalformed(folded, "folded field longer than 64 KiB")
    }

    func testTheHeadAsAWholeIsLimited() {
        let field = "X-F: " + String(repeating: "a", count: 60 * 1024) + "\r\n"
        assertMalformed(read("HTTP/1.1 200 OK\r\n" + String(repeating: field, count: 5) + "\r\n"), "larger than 256 KiB")
    }

    func testAHundredFieldsAreAcceptedAndAThousandAreNot() {
        let hundred = (0..<99).map { "X-\($0): v\r\n" }.joined() + "Content-Length: 0\r\n"
        XCTAssertEqual(read("HTTP/1.1 200 OK\r\n\(hundred)\r\n").head?.fields.count, 100)
        let thousand = (0..<1000).map { "X-\($0): v\r\n" }.joined()
        assertMalformed(read("HTTP/1.1 200 OK\r\n\(thousand)\r\n"), "more than 100 header fields")
    }

    func testMalformedFieldLines() {
        assertMalformed(read("HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok"), "invalid header field name")
        assertMalformed(read("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"), "not a field")
        assertMalformed(read("HTTP/1.1 200 OK\r\n: empty name\r\n\r\n"), "not a field")
        assertMalformed(read("HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n"), "NUL")
    }

    func testRepeatedFieldsAreJoinedAndValuesTrimmed() {
        let outcome = read("HTTP/1.1 200 OK\r\nX-A:  one \t\r\nx-a: two\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(outcome.head?.headers["x-a"], "one, two")
        XCTAssertEqual(outcome.head?.fields.first, HTTPResponseHead.Field(name: "X-A", value: "one"))
    }

    // MARK: Framing

    func testDuplicateContentLength() {
        XCTAssertEqual(body(read("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok")), "ok")
        XCTAssertEqual(body(read("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok")), "ok")
        assertMalformed(read("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!"), "conflicting Content-Length")
        for bad in ["-1", "+2", "2x", "", "0x10", "1 2", "99999999999999999999"] {
            assertMalformed(read("HTTP/1.1 200 OK\r\nContent-Length: \(bad)\r\n\r\nok"), "invalid Content-Length")
        }
    }

    func testContentLengthWithChunkedReadsChunkedAndKeepsNoConnection() {
        let outcome = read("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.head?.framing, .chunked)
        XCTAssertEqual(outcome.head?.persistent, false)
        XCTAssertEqual(body(outcome), "ok")
    }

    func testTransferCodingsOtherThanChunkedAndContentCodingsAreRefused() {
        assertMalformed(read("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), "transfer coding")
        assertMalformed(read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"), "transfer coding")
        assertMalformed(read("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n\u{1F}\u{8B}"), "Content-Encoding: gzip")
        XCTAssertNil(read("HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\nContent-Length: 0\r\n\r\n").error)
    }

    func testChunkedBodyWithExtensionsAndTrailers() {
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5;name=value\r\nhello\r\n1 ; ext\r\n \r\nA\r\n0123456789\r\n0;last\r\nX-Trailer: t\r\n\r\n"
        let outcome = read(text)
        XCTAssertNil(outcome.error)
        XCTAssertEqual(body(outcome), "hello 0123456789")
        XCTAssertTrue(outcome.complete)
        XCTAssertEqual(outcome.consumed, text.utf8.count)
        XCTAssertEqual(outcome.head?.persistent, true)
    }

    func testChunkSizes() {
        let sixteen = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000002\r\nok\r\n0\r\n\r\n"
        XCTAssertEqual(body(read(sixteen)), "ok")
        let twenty = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000000002\r\nok\r\n0\r\n\r\n"
        assertMalformed(read(twenty), "chunk size that is too large")
        assertMalformed(read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\n"), "too large")
        for bad in ["", "x", "-1", "1x", "0x1"] {
            assertMalformed(read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(bad)\r\nok\r\n0\r\n\r\n"), "chunk size line")
        }
        assertMalformed(read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nok\r\n0\r\n\r\n"), "longer than its announced size")
    }

    func testMissingFinalChunkIsAConnectionClosedDuringTheResponse() {
        let outcome = read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n")
        XCTAssertEqual(outcome.error?.kind, .closedDuringResponse)
        XCTAssertEqual(body(outcome), "ok", "what arrived before the close was delivered")
        XCTAssertEqual(read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n").error?.kind, .closedDuringResponse)
    }

    func testShortContentLengthBodyIsAConnectionClosedDuringTheResponse() {
        let outcome = read("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
        XCTAssertEqual(outcome.error?.kind, .closedDuringResponse)
        XCTAssertTrue(outcome.error?.message.contains("5 bytes before the end") ?? false)
    }

    func testCloseBeforeAnyByteAndDuringTheHead() {
        XCTAssertEqual(read("").error?.kind, .closedBeforeResponse)
        XCTAssertEqual(read("HTTP/1.1 200 OK\r\nContent-").error?.kind, .closedDuringResponse)
        XCTAssertEqual(read("H").error?.kind, .closedDuringResponse)
    }

    func testBodyThatEndsWithTheConnection() {
        let outcome = read("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: a\n\ndata: b\n\n")
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.head?.framing, .untilClose)
        XCTAssertEqual(outcome.head?.persistent, false)
        XCTAssertEqual(body(outcome), "data: a\n\ndata: b\n\n")
    }

    func testResponsesWithoutBody() {
        let noContent = read("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nextra")
        XCTAssertTrue(noContent.complete)
        XCTAssertEqual(noContent.body, [])
        XCTAssertEqual(noContent.consumed, "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n".utf8.count)
        let head = read("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", expectsBody: false)
        XCTAssertTrue(head.complete)
        XCTAssertEqual(head.head?.framing, HTTPBodyFraming.none)
    }

    func testBytesAfterTheResponseAreNotConsumed() {
        let response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let outcome = read(response + "HTTP/1.1 200 OK\r\n")
        XCTAssertTrue(outcome.complete)
        XCTAssertEqual(body(outcome), "ok")
        XCTAssertEqual(outcome.consumed, response.utf8.count)
    }

    func testConnectionPersistence() {
        XCTAssertEqual(read("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").head?.persistent, false)
        XCTAssertEqual(read("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").head?.persistent, false)
        XCTAssertEqual(read("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").head?.persistent, true)
        XCTAssertEqual(read("HTTP/1.1 200 OK\r\nConnection: keep-alive, Upgrade\r\nContent-Length: 0\r\n\r\n").head?.persistent, true)
    }

    func testAFaultIsReportedAgainOnEveryLaterCall() throws {
        var parser = HTTPResponseParser()
        var garbage = Array("garbage\r\n".utf8)
        XCTAssertEqual(garbage.withUnsafeMutableBytes { parser.parse($0) }.failure?.kind, .malformed)
        var good = Array("HTTP/1.1 200 OK\r\n\r\n".utf8)
        XCTAssertEqual(good.withUnsafeMutableBytes { parser.parse($0) }.failure?.kind, .malformed)
        XCTAssertThrowsError(try parser.finish())
    }

    func testBodyBytesBeforeAFaultInTheSameReadAreDelivered() {
        let outcome = read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\n")
        XCTAssertEqual(outcome.error?.kind, .malformed)
        XCTAssertEqual(body(outcome), "ok")
    }

    func testChunkedBodyBytesAreMovedToTheStartOfTheReadInPlace() throws {
        var parser = HTTPResponseParser()
        var bytes = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".utf8)
        let progress = bytes.withUnsafeMutableBytes { parser.parse($0) }
        XCTAssertEqual(progress.bodyBytes, 5)
        XCTAssertEqual(String(decoding: bytes[0..<5], as: UTF8.self), "abcde")
        XCTAssertTrue(progress.complete)
        XCTAssertEqual(progress.head?.status, 200)
    }
}
