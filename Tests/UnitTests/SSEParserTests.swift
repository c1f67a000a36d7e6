import Foundation
import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport

final class SSEParserTests: XCTestCase {

    // MARK: - Harness

    /// What a parse produced: the items, in order, and the error that stopped it, if any.
    private struct Outcome: Equatable, CustomStringConvertible {
        var items: [SSEItem] = []
        var error: SSEParserError?

        var description: String {
            let shown = items.map { item -> String in
                switch item {
                case .comment: return "comment"
                case .event(let e):
                    let data = String(decoding: e.data, as: UTF8.self)
                    return "event(\(e.event ?? "nil"), \(data.debugDescription), \(e.id ?? "nil"))"
                }
            }
            return "\(shown) error=\(error.map { "\($0.limit)" } ?? "nil")"
        }
    }

    /// Parses `chunks` (fed as separate reads, then `finish`).
    private func parse(_ chunks: [[UInt8]], maxLineBytes: Int = 8 * 1024 * 1024) -> Outcome {
        var parser = SSEParser(maxLineBytes: maxLineBytes)
        var outcome = Outcome()
        do {
            for chunk in chunks {
                try chunk.withUnsafeBytes { raw in
                    try parser.feed(raw) { outcome.items.append($0) }
                }
            }
            try parser.finish { outcome.items.append($0) }
        } catch let error as SSEParserError {
            outcome.error = error
        } catch {
            XCTFail("unexpected error \(error)")
        }
        return outcome
    }

    /// Parses `input` whole, at every single split point, at every pair of split points (short inputs), and byte
    /// by byte; asserts all of them give the same outcome, and returns it.
    @discardableResult
    private func parseEverySplit(
        _ input: [UInt8], maxLineBytes: Int = 8 * 1024 * 1024,
        file: StaticString = #filePath, line: UInt = #line
    ) -> Outcome {
        let whole = parse([input], maxLineBytes: maxLineBytes)
        let n = input.count
        for i in 0...n {
            let split = parse([Array(input[..<i]), Array(input[i...])], maxLineBytes: maxLineBytes)
            if split != whole {
                XCTFail("split at \(i) gives \(split), whole gives \(whole)", file: file, line: line)
                return whole
            }
        }
        if n <= 200 {
            for i in 0...n {
                for j in i...n {
                    let chunks = [Array(input[..<i]), Array(input[i..<j]), Array(input[j...])]
                    let split = parse(chunks, maxLineBytes: maxLineBytes)
                    if split != whole {
                        XCTFail("splits at \(i),\(j) give \(split), whole gives \(whole)", file: file, line: line)
                        return whole
                    }
                }
            }
        }
        let bytewise = parse(input.map { [$0] }, maxLineBytes: maxLineBytes)
        XCTAssertEqual(bytewise, whole, "byte by byte", file: file, line: line)
        return whole
    }

    @discardableResult
    private func parseEverySplit(
        _ text: String, maxLineBytes: Int = 8 * 1024 * 1024,
        file: StaticString = #filePath, line: UInt = #line
    ) -> Outcome {
        parseEverySplit(Array(text.utf8), maxLineBytes: maxLineBytes, file: file, line: line)
    }

    private func event(_ data: String, event: String? = nil, id: String? = nil) -> SSEItem {
        .event(SSEEvent(event: event, data: Data(data.utf8), id: id))
    }

    private func assertParses(
        _ text: String, _ expected: [SSEItem],
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let outcome = parseEverySplit(text, file: file, line: line)
        XCTAssertNil(outcome.error, file: file, line: line)
        XCTAssertEqual(outcome.items, expected, "\(outcome)", file: file, line: line)
    }

    // MARK: - Basic framing

    func testSingleEvent() {
        assertParses("data: hello\n\n", [event("hello")])
    }

    func testValueWithoutSpace() {
        assertParses("data:{\"a\":1}\n\n", [event("{\"a\":1}")])
    }

    func testOnlyOneLeadingSpaceIsStripped() {
        assertParses("data:  two spaces\n\n", [event(" two spaces")])
        assertParses("data:\ttab\n\n", [event("\ttab")])
    }

    func testTrailingSpacesAreKept() {
        assertParses("data: x  \n\n", [event("x  ")])
    }

    func testColonsInValueAreKept() {
        assertParses("data: a: b:c\n\n", [event("a: b:c")])
    }

    func testSeveralEventsInOneRead() {
        let text = "data: {\"n\":1}\n\ndata: {\"n\":2}\n\ndata: {\"n\":3}\n\ndata: [DONE]\n\n"
        let outcome = parse([Array(text.utf8)])
        XCTAssertEqual(outcome.items, [event("{\"n\":1}"), event("{\"n\":2}"), event("{\"n\":3}"), event("[DONE]")])
        assertParses(text, outcome.items)
    }

