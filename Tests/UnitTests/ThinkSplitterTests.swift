import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport

final class ThinkSplitterTests: XCTestCase {

    // MARK: - Harness

    private struct Output: Equatable {
        var content: [UInt8] = []
        var reasoning: [UInt8] = []

        var contentString: String { String(decoding: content, as: UTF8.self) }
        var reasoningString: String { String(decoding: reasoning, as: UTF8.self) }
    }

    /// Feeds `fragments` then finishes; concatenates everything returned.
    private func run(_ fragments: [String], enabled: Bool = true) -> Output {
        var splitter = ThinkSplitter(enabled: enabled)
        var output = Output()
        for fragment in fragments {
            let piece = splitter.feed(fragment)
            output.content += Array(piece.content.utf8)
            output.reasoning += Array(piece.reasoning.utf8)
        }
        let last = splitter.finish()
        output.content += Array(last.content.utf8)
        output.reasoning += Array(last.reasoning.utf8)
        return output
    }

    /// Splits `text` into fragments at the given unicode-scalar offsets (sorted, may repeat: empty fragments).
    private func split(_ scalars: [Unicode.Scalar], at points: [Int]) -> [String] {
        var fragments: [String] = []
        var start = 0
        for point in points + [scalars.count] {
            var fragment = String.UnicodeScalarView()
            fragment.append(contentsOf: scalars[start..<point])
            fragments.append(String(fragment))
            start = point
        }
        return fragments
    }

    /// An independent, non-streaming statement of the rules, over the whole text.
    private func reference(_ text: String) -> Output {
        let opens: [[UInt8]] = [Array("<think>".utf8), Array("<thinking>".utf8)]
        let closes: [[UInt8]] = [Array("</think>".utf8), Array("</thinking>".utf8)]
        var rest = ArraySlice(Array(text.utf8))
        var output = Output()
        var dropWhitespace = false

        func addContent(_ bytes: ArraySlice<UInt8>) {
            var bytes = bytes
            if dropWhitespace {
                bytes = bytes.drop(while: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D })
                if bytes.isEmpty { return }
                dropWhitespace = false
            }
            output.content += bytes
        }

