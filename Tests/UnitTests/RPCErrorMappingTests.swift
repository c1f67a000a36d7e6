import XCTest
@testable import LLMWorker

/// Every error a request can end with becomes its JSON-RPC error in one place.
final class RPCErrorMappingTests: XCTestCase {
    private struct Surprise: Error {}

    private func map(_ error: any Error, redactor: Redactor = Redactor()) -> (RPCError, unexpected: Bool) {
        var unexpected = false
        let rpc = RPCError(error, redactor: redactor) { _ in unexpected = true }
        return (rpc, unexpected)
    }

    func testRPCErrorsAndInvalidParamsKeepTheirCodes() {
        XCTAssertEqual(map(RPCError.methodNotFound("x")).0, .methodNotFound("x"))
        let invalid = InvalidParams(field: "model", "must be a string")
        XCTAssertEqual(map(invalid).0, invalid.rpcError)
        XCTAssertEqual(map(invalid).0.code, -32602)
        XCTAssertFalse(map(invalid).unexpected)
    }

    func testACancellationIsTheCancelledError() {
        let (rpc, unexpected) = map(CancellationError())
        XCTAssertEqual(rpc, ProviderError.cancelled().rpcError)
        XCTAssertEqual(rpc.code, -32800)
        XCTAssertFalse(unexpected)
    }

    func testAProviderErrorIsScrubbedOfAKeyTheServerEchoedBack() {
        let key = "test-" + String(repeating: "k", count: 12)
        let redactor = Redactor()
        redactor.register(key)
        let failure = ProviderError(.auth, "Bad key \(key)", status: 401, upstreamMessage: "key \(key) is invalid", provider: "openrouter")
        let (rpc, _) = map(failure, redactor: redactor)
        XCTAssertEqual(rpc.code, failure.rpcError.code)
        XCTAssertEqual(rpc.message, "Bad key [redacted]")
        guard case .object(let data)? = rpc.data else { return XCTFail("no data") }
        XCTAssertEqual(data["upstream_message"], .string("key [redacted] is invalid"))
        XCTAssertEqual(data["provider"], .string("openrouter"))
    }

    func testAnythingElseIsAnInternalErrorAndReportedAsUnexpected() {
        let (rpc, unexpected) = map(Surprise())
        XCTAssertEqual(rpc.code, -32603)
        XCTAssertEqual(rpc.data, .object(["kind": .string("internal")]))
        XCTAssertTrue(unexpected)
    }
}