    func testDone() {
        assertParses("data: [DONE]\n\n", [event("[DONE]")])
    }

    func testMultiLineDataJoinedWithLF() {
        assertParses("data: line one\ndata: line two\ndata:\ndata: four\n\n", [event("line one\nline two\n\nfour")])
    }

    func testEmptyDataLineDispatchesEmptyEvent() {
        assertParses("data:\n\n", [event("")])
        assertParses("data\n\n", [event("")])
    }

    func testEventWithoutDataIsNotDispatched() {
        assertParses("event: ping\n\n", [])
        assertParses("id: 7\n\n", [])
        assertParses("\n\n\n", [])
    }

    func testEventTypeDoesNotLeakIntoNextEvent() {
        assertParses("event: ping\n\ndata: x\n\n", [event("x")])
        assertParses("event: update\ndata: x\n\ndata: y\n\n", [event("x", event: "update"), event("y")])
    }

    func testEventField() {
        assertParses("event: error\ndata: {\"error\":{}}\n\n", [event("{\"error\":{}}", event: "error")])
        assertParses("event:\ndata: x\n\n", [event("x")])
        // The last event field wins.
        assertParses("event: a\nevent: b\ndata: x\n\n", [event("x", event: "b")])
    }

    func testIDPersistsAcrossEventsUntilChanged() {
        assertParses(
            "id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\nid\ndata: d\n\n",
            [event("a", id: "1"), event("b", id: "1"), event("c", id: "2"), event("d")]
        )
    }

    func testIDContainingNULIsIgnored() {
        assertParses("id: 1\ndata: a\n\nid: x\u{0}y\ndata: b\n\n", [event("a", id: "1"), event("b", id: "1")])
    }

    func testRetryAndUnknownFieldsAreIgnored() {
        assertParses("retry: 1000\nfoo: bar\nDATA: nope\ndata: x\n\n", [event("x")])
        assertParses("retry: 1000\n\n", [])
    }

    func testLineWithoutColonIsFieldNameWithEmptyValue() {
        // "data" alone is a data line with an empty value; "event" alone sets an empty (nil) type.
        assertParses("data\ndata\n\n", [event("\n")])
        assertParses("event: a\nevent\ndata: x\n\n", [event("x")])
        assertParses("something\ndata: x\n\n", [event("x")])
    }

    func testFieldNameIsExact() {
        assertParses("data : x\ndata: y\n\n", [event("y")])
        assertParses(" data: x\ndata: y\n\n", [event("y")])
    }

    // MARK: - Comments

    func testCommentsEmitOnePerLine() {
        assertParses(": keep-alive\n:\n\n: another\n", [.comment, .comment, .comment])
    }

    func testOpenRouterProcessingComments() {
        let text = ": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\ndata: {\"id\":\"gen-1\"}\n\ndata: [DONE]\n\n"
        assertParses(text, [.comment, .comment, event("{\"id\":\"gen-1\"}"), event("[DONE]")])
    }

    func testCommentInsideEventDoesNotEndIt() {
        assertParses("data: a\n: ping\ndata: b\n\n", [.comment, event("a\nb")])
    }

    // MARK: - Line endings

    func testCRLFStream() {
        assertParses(
            "data: a\r\n\r\n: c\r\ndata: b\r\ndata: c\r\n\r\n",
            [event("a"), .comment, event("b\nc")]
        )
    }

    func testLoneCRStream() {
        assertParses("data: a\r\rdata: b\rdata: c\r\r", [event("a"), event("b\nc")])
    }

    func testMixedLineEndings() {
        assertParses("data: a\r\ndata: b\ndata: c\r\n\ndata: d\n\r", [event("a\nb\nc"), event("d")])
    }

    func testCRThenLFIsOneLineEndingEvenAcrossReads() {
        // "data: a\r" | "\n" | "data: b\r\n\r\n": if the CR and the LF were two endings, the LF would be a blank line
        // and "a" and "b" would be separate events.
        let expected = [event("a\nb")]
        let outcome = parse([Array("data: a\r".utf8), Array("\n".utf8), Array("data: b\r\n\r\n".utf8)])
        XCTAssertEqual(outcome.items, expected)
        assertParses("data: a\r\ndata: b\r\n\r\n", expected)
    }

    func testCRCRIsTwoLineEndings() {
        let outcome = parse([Array("data: a\r".utf8), Array("\r".utf8), Array("data: b\r\r".utf8)])
        XCTAssertEqual(outcome.items, [event("a"), event("b")])
    }

    func testLFCRIsTwoLineEndings() {
        assertParses("data: a\n\rdata: b\n\n", [event("a"), event("b")])
    }

    // MARK: - End of body

