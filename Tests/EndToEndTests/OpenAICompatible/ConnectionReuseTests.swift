import XCTest
@testable import LLMWorkerTestSupport

/// Connections to one server are reused (keep-alive), and many streams run side by side, more than URLSession's
/// default of 6 connections per host.
final class ConnectionReuseTests: XCTestCase {
    private let question = chatRequest([["role": "user", "content": "Hi"]])

    func testSequentialRequestsReuseOneConnection() throws {
        let server = try MockHTTPServer()
        let worker = try startUpstreamWorker(server)
        for n in 0..<6 {
            let id = JSON.number(String(n))
            if n % 2 == 0 {
                server.enqueue(ServerShape.llamaCpp.completion(content: "Answer \(n)"))
                XCTAssertEqual(assertResult(try worker.call("chat", question, id: id), id: id)["content"], .string("Answer \(n)"))
            } else {
                server.enqueue(ServerShape.llamaCpp.textStream(content: ["Answer", " \(n)"]).response())
                let (_, response) = try worker.stream(question, id: id)
                XCTAssertEqual(assertResult(response, id: id)["content"], .string("Answer \(n)"))
            }
        }
        XCTAssertEqual(server.connectionCount, 1, "one connection for every request: \(server.requests)")
        XCTAssertEqual(server.requests.map(\.indexOnConnection), Array(0..<7), "configure's warm-up opened it, six requests followed")
        XCTAssertEqual(server.closeEvents.count, 0)
    }

    /// An error answered with `Connection: close` (llama.cpp does that) does not poison the next request.
    func testAServerClosingAfterAnErrorIsReconnectedTo() throws {
        let server = try MockHTTPServer()
        server.enqueue(.openAIError(status: 400, message: "bad", headers: ["Connection": "close"]))
        server.enqueue(ServerShape.llamaCpp.completion(content: "Fine"))
        let worker = try startUpstreamWorker(server)
        XCTAssertEqual(try worker.call("chat", question, id: 1)["error"]?["data"]?["kind"], "bad_request")
        XCTAssertEqual(assertResult(try worker.call("chat", question, id: 2), id: 2)["content"], "Fine")
        XCTAssertEqual(server.connectionCount, 2)
    }

    /// 20 streams at once: the server answers none until all 20 requests (and configure's warm-up) have arrived, so they can only all
    /// complete if the worker opened 20 connections side by side.
    func testTwentyConcurrentStreamsToOneServer() throws {
        let count = 20
        let server = try MockHTTPServer()
        server.route("/v1/chat/completions") { [weak server] request in
            guard let server, server.waitForRequests(count: 1 + count, timeout: 15) else { return .empty(status: 503) }
            let n = request.bodyJSON?["x_n"] as? Int ?? -1
            return ServerShape.openAI.textStream(content: ["Stream", " \(n)", " done."]).response(delay: 0.005)
        }
        let worker = try startUpstreamWorker(server)
        for n in 0..<count {
            try worker.send(RPC.request("chatStream", chatRequest(question["messages"]!, more: ["extra": ["x_n": .number(String(n))]]),
                                        id: .number(String(n))))
        }
        var deltas: [Int: [JSON]] = [:]
        var responses: [Int: JSON] = [:]
        while responses.count < count {
            let message = try worker.nextMessage(timeout: 30)
            if message["method"] == "chatStream.delta", let id = message["params"]?["id"]?.int {
                deltas[id, default: []].append(message)
            } else if let id = message["id"]?.int {
                responses[id] = message
            }
        }
        for n in 0..<count {
            let id = JSON.number(String(n))
            XCTAssertEqual(checkDeltas(deltas[n] ?? [], id: id).content, "Stream \(n) done.")
            assertChatResult(responses[n] ?? .null, id: id, expectedResult(
                content: "Stream \(n) done.", usage: FixtureUsage(prompt: 12, completion: 5).expected, model: ServerShape.openAI.model))
        }
        XCTAssertEqual(server.requests.count, 1 + count, "configure's warm-up and the streams")
        XCTAssertGreaterThanOrEqual(server.connectionCount, count)
    }
}
