import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport

/// MessageParser in-process: what each kind of line becomes before the dispatcher sees it.
final class MessageParserTests: XCTestCase {
    private func parse(_ text: String) -> MessageParser.Parsed {
        MessageParser.parse(Data(text.utf8))
    }

    /// The single message a line holds, or a test failure.
    private func message(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> IncomingMessage? {
        guard case .single(.message(let message)) = parse(text) else {
            XCTFail("not a single message: \(text)", file: file, line: line)
            return nil
        }
        return message
    }

    private func invalid(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> (RequestID, RPCError)? {
        guard case .single(.invalid(let id, let error)) = parse(text) else {
            XCTFail("not a single invalid request: \(text)", file: file, line: line)
            return nil
        }
        return (id, error)
    }

    private func failure(_ data: Data, file: StaticString = #filePath, line: UInt = #line) -> RPCError? {
        guard case .failure(let error) = MessageParser.parse(data) else {
            XCTFail("not a failure", file: file, line: line)
            return nil
        }
        return error
    }

    func testRequestNotificationAndParams() throws {
        let request = try XCTUnwrap(message(#"{"jsonrpc":"2.0","id":"a","method":"chat","params":{"messages":[]}}"#))
        XCTAssertEqual(request.id, .string("a"))
        XCTAssertEqual(request.method, "chat")
        guard case .inMessage = request.params else { return XCTFail("params are decoded in place") }

        let nullID = try XCTUnwrap(message(#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#))
        XCTAssertEqual(nullID.id, .null, "id null is a request, answered with id null")
        guard case .absent = nullID.params else { return XCTFail("no params") }

        let notification = try XCTUnwrap(message(#"{"jsonrpc":"2.0","method":"ping"}"#))
        XCTAssertNil(notification.id)
    }

    func testParseErrors() {
        for text in ["{", "nope", #"{"jsonrpc":"2.0""#, "[1,2", "{} {}"] {
            XCTAssertEqual(failure(Data(text.utf8))?.code, -32700, text)
        }
        XCTAssertEqual(failure(Data([0x7B, 0xFF, 0x7D]))?.code, -32700, "invalid UTF-8")
        XCTAssertEqual(failure(Data(#"{"a":"\#u{00e9}"}"#.utf8) + Data([0xC3]))?.code, -32700, "truncated UTF-8")
    }

    func testInvalidRequests() {
        XCTAssertEqual(failure(Data("[]".utf8))?.code, -32600)
        XCTAssertEqual(failure(Data("42".utf8))?.code, -32600)
        XCTAssertEqual(failure(Data(#""x""#.utf8))?.code, -32600)
        let noVersion = invalid(#"{"id":1,"method":"ping"}"#)
        XCTAssertEqual(noVersion?.0, .int(1), "a usable id is echoed")
        XCTAssertEqual(noVersion?.1.code, -32600)
        XCTAssertEqual(invalid(#"{"jsonrpc":"2.0","id":[1],"method":"ping"}"#)?.0, .null, "an unusable id is not")
        XCTAssertEqual(invalid(#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#)?.1.code, -32600)
        XCTAssertEqual(invalid(#"{"jsonrpc":"2.0","id":2}"#)?.1.code, -32600, "method missing")
        XCTAssertEqual(invalid(#"{"jsonrpc":"2.0","id":2,"method":7}"#)?.1.code, -32600, "method not a string")
    }

    func testNonObjectParams() {
        let request = invalid(#"{"jsonrpc":"2.0","id":3,"method":"ping","params":[1]}"#)
        XCTAssertEqual(request?.0, .int(3))
        XCTAssertEqual(request?.1, InvalidParams(field: "params", "must be an object of named params").rpcError)
        // A notification is never answered: it goes on, and its params fail to decode later, silently.
        let notification = message(#"{"jsonrpc":"2.0","method":"ping","params":[1]}"#)
        XCTAssertNil(notification?.id)
        XCTAssertThrowsError(try notification?.decodeParams(CancelMethod.Params.self))
    }

    func testNumericIDsKeepTheirSpelling() {
        let cases: [(String, RequestID)] = [
            ("7", .int(7)), ("-7", .int(-7)), ("4.5", .double(4.5)), ("1.0", .number("1.0")), ("1e3", .number("1e3")),
            ("18446744073709551616", .number("18446744073709551616")), ("-0.0", .number("-0.0")),
        ]
        for (spelling, expected) in cases {
            let id = message(#"{"jsonrpc":"2.0","method":"ping","id":\#(spelling)}"#)?.id
            XCTAssertEqual(id.map { String(describing: $0) }, String(describing: expected), spelling)
            XCTAssertEqual(id.map { String(decoding: $0.jsonBytes, as: UTF8.self) }, spelling, "written back as sent")
        }
        XCTAssertEqual(RequestID.number("1.0"), .int(1), "ids compare by value")
        XCTAssertEqual(RequestID.number("2.50"), .double(2.5))
        XCTAssertNotEqual(RequestID.string("1"), .int(1))
        XCTAssertEqual(Set([RequestID.number("1.0"), .int(1), .double(1)]).count, 1)
    }

    func testBatchItems() {
        let text = #"[{"jsonrpc":"2.0","id":1.0,"method":"ping"}, 5, {"jsonrpc":"2.0","method":"note"}, {"foo":"boo"}, {"jsonrpc":"2.0","id":"s","method":"chat","params":{"x":"],}"}}]"#
        guard case .batch(let items) = parse(text) else { return XCTFail("not a batch") }
        XCTAssertEqual(items.count, 5)
        guard case .message(let first) = items[0], case .invalid(let id, let error) = items[1],
              case .message(let note) = items[2], case .invalid(let fooID, _) = items[3], case .message(let chat) = items[4] else {
            return XCTFail("unexpected items")
        }
        XCTAssertEqual(String(decoding: first.id!.jsonBytes, as: UTF8.self), "1.0", "batch elements keep their id spelling")
        XCTAssertEqual(id, .null)
        XCTAssertEqual(error.code, -32600)
        XCTAssertNil(note.id)
        XCTAssertEqual(fooID, .null)
        XCTAssertEqual(chat.id, .string("s"))
        struct X: Decodable { let x: String }
        XCTAssertEqual(try chat.decodeParams(X.self).x, "],}", "the element's own bytes, strings with brackets included")
    }

    func testDecodeParamsNamesTheField() {
        let chat = message(#"{"jsonrpc":"2.0","id":1,"method":"chat","params":{"messages":[{"role":"user"}],"max_tokens":1.5}}"#)
        XCTAssertThrowsError(try chat?.decodeParams(ChatParams.self)) { error in
            XCTAssertEqual((error as? InvalidParams)?.field, "max_tokens")
        }
        let missing = message(#"{"jsonrpc":"2.0","id":1,"method":"chat","params":{}}"#)
        XCTAssertThrowsError(try missing?.decodeParams(ChatParams.self)) { error in
            XCTAssertEqual((error as? InvalidParams)?.field, "messages")
        }
        let nested = message(#"{"jsonrpc":"2.0","id":1,"method":"chat","params":{"messages":[{"role":"user"}],"tools":"x"}}"#)
        XCTAssertThrowsError(try nested?.decodeParams(ChatParams.self)) { error in
            XCTAssertEqual((error as? InvalidParams)?.field, "tools")
        }
    }
}