    func testNoTrailingBlankLineAtEOF() {
        assertParses("data: {\"a\":1}\n", [event("{\"a\":1}")])
        assertParses("data: a\n\ndata: b\n", [event("a"), event("b")])
        assertParses("data: a\r\n", [event("a")])
        assertParses("data: a\r", [event("a")])
    }

    func testPartialLastLineIsALine() {
        assertParses("data: {\"a\":1}", [event("{\"a\":1}")])
        assertParses("data: a\ndata: b", [event("a\nb")])
        assertParses(": ping", [.comment])
        assertParses("event: x", [])
    }

    func testEmptyStream() {
        assertParses("", [])
        let outcome = parse([[], [], []])
        XCTAssertEqual(outcome, Outcome())
    }

    func testFinishResetsForANewStream() throws {
        var parser = SSEParser()
        var items: [SSEItem] = []
        try parser.feed(Data("id: 9\nevent: e\ndata: a".utf8)) { items.append($0) }
        try parser.finish { items.append($0) }
        try parser.feed(Data([0xEF, 0xBB, 0xBF] + Array("data: b\n\n".utf8))) { items.append($0) }
        try parser.finish { items.append($0) }
        XCTAssertEqual(items, [event("a", event: "e", id: "9"), event("b")])
    }

    // MARK: - BOM and UTF-8

    func testLeadingBOMIsSkipped() {
        assertParses("\u{FEFF}data: a\n\n", [event("a")])
        assertParses("\u{FEFF}: c\n", [.comment])
    }

    func testOnlyOneLeadingBOMIsSkipped() {
        // A second BOM is part of the first line's field name, so the line is an unknown field.
        assertParses("\u{FEFF}\u{FEFF}data: a\n\ndata: b\n\n", [event("b")])
    }

    func testBOMLaterInStreamIsData() {
        assertParses("data: \u{FEFF}a\n\n", [event("\u{FEFF}a")])
    }

    func testPartialBOMIsText() {
        // EF BB without BF: the bytes belong to the first line (an unknown field name here).
        let outcome = parseEverySplit([0xEF, 0xBB] + Array("data: a\n\ndata: b\n\n".utf8))
        XCTAssertEqual(outcome.items, [event("b")])
        // The same bytes inside a data value survive intact.
        let bytes: [UInt8] = Array("data: ".utf8) + [0xEF, 0xBB, 0x41] + Array("\n\n".utf8)
        XCTAssertEqual(parseEverySplit(bytes).items, [.event(SSEEvent(data: Data([0xEF, 0xBB, 0x41])))])
        // A stream consisting only of part of a BOM is one (unknown-field) line.
        XCTAssertEqual(parseEverySplit([0xEF, 0xBB]), Outcome())
    }

    func testMultiByteCharactersSplitAnywhere() {
        let text = "data: {\"content\":\"héllo wörld 你好 🎉\"}\n\nevent: 名前\ndata: ✓\n\n"
        assertParses(text, [event("{\"content\":\"héllo wörld 你好 🎉\"}"), event("✓", event: "名前")])
    }

    // MARK: - Realistic streams

    func testOpenAIStyleChunks() {
        let chunks = [
            #"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":null},"finish_reason":null}]}"#,
            #"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#,
            #"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}"#,
            #"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            #"{"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#,
            "[DONE]",
        ]
        let text = ":\n\n" + chunks.map { "data: \($0)\n\n" }.joined()
        assertParses(text, [.comment] + chunks.map { event($0) })
    }

    func testErrorEventMidStream() {
        let text = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
            + "data: {\"error\":{\"code\":502,\"message\":\"upstream died\"},\"choices\":[{\"finish_reason\":\"error\"}]}\n\n"
        assertParses(text, [
            event("{\"choices\":[{\"delta\":{\"content\":\"a\"}}]}"),
            event("{\"error\":{\"code\":502,\"message\":\"upstream died\"},\"choices\":[{\"finish_reason\":\"error\"}]}"),
        ])
    }

    // MARK: - Line limit

