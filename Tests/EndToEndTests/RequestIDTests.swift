import XCTest
@testable import LLMWorkerTestSupport

/// Every id comes back with the JSON type and value it was sent with: in results, in errors, in batches and in
/// the `chatStream.delta` notifications of a stream. Ids that are neither string, number nor null are invalid.
final class RequestIDTests: XCTestCase {
    /// Written into the request line exactly as here; compared with the independent JSON oracle, which tells an
    /// integer from a fractional number and compares integers digit by digit.
    static let ids: [String] = [
        #""abc""#, #""""#, #""42""#, #""é ünïcødé 漢字 🎉""#, #""\ud83c\udf89 \u0000 \"quoted\" \\ \n""#,
        "0", "1", "-1", "7", "9007199254740993", "9223372036854775807", "-9223372036854775808",
        "4.5", "-0.25", "1.5e300", "null",
    ]

    func testEveryIDIsEchoedWithItsTypeAndValue() throws {
        let worker = try startWorker()
        for id in Self.ids {
            try worker.send(#"{"jsonrpc":"2.0","id":\#(id),"method":"ping"}"#)
            let expected = try JSON.parse(id)
            let reply = try worker.nextMessage()
            XCTAssertEqual(assertResult(reply, id: expected).keys, RPC.pingResultKeys, "id \(id)")
        }
    }

    /// Ids a client could send that the Int64/Double round trip would change: an integer beyond Int64 must keep
    /// its digits, a number written with a fraction or exponent must stay a fractional number.
    func testNumbersOutsideInt64AndIntegralFloatsKeepTheirTypeAndValue() throws {
        let worker = try startWorker()
        for id in ["9223372036854775808", "18446744073709551616", "-9223372036854775809", "123456789012345678901234567890",
                   "1.0", "-2.0", "1e3", "0.0"] {
            try worker.send(#"{"jsonrpc":"2.0","id":\#(id),"method":"ping"}"#)
            assertResult(try worker.nextMessage(), id: try JSON.parse(id))
        }
    }

    /// The same ids in a batch, in stream deltas, with the id after a large params object or spelled with an
    /// escaped key, and reached by `cancel`.
    func testUnusualNumbersKeepTheirSpellingEverywhere() throws {
        let worker = try startMockWorker()
        let ids = ["1.0", "1e3", "18446744073709551616", "-0.0", "2.50"]
        try worker.send("[" + ids.map { #"{"jsonrpc":"2.0","id":\#($0),"method":"ping"}"# }.joined(separator: ",") + "]")
        let echoed = try worker.nextMessage().array?.compactMap { $0["id"] } ?? []
        XCTAssertEqual(echoed.count, ids.count)
        for id in ids {
            XCTAssertTrue(echoed.contains(try JSON.parse(id)), "\(id) in the batch answer \(echoed)")
        }
        let big = String(repeating: "x", count: 100_000)
        try worker.send(#"{"jsonrpc":"2.0","method":"chatStream","params":{"messages":[{"role":"user","content":"\#(big)"}],"extra":{"mock":{"chunk_chars":0}}},"\u0069d":1.0}"#)
        let (response, deltas) = try worker.readUntilResponse(id: 1.0)
        assertResult(response, id: 1.0)
        XCTAssertTrue(deltas.allSatisfy { $0["params"]?["id"] == 1.0 }, "deltas carry 1.0, not 1")
        for id in ["2.0", "18446744073709551616"] {
            try worker.send(#"{"jsonrpc":"2.0","id":\#(id),"method":"chat","params":{"messages":[{"role":"user","content":"x"}],"extra":{"mock":{"first_token_delay_ms":600000}}}}"#)
            try worker.send(#"{"jsonrpc":"2.0","id":"c","method":"cancel","params":{"id":\#(id)}}"#)
            let (reply, others) = try worker.readUntilResponse(id: "c")
            XCTAssertEqual(assertResult(reply, id: "c"), ["cancelled": true], "cancel reaches \(id)")
            assertProviderError(try others.first ?? worker.nextMessage(), id: try JSON.parse(id), code: -32800, kind: "cancelled")
        }
    }

    /// `-0` is the same id as `0` but comes back spelled `-0`; numbers out of Double's range either way are parse
    /// errors, as an id or anywhere else, so `1e-400` can never pass for id 0.
    func testNegativeZeroAndNumbersOutOfRange() throws {
        let worker = try startWorker()
        try worker.send(#"{"jsonrpc":"2.0","id":-0,"method":"ping"}"#)
        let line = try worker.nextLine()
        XCTAssertTrue(line.hasPrefix(#"{"jsonrpc":"2.0","id":-0,"#), line)
        for text in [#"{"jsonrpc":"2.0","id":1e400,"method":"ping"}"#, #"{"jsonrpc":"2.0","id":1e-400,"method":"ping"}"#,
                     #"{"jsonrpc":"2.0","id":3,"method":"ping","params":{"x":-2.5E-400}}"#] {
            try worker.send(text)
            assertError(try worker.nextMessage(), id: nil, code: -32700, data: RPC.parseErrorData, mentioning: ["number out of range"])
        }
        try worker.send(#"{"jsonrpc":"2.0","id":4,"method":"ping","params":{"x":0e-999,"y":1e-300}}"#)
        assertResult(try worker.nextMessage(), id: 4)
    }

    func testIDsAreEchoedInErrors() throws {
        let worker = try startWorker()
        for id in Self.ids {
            let expected = try JSON.parse(id)
            try worker.send(#"{"jsonrpc":"2.0","id":\#(id),"method":"no.such.method"}"#)
            assertError(try worker.nextMessage(), id: expected, code: -32601, data: RPC.methodNotFoundData("no.such.method"))
            try worker.send(#"{"jsonrpc":"2.0","id":\#(id),"method":"chat","params":{"messages":[]}}"#)
            assertInvalidParams(try worker.nextMessage(), id: expected, field: "messages")
        }
    }

    func testIDsAreEchoedInBatches() throws {
        let worker = try startWorker()
        let batch = "[" + Self.ids.map { #"{"jsonrpc":"2.0","id":\#($0),"method":"ping"}"# }.joined(separator: ",") + "]"
        try worker.send(batch)
        let replies = try worker.nextMessage().array ?? []
        XCTAssertEqual(replies.count, Self.ids.count)
        let echoed = replies.map { $0["id"] ?? "missing" }
        for id in Self.ids {
            let expected = try JSON.parse(id)
            XCTAssertEqual(echoed.filter { $0 == expected }.count, 1, "id \(id) in \(echoed)")
        }
    }

    func testStreamDeltasCarryTheRequestIDWithItsType() throws {
        let worker = try startMockWorker()
        for id in [#""s-1""#, "12", "-3", "2.5", "null", #""🎉""#] {
            let expected = try JSON.parse(id)
            try worker.send(#"{"jsonrpc":"2.0","id":\#(id),"method":"chatStream","params":{"messages":[{"role":"user","content":"one two three"}]}}"#)
            let (response, deltas) = try worker.readUntilResponse(id: expected)
            assertResult(response, id: expected)
            XCTAssertFalse(deltas.isEmpty)
            for delta in deltas {
                XCTAssertEqual(delta["params"]?["id"], expected, "delta of request \(id): \(delta)")
            }
        }
    }

    func testIDsOfOtherTypesAreInvalidRequests() throws {
        let worker = try startWorker()
        for id in ["true", "false", "[1]", #"{"a":1}"#, "[]", "{}"] {
            try worker.send(#"{"jsonrpc":"2.0","id":\#(id),"method":"ping"}"#)
            assertError(try worker.nextMessage(), id: nil, code: -32600, data: RPC.invalidRequestData)
        }
    }
}
