import Foundation
import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport

/// `JSONReader` must answer every input exactly as `JSONDecoder` (into `JSONValue`) does: the same value, or an
/// error for the same inputs. These tests compare the two on hand-picked edge cases and on generated documents.
final class JSONReaderTests: XCTestCase {

    private func viaDecoder(_ bytes: [UInt8]) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    private func viaReader(_ bytes: [UInt8]) -> JSONValue? {
        try? JSONReader.parse(Data(bytes))
    }

    private func assertSameAsDecoder(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        assertSameAsDecoder(Array(text.utf8), file: file, line: line)
    }

    private func assertSameAsDecoder(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
        let expected = viaDecoder(bytes)
        let actual = viaReader(bytes)
        XCTAssertEqual(actual, expected, "input: \(String(decoding: bytes, as: UTF8.self).debugDescription)", file: file, line: line)
    }

    func testChunksAsServersSendThem() throws {
        let chunk = #"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hel\"lo\n"},"logprobs":null,"finish_reason":null}]}"#
        assertSameAsDecoder(chunk)
        let value = try JSONReader.parse(Data(chunk.utf8))
        XCTAssertEqual(value["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue, "Hel\"lo\n")
        XCTAssertEqual(value["created"], .int(1_700_000_000))
        assertSameAsDecoder(#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,"cost":0.00012}}"#)
        assertSameAsDecoder(#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":"{\"a\":1}"}}]}}]}"#)
    }

    func testScalarsAndWhitespace() {
        for text in ["0", "-0", "1", "-1", "1.5", "-1.5e-3", "1e2", "1E+2", "1.0", "2.5e1", "9223372036854775807",
                     "-9223372036854775808", "9223372036854775808", "99999999999999999999", "1e400", "-1e400",
                     "0.1", "0e-999", "1e-300", "123456789.123456789", "true", "false", "null", "\"\"", " \t\r\n1 \t\r\n", "[]", "{}",
                     "[ ]", "{ }", "[1,2,3]", "[[[]]]", #"{"a":{"b":{"c":[1,{"d":null}]}}}"#] {
            assertSameAsDecoder(text)
        }
    }

    /// Where it may be stricter than `JSONDecoder`: asked to, it refuses a non-zero number too small for a Double
    /// like one too large, instead of reading it as 0.
    func testUnderflowIsRefusedOnlyWhenAsked() throws {
        for text in ["1e-400", "-2.5E-400", "[0.0001e-330]"] {
            XCTAssertThrowsError(try JSONReader.parse(Data(text.utf8), refusingUnderflow: true), text) { error in
                XCTAssertEqual((error as? JSONReader.Failure)?.message, "number out of range", text)
            }
            assertSameAsDecoder(text)
        }
        XCTAssertEqual(try JSONReader.parse(Data("0e-999".utf8), refusingUnderflow: true), .int(0))
    }

    func testStringsAndEscapes() {
        for text in [#""\"\\\/\b\f\n\r\t""#, #""\u0000\u001f\u0041\u00e9\u20ac""#, #""\ud83d\ude00""#, #""\uD83D\uDE00""#,
                     #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, #""\ud800x""#, #""\x""#, #""\u12""#, #""\u12g4""#,
                     "\"caf\u{e9} \u{1F600} 中文\"", "\"raw\u{01}control\"", "\"tab\tinside\"", "\"unterminated",
                     "\"\\", "\"\\u"] {
            assertSameAsDecoder(text)
        }
        // Bytes that are not UTF-8 inside a string.
        assertSameAsDecoder([0x22, 0xFF, 0x22])
        assertSameAsDecoder([0x22, 0xC3, 0x22])
        assertSameAsDecoder([0x22, 0xED, 0xA0, 0x80, 0x22])  // an encoded surrogate
        assertSameAsDecoder([0x22, 0x5C, 0x6E, 0xE2, 0x82, 0xAC, 0x22])  // escape then valid multi-byte text
    }

    func testWhatJSONDecoderTolerates() {
        // A BOM, trailing commas, and repeated keys (the first wins) are accepted by JSONDecoder; so here.
        assertSameAsDecoder("\u{FEFF}{\"a\":1}")
        assertSameAsDecoder(#"{"a":1,}"#)
        assertSameAsDecoder(#"[1,2,]"#)
        assertSameAsDecoder(#"{"a":1,"a":2}"#)
        XCTAssertEqual(viaReader(Array(#"{"a":1,"a":2}"#.utf8))?["a"], .int(1))
    }

    func testInvalidDocuments() {
        for text in ["", " ", "{", "}", "[", "]", "[1", "[1 2]", "{\"a\"}", "{\"a\":}", "{\"a\" 1}", "{a:1}", "{'a':1}",
                     "{\"a\":1 \"b\":2}", "tru", "nul", "falsey", "01", "-", "+1", "1.", ".5", "1e", "1e+", "--1",
                     "NaN", "Infinity", "[1,,2]", "[,]", "{,}", "{\"a\":1,,}", "1 2", "{} x", "//c\n1", "[1]]",
                     "\"a\" \"b\""] {
            XCTAssertNil(viaReader(Array(text.utf8)), "accepted: \(text.debugDescription)")
            assertSameAsDecoder(text)
        }
    }

    func testDepthLimit() {
        let fine = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        XCTAssertNotNil(viaReader(Array(fine.utf8)))
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        XCTAssertNil(viaReader(Array(deep.utf8)))
    }

    /// Random documents built from JSON's pieces (valid and, by mutation, invalid) give the same answer both ways.
    func testGeneratedDocumentsMatchJSONDecoder() {
        var generator = SplitMix64(seed: 0x5EED)
        let pieces = ["{", "}", "[", "]", ",", ":", "\"k\"", "\"v\\n\"", "\"\\u00e9\"", "1", "-2.5", "3e1", "true", "null",
                      " ", "\"a\"", "0", "\"\\ud83d\\ude00\""]
        for _ in 0..<400 {
            let document = Self.randomValue(&generator, depth: 0)
            assertSameAsDecoder(document)
            var mutated = Array(document.utf8)
            let position = Int(generator.next() % UInt64(mutated.count + 1))
            let piece = pieces[Int(generator.next() % UInt64(pieces.count))]
            if generator.next() % 2 == 0, !mutated.isEmpty {
                mutated.remove(at: min(position, mutated.count - 1))
            } else {
                mutated.insert(contentsOf: piece.utf8, at: position)
            }
            assertSameAsDecoder(mutated)
        }
    }

    private static func randomValue(_ generator: inout SplitMix64, depth: Int) -> String {
        let choice = generator.next() % (depth > 4 ? 6 : 8)
        switch choice {
        case 0: return "null"
        case 1: return generator.next() % 2 == 0 ? "true" : "false"
        case 2: return String(Int64(bitPattern: generator.next()) >> Int64(generator.next() % 64))
        case 3: return String(Double(Int64(bitPattern: generator.next() % 2_000_000) - 1_000_000) / 1000)
        case 4, 5:
            let alphabet = ["a", "é", "\\n", "\\\"", "\\u00e9", " ", "😀", "\\/", "z"]
            let count = Int(generator.next() % 6)
            return "\"" + (0..<count).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }.joined() + "\""
        case 6:
            let count = Int(generator.next() % 4)
            return "[" + (0..<count).map { _ in randomValue(&generator, depth: depth + 1) }.joined(separator: ",") + "]"
        default:
            let count = Int(generator.next() % 4)
            return "{" + (0..<count).map { i in "\"k\(i % 3)\":" + randomValue(&generator, depth: depth + 1) }.joined(separator: ",") + "}"
        }
    }
}

/// `JSONText.appendValue` writes what `OutgoingMessage.encoder()` writes for the values requests are made of.
final class JSONTextTests: XCTestCase {
    private func viaEncoder(_ value: JSONValue) throws -> String {
        String(decoding: try OutgoingMessage.encoder().encode(value), as: UTF8.self)
    }

    private func viaText(_ value: JSONValue) throws -> String {
        var bytes: [UInt8] = []
        try JSONText.appendValue(value, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    func testSameBytesAsJSONEncoder() throws {
        let values: [JSONValue] = [
            .null, .bool(true), .bool(false), .int(0), .int(-42), .int(Int64.max), .int(Int64.min),
            .double(0.7), .double(1.0), .double(-0.0), .double(100), .double(1e300), .double(1e-7), .double(0.1 + 0.2),
            .string(""), .string("plain"), .string("quote \" backslash \\ slash / newline \n tab \t cr \r"),
            .string("control \u{01} del \u{7f} é 😀 \u{2028}"),
            .array([]), .object([:]),
            .object(["model": .string("m"), "messages": .array([.object(["role": .string("user"), "content": .string("hi")])]),
                     "temperature": .double(0.2), "max_tokens": .int(512), "stream": .bool(true),
                     "stream_options": .object(["include_usage": .bool(true)]), "b": .null, "a": .array([.int(1), .double(2.5)])]),
        ]
        for value in values {
            XCTAssertEqual(try viaText(value), try viaEncoder(value), "\(value)")
        }
    }

    func testNonFiniteNumbersAreRefused() {
        XCTAssertThrowsError(try viaText(.double(.nan)))
        XCTAssertThrowsError(try viaText(.array([.double(.infinity)])))
    }

    func testRequestIDsAsJSON() {
        let ids: [RequestID] = [.string("a\"b"), .int(7), .int(-1), .null, .double(1.5)]
        for id in ids {
            XCTAssertEqual(String(decoding: id.jsonBytes, as: UTF8.self),
                           String(decoding: (try? OutgoingMessage.encoder().encode(id)) ?? Data(), as: UTF8.self))
        }
    }
}