    func testLineAtTheLimitIsAccepted() {
        // "data: " + 10 bytes = 16 bytes.
        let outcome = parseEverySplit("data: 0123456789\n\n", maxLineBytes: 16)
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.items, [event("0123456789")])
    }

    func testLineOverTheLimitThrows() {
        let outcome = parseEverySplit(": ok\ndata: 0123456789X\n\ndata: later\n\n", maxLineBytes: 16)
        XCTAssertEqual(outcome.error, SSEParserError(limit: 16))
        XCTAssertEqual(outcome.items, [.comment], "items before the long line are emitted")
    }

    func testLineOverTheLimitThrowsWithCRLFAndWithoutLineEnding() {
        XCTAssertEqual(parseEverySplit("data: 0123456789X\r\n\r\n", maxLineBytes: 16).error, SSEParserError(limit: 16))
        XCTAssertEqual(parseEverySplit("data: 0123456789X", maxLineBytes: 16).error, SSEParserError(limit: 16))
        XCTAssertNil(parseEverySplit("data: 0123456789\r\n", maxLineBytes: 16).error)
        XCTAssertNil(parseEverySplit("data: 0123456789", maxLineBytes: 16).error)
    }

    func testLongLineThrowsBeforeItEnds() throws {
        // Bounded memory: the parser gives up as soon as the carried part of a line passes the limit.
        var parser = SSEParser(maxLineBytes: 100)
        let piece = Data(repeating: 0x61, count: 60)
        try parser.feed(Data("data: ".utf8)) { _ in XCTFail() }
        try parser.feed(piece) { _ in XCTFail() }
        XCTAssertThrowsError(try parser.feed(piece) { _ in XCTFail() }) { error in
            XCTAssertEqual(error as? SSEParserError, SSEParserError(limit: 100))
        }
        // The failure is sticky.
        XCTAssertThrowsError(try parser.feed(Data("\n\n".utf8)) { _ in XCTFail() })
        XCTAssertThrowsError(try parser.finish { _ in XCTFail() })
    }

    func testEventDataIsBoundedByTheLimitToo() {
        // Every line fits (9 bytes), but the joined data would be 3 + 1 + 3 + 1 + 3 = 11 bytes > 10.
        let outcome = parseEverySplit("data: aaa\ndata: bbb\ndata: ccc\n\n", maxLineBytes: 10)
        XCTAssertEqual(outcome.error, SSEParserError(limit: 10))
        XCTAssertNil(parseEverySplit("data: aaa\ndata: bbb\n\ndata: ccc\n\n", maxLineBytes: 10).error)
    }

    func testDefaultLimitIs8MiB() {
        XCTAssertEqual(SSEParser().maxLineBytes, 8 * 1024 * 1024)
    }

    // MARK: - Callers

    func testErrorThrownByEmitPropagates() {
        struct Stop: Error {}
        var parser = SSEParser()
        var seen = 0
        XCTAssertThrowsError(try parser.feed(Data("data: a\n\ndata: [DONE]\n\ndata: b\n\n".utf8)) { item in
            seen += 1
            if item == self.event("[DONE]") { throw Stop() }
        }) { error in
            XCTAssertTrue(error is Stop)
        }
        XCTAssertEqual(seen, 2)
    }

    func testDataConvenienceMatchesRawFeed() throws {
        let text = "data: a\r\n\r\n: c\ndata: b\n\n"
        var parser = SSEParser()
        var items: [SSEItem] = []
        for byte in text.utf8 {
            try parser.feed(Data([byte])) { items.append($0) }
        }
        try parser.feed(Data()) { items.append($0) }
        try parser.finish { items.append($0) }
        XCTAssertEqual(items, [event("a"), .comment, event("b")])
    }

    // MARK: - Volume

    private func makeStream(events: Int) -> (bytes: [UInt8], payloads: [String]) {
        var payloads: [String] = []
        var text = ": OPENROUTER PROCESSING\n\n"
        for i in 0..<events {
            let payload = #"{"id":"gen-123","object":"chat.completion.chunk","created":1700000000,"model":"qwen/qwen3-8b","choices":[{"index":0,"delta":{"content":"tok\#(i) "},"finish_reason":null}]}"#
            payloads.append(payload)
            text += "data: \(payload)\n\n"
        }
        payloads.append("[DONE]")
        text += "data: [DONE]\n\n"
        return (Array(text.utf8), payloads)
    }

    func testTwoThousandEventStream() throws {
        let (bytes, payloads) = makeStream(events: 2_000)
        let expected: [SSEItem] = [.comment] + payloads.map { event($0) }

        // Whole, in network-sized reads, in awkward odd-sized reads, and byte by byte.
        XCTAssertEqual(parse([bytes]).items, expected)
        for size in [16_384, 1_371, 97, 7] {
            let chunks = stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }
            XCTAssertEqual(parse(chunks).items, expected, "reads of \(size)")
        }
        XCTAssertEqual(parse(bytes.map { [$0] }).items, expected, "byte by byte")

        // The same stream with CRLF and with lone CR line endings.
        let text = String(decoding: bytes, as: UTF8.self)
        for ending in ["\r\n", "\r"] {
            let converted = Array(text.replacingOccurrences(of: "\n", with: ending).utf8)
            XCTAssertEqual(parse([converted]).items, expected, "\(ending.debugDescription) whole")
            let chunks = stride(from: 0, to: converted.count, by: 1_000).map {
                Array(converted[$0..<min($0 + 1_000, converted.count)])
            }
            XCTAssertEqual(parse(chunks).items, expected, "\(ending.debugDescription) in reads of 1000")
        }
    }
}
