import XCTest
@testable import LLMWorkerTestSupport

extension XCTestCase {
    /// Starts the built worker; it is killed at teardown if the test left it running.
    func startWorker(_ arguments: [String] = [], environment: [String: String] = [:], closingStdout: Bool = false,
                     nonBlockingPipes: Bool = false) throws -> WorkerProcess {
        let worker = try WorkerProcess(arguments: arguments, environment: environment, closingStdout: closingStdout,
                                       nonBlockingPipes: nonBlockingPipes)
        addTeardownBlock { worker.stop() }
        return worker
    }

    /// Starts the worker and selects the mock provider with `configure` (`mock` as its default script).
    func startMockWorker(mock: JSON? = nil, arguments: [String] = [], environment: [String: String] = [:],
                         file: StaticString = #filePath, line: UInt = #line) throws -> WorkerProcess {
        let worker = try startWorker(arguments, environment: environment)
        var params: [String: JSON] = ["provider": "mock"]
        if let mock { params["mock"] = mock }
        let reply = try worker.call("configure", .object(params), id: "setup")
        XCTAssertEqual(assertResult(reply, id: "setup", file: file, line: line)["provider"], "mock", file: file, line: line)
        return worker
    }
}

extension WorkerProcess {
    /// Sends a request and returns the next line, which the caller expects to be its response.
    func call(_ method: String, _ params: JSON? = nil, id: JSON = 1, timeout: TimeInterval = defaultTimeout) throws -> JSON {
        try send(RPC.request(method, params, id: id))
        return try nextMessage(timeout: timeout)
    }

    /// Sends a `chatStream` request and reads its deltas up to its response (nothing else may be in flight).
    func stream(_ params: JSON, id: JSON = 1, timeout: TimeInterval = defaultTimeout) throws -> (deltas: [JSON], response: JSON) {
        try send(RPC.request("chatStream", params, id: id))
        var deltas: [JSON] = []
        while true {
            let message = try nextMessage(timeout: timeout)
            if message["method"] == "chatStream.delta" {
                deltas.append(message)
            } else {
                return (deltas, message)
            }
        }
    }

    /// The next `count` responses, keyed by their string id (responses come in any order, PROTOCOL.md 3.6).
    func nextResponsesByID(_ count: Int, timeout: TimeInterval = defaultTimeout) throws -> [String: JSON] {
        var seen: [String: JSON] = [:]
        for _ in 0..<count {
            let message = try nextMessage(timeout: timeout)
            seen[message["id"]?.string ?? "?"] = message
        }
        return seen
    }

    /// Reads lines until one is the response with `id`; returns it with the other lines read on the way.
    func readUntilResponse(id: JSON, timeout: TimeInterval = defaultTimeout) throws -> (response: JSON, others: [JSON]) {
        var others: [JSON] = []
        while true {
            let message = try nextMessage(timeout: timeout)
            if message["id"] == id, message["method"] == nil { return (message, others) }
            others.append(message)
        }
    }
}
