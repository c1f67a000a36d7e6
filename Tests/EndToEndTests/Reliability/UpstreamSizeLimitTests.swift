import XCTest
@testable import LLMWorkerTestSupport

/// Answers too big to hold (PROTOCOL §9): one SSE line over 8 MiB and a non-streamed body over 32 MiB end the
/// request with `invalid_response`, and the worker's memory stays bounded (its peak RSS, from /proc, stays far
/// below what holding the answer would take).
final class UpstreamSizeLimitTests: XCTestCase {
    /// Generous: the worker idles around 20-40 MiB; holding a 100 MB answer would go far past this.
    static let peakLimitMiB = 200.0

    private let mebibyte = Data(repeating: UInt8(ascii: "a"), count: 1 << 20)

    func testOneGiganticSSELineIsInvalidResponseWithBoundedMemory() throws {
        let server = try MockHTTPServer()
        // 12 MiB of one data line, never terminated, then silence.
        let line: [MockAction] = [Wire.streamHead, .sse(Wire.content("before ")), .chunkText("data: {\"choices\":[{\"delta\":{\"content\":\"")]
            + Array(repeating: MockAction.chunk(mebibyte), count: 12) + [.stall]
        server.enqueue(MockResponse(line), path: Wire.path)
        let worker = try startHTTPWorker(server)
        let (deltas, reply) = try worker.stream(RPC.chatParams(), id: 1, timeout: 30)
        let data = assertProviderError(reply, id: 1, code: -32007, kind: "invalid_response")
        XCTAssertEqual(deltas.compactMap { $0["params"]?["content"]?.string }.joined(), "before ")
        XCTAssertEqual(data["partial_content"], "before ")
        XCTAssertTrue(reply["error"]?["message"]?.string?.contains("8 MiB") == true, "\(reply)")
        XCTAssertEqual(server.requests(to: Wire.path).count, 1)
        let peak = try XCTUnwrap(ProcessMemory.peakMiB(worker.pid))
        print("worker peak RSS after a 12 MiB SSE line: \(peak) MiB")
        XCTAssertLessThan(peak, Self.peakLimitMiB)
        try worker.assertAlive()
    }

    func testHundredMegabyteAnswerIsRefusedPastTheLimitWithBoundedMemory() throws {
        let server = try MockHTTPServer()
        let prefix = Data(#"{"choices":[{"message":{"content":""#.utf8)
        let total = prefix.count + 100 * (1 << 20)
        // Paced a little (1 MiB every 20 ms), so the worker's refusal lands while the body is still coming.
        let body: [MockAction] = [.status(200, headers: ["Content-Type": "application/json", "Content-Length": String(total)]),
                                  .body(prefix)]
            + Array(repeating: [MockAction.sleep(0.02), .body(mebibyte)], count: 100).flatMap { $0 }
        server.enqueue(MockResponse(body), path: Wire.path)
        let worker = try startHTTPWorker(server)
        let reply = try worker.call("chat", RPC.chatParams(), id: 1, timeout: 60)
        let data = assertProviderError(reply, id: 1, code: -32007, kind: "invalid_response")
        XCTAssertEqual(data["partial_content"], "")
        XCTAssertTrue(reply["error"]?["message"]?.string?.contains("32 MiB") == true, "\(reply)")
        XCTAssertNotNil(server.waitForClientClose(timeout: 10, since: 0), "the worker closes the connection instead of reading on")
        let peak = try XCTUnwrap(ProcessMemory.peakMiB(worker.pid))
        print("worker peak RSS after a 100 MB answer: \(peak) MiB")
        XCTAssertLessThan(peak, Self.peakLimitMiB)
        try worker.assertAlive()
    }
}
