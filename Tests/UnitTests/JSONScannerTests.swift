import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport

final class JSONScannerTests: XCTestCase {
    private func member(_ name: String, _ text: String) -> String? {
        let data = Data(text.utf8)
        return JSONScanner.member(name, inObject: data).map { String(decoding: data[$0], as: UTF8.self) }
    }

    private func elements(_ text: String) -> [String]? {
        let data = Data(text.utf8)
        return JSONScanner.elements(ofArray: data)?.map { String(decoding: data[$0], as: UTF8.self) }
    }

    func testMembers() {
        XCTAssertEqual(member("id", #"{"id":1.0}"#), "1.0")
        XCTAssertEqual(member("id", #" { "a" : {"id":2, "b":[1,{"id":3}]} , "id" : -4e2 } "#), "-4e2", "only the top level")
        XCTAssertEqual(member("id", #"{"s":"quote \" and \\","id":"x"}"#), #""x""#)
        XCTAssertEqual(member("id", #"{"s":"ends with backslash \\\\","id":5}"#), "5")
        XCTAssertEqual(member("id", #"{"\u0069d":6}"#), "6", "escaped key")
        XCTAssertEqual(member("id", #"{"idx":1,"id":null}"#), "null")
        XCTAssertNil(member("id", #"{"a":1}"#))
        XCTAssertNil(member("id", "[1]"))
        XCTAssertNil(member("id", #"{"a":"unterminated}"#))
    }

    func testElements() {
        XCTAssertEqual(elements("[]"), [])
        XCTAssertEqual(elements(#" [ 1 , "a]" , {"b":[2,3]} , null ] "#), ["1", #""a]""#, #"{"b":[2,3]}"#, "null"])
        XCTAssertNil(elements("[1,]"))
        XCTAssertNil(elements("[1"))
        XCTAssertNil(elements(#"{"a":1}"#))
    }

    func testLongStringsAreSkipped() {
        let big = String(repeating: "x\\\"", count: 200_000)
        XCTAssertEqual(member("id", #"{"params":{"text":"\#(big)"},"id":9}"#), "9")
    }
}