        while true {
            let found = opens.indices.compactMap { which in rest.firstRange(of: opens[which]).map { ($0, which) } }
            guard let (range, which) = found.min(by: { $0.0.lowerBound < $1.0.lowerBound }) else {
                addContent(rest)
                break
            }
            addContent(rest[..<range.lowerBound])
            rest = rest[range.upperBound...]
            guard let close = rest.firstRange(of: closes[which]) else {
                output.reasoning += rest
                break
            }
            output.reasoning += rest[..<close.lowerBound]
            rest = rest[close.upperBound...]
            dropWhitespace = true
        }
        return output
    }

    /// Asserts that `text`, fed whole, at every single split point, at every pair of split points (short texts),
    /// one scalar at a time and at many random split points, gives `content`/`reasoning`, and that this agrees with
    /// the reference statement of the rules.
    private func assertSplits(
        _ text: String, content: String, reasoning: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let expected = Output(content: Array(content.utf8), reasoning: Array(reasoning.utf8))
        XCTAssertEqual(reference(text), expected, "reference disagrees with the expectation", file: file, line: line)

        let scalars = Array(text.unicodeScalars)
        let n = scalars.count
        var cases: [[Int]] = [[]]
        cases += (0...n).map { [$0] }
        if n <= 80 {
            for i in 0...n { for j in i...n { cases.append([i, j]) } }
        }
        cases.append(Array(0...n))  // one scalar per fragment, plus empty fragments at both ends
        var rng = SplitMix64(seed: UInt64(n) &* 7919)
        for _ in 0..<300 {
            let k = Int.random(in: 1...12, using: &rng)
            cases.append((0..<k).map { _ in Int.random(in: 0...n, using: &rng) }.sorted())
        }
        for points in cases {
            let fragments = split(scalars, at: points)
            let output = run(fragments)
            if output != expected {
                XCTFail(
                    "fragments \(fragments.map(\.debugDescription)) gave content \(output.contentString.debugDescription)"
                        + " reasoning \(output.reasoningString.debugDescription)",
                    file: file, line: line)
                return
            }
        }
    }

    // MARK: - Realistic streams at every split

    func testQwen3Style() {
        assertSplits(
            "<think>\nLet me think...\n</think>\n\nHello!",
            content: "Hello!", reasoning: "\nLet me think...\n")
    }

    func testDeepSeekStyleLongerReasoning() {
        assertSplits(
            "<think>\nThe user greets me. I should answer briefly: 2 < 3 and 5 > 4.\n</think>\n\nHi there! How can I help?\n",
            content: "Hi there! How can I help?\n",
            reasoning: "\nThe user greets me. I should answer briefly: 2 < 3 and 5 > 4.\n")
    }

    func testThinkingTag() {
        assertSplits("<thinking>\nplan\n</thinking>\n\nDone.", content: "Done.", reasoning: "\nplan\n")
    }

    func testTextWithLessThanThatIsNotATag() {
        assertSplits("a < b and <b>bold</b> text", content: "a < b and <b>bold</b> text", reasoning: "")
        assertSplits("x<y, <th is not <think, <thinkx>", content: "x<y, <th is not <think, <thinkx>", reasoning: "")
        assertSplits("<<think>x</think>", content: "<", reasoning: "x")
    }

    func testTrailingLessThanAtEndOfStream() {
        assertSplits("Answer <", content: "Answer <", reasoning: "")
        assertSplits("Answer <thi", content: "Answer <thi", reasoning: "")
        assertSplits("Answer <think", content: "Answer <think", reasoning: "")
        assertSplits("<think>x</think>Hi <thinking", content: "Hi <thinking", reasoning: "x")
    }

    func testSeveralSpansAreAllMoved() {
        assertSplits(
            "<think>one</think>\nA <think>two</think> B<thinking>three</thinking>C",
            content: "A BC", reasoning: "onetwothree")
    }

    func testTextBeforeTheSpanIsKept() {
        assertSplits("Sure. <think>hmm</think> Here it is.", content: "Sure. Here it is.", reasoning: "hmm")
        assertSplits("  \n<think>x</think>y", content: "  \ny", reasoning: "x")
    }

    func testUnclosedSpanIsReasoning() {
        assertSplits("<think>\nstill thinking when the stream ended", content: "", reasoning: "\nstill thinking when the stream ended")
        assertSplits("<think>x</thin", content: "", reasoning: "x</thin")
    }

    func testSpanIsClosedOnlyByItsOwnTag() {
        assertSplits("<think>a</thinking>b</think>c", content: "c", reasoning: "a</thinking>b")
        assertSplits("<thinking>a</think>b</thinking>c", content: "c", reasoning: "a</think>b")
    }

    func testTagsInsideASpanAreReasoningText() {
        assertSplits("<think>a <think> b < c</think>d", content: "d", reasoning: "a <think> b < c")
    }

    func testClosingTagWithoutOpeningIsContent() {
        // Output starting inside a think block is deliberately not detected (see ThinkSplitter's documentation).
        assertSplits("reasoning</think>\n\nanswer", content: "reasoning</think>\n\nanswer", reasoning: "")
    }

    func testOnlyWhitespaceAfterClosingTag() {
        assertSplits("<think>x</think>\n\n", content: "", reasoning: "x")
        assertSplits("<think></think>\n\nHello", content: "Hello", reasoning: "")
        assertSplits("<think>x</think> \t\r\n<think>y</think>\n z", content: "z", reasoning: "xy")
    }

    func testTagsAreCaseSensitiveAndExact() {
        assertSplits("<THINK>x</THINK>", content: "<THINK>x</THINK>", reasoning: "")
        assertSplits("<think >x</think >", content: "<think >x</think >", reasoning: "")
    }

    func testUnicodeAroundTags() {
        assertSplits("<think>思考 🎉 e\u{301}</think>\n答案 é<", content: "答案 é<", reasoning: "思考 🎉 e\u{301}")
        assertSplits("🎉<think>👍🏽</think>🇫🇷", content: "🎉🇫🇷", reasoning: "👍🏽")
    }

    func testEmptyStream() {
        assertSplits("", content: "", reasoning: "")
    }

    // MARK: - Random streams against the reference

    func testRandomStreamsMatchReference() {
        let tokens = ["<think>", "</think>", "<thinking>", "</thinking>", "<", ">", "/", "<th", "</th", "ink>", "ing>",
                      "a", "b c", " ", "\n", "é", "🎉", "<b>", "think"]
        var rng = SplitMix64(seed: 42)
        for _ in 0..<400 {
            let length = Int.random(in: 0...14, using: &rng)
            let text = (0..<length).map { _ in tokens.randomElement(using: &rng)! }.joined()
            let expected = reference(text)
            XCTAssertEqual(run([text]), expected, "whole: \(text.debugDescription)")
            let scalars = Array(text.unicodeScalars)
            for _ in 0..<20 {
                let k = Int.random(in: 1...8, using: &rng)
                let points = (0..<k).map { _ in Int.random(in: 0...scalars.count, using: &rng) }.sorted()
                let fragments = split(scalars, at: points)
                let output = run(fragments)
                if output != expected {
                    XCTFail("\(fragments.map(\.debugDescription)) gave \(output.contentString.debugDescription)"
                            + " / \(output.reasoningString.debugDescription)")
                    return
                }
            }
        }
    }

    // MARK: - Holding back is minimal

    func testPartialOpeningTagIsHeldUntilDecided() {
        var splitter = ThinkSplitter()
        XCTAssertTrue(splitter.feed("Hello <th") == ("Hello ", ""))
        XCTAssertTrue(splitter.feed("ink>x") == ("", "x"))
        XCTAssertTrue(splitter.feed("</thi") == ("", ""))
        XCTAssertTrue(splitter.feed("nk>\n\nWorld") == ("World", ""))
        XCTAssertTrue(splitter.finish() == ("", ""))
    }

    func testHeldTextThatIsNotATagIsReleasedByTheNextFragment() {
        var splitter = ThinkSplitter()
        XCTAssertTrue(splitter.feed("a <") == ("a ", ""))
        XCTAssertTrue(splitter.feed(" b") == ("< b", ""))
        XCTAssertTrue(splitter.feed("<thin") == ("", ""))
        XCTAssertTrue(splitter.feed("ki") == ("", ""))  // "<thinki" is still a prefix of "<thinking>"
        XCTAssertTrue(splitter.feed("s") == ("<thinkis", ""))
        XCTAssertTrue(splitter.feed("<thing") == ("<thing", ""))  // not a prefix of any tag: released at once
        XCTAssertTrue(splitter.finish() == ("", ""))
    }

    func testNothingHeldWhenNoSuffixCanStartATag() {
        var splitter = ThinkSplitter()
        XCTAssertTrue(splitter.feed("a < b") == ("a < b", ""))
        XCTAssertTrue(splitter.feed("<b>bold</b>") == ("<b>bold</b>", ""))
        XCTAssertTrue(splitter.feed("x </") == ("x </", ""))  // a closing tag cannot come outside a span
        XCTAssertTrue(splitter.finish() == ("", ""))
    }

    func testReasoningIsReturnedAsItArrives() {
        var splitter = ThinkSplitter()
        XCTAssertTrue(splitter.feed("<think>Let") == ("", "Let"))
        XCTAssertTrue(splitter.feed(" me") == ("", " me"))
        XCTAssertTrue(splitter.feed(" see <th") == ("", " see <th"))  // an opening tag cannot come inside a span
        XCTAssertTrue(splitter.feed(" 1 <") == ("", " 1 "))
        XCTAssertTrue(splitter.feed("/") == ("", ""))
        XCTAssertTrue(splitter.feed("p") == ("", "</p"))
        XCTAssertTrue(splitter.finish() == ("", ""))
    }

    func testWhitespaceAfterClosingTagIsDroppedAcrossFragments() {
        var splitter = ThinkSplitter()
        XCTAssertTrue(splitter.feed("<think>x</think>") == ("", "x"))
        XCTAssertTrue(splitter.feed("\n") == ("", ""))
        XCTAssertTrue(splitter.feed("\n Hi") == ("Hi", ""))
        XCTAssertTrue(splitter.feed("\n there") == ("\n there", ""))
        XCTAssertTrue(splitter.finish() == ("", ""))
    }

    func testFinishReleasesHeldText() {
        var outside = ThinkSplitter()
        XCTAssertTrue(outside.feed("x<thi") == ("x", ""))
        XCTAssertTrue(outside.finish() == ("<thi", ""))

        var inside = ThinkSplitter()
        XCTAssertTrue(inside.feed("<think>abc</thi") == ("", "abc"))
        XCTAssertTrue(inside.finish() == ("", "</thi"))
    }

    func testFinishResetsForANewStream() {
        var splitter = ThinkSplitter()
        _ = splitter.feed("<think>unclosed")
        _ = splitter.finish()
        XCTAssertTrue(splitter.feed("plain") == ("plain", ""))
        XCTAssertTrue(splitter.finish() == ("", ""))
    }

    // MARK: - Disabled

    func testDisabledPassesEverythingThrough() {
        var splitter = ThinkSplitter(enabled: false)
        XCTAssertFalse(splitter.enabled)
        XCTAssertTrue(splitter.feed("<think>x</th") == ("<think>x</th", ""))
        XCTAssertTrue(splitter.feed("ink>\n\nHi <") == ("ink>\n\nHi <", ""))
        XCTAssertTrue(splitter.finish() == ("", ""))
        let output = run(["<thi", "nk>a</think>", "\nb"], enabled: false)
        XCTAssertEqual(output.contentString, "<think>a</think>\nb")
        XCTAssertEqual(output.reasoningString, "")
    }

    func testEnabledByDefault() {
        XCTAssertTrue(ThinkSplitter().enabled)
    }
}
