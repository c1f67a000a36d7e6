import XCTest
@testable import LLMWorkerTestSupport

/// 256 concurrent `chatStream`s of 500 deltas each through one worker, against the HTTP mock server: no delta
/// lost, duplicated or sent to the wrong request, every result the concatenation of its deltas, memory bounded;
/// and a client that stops reading for 2 s makes the worker wait, not drop or hoard.
/// The numbers printed (throughput, peak RSS) are the ones quoted in the README's reliability section.
final class LoadTests: XCTestCase {
    static let streams = 256
    static let deltasPerStream = 500
    /// Far above the worker's own needs (tens of MiB), far below what hoarding the whole output would take.
    static let peakLimitMiB = 300.0

    static func piece(_ stream: Int, _ k: Int) -> String { "s\(stream)e\(k);" }
    static func expected(_ stream: Int) -> String { (0..<deltasPerStream).map { piece(stream, $0) }.joined() }

    /// Every chat answer: 500 content events made from the request's user message ("n<stream>"), as fast as
    /// the socket takes them.
    private func loadServer() throws -> MockHTTPServer {
        let server = try MockHTTPServer()
        server.route(Wire.path) { request in
            let messages = request.bodyJSON?["messages"] as? [[String: Any]]
            let stream = Int((messages?.first?["content"] as? String ?? "n-1").dropFirst()) ?? -1
            return Wire.stream((0..<Self.deltasPerStream).map { Self.piece(stream, $0) })
        }
        return server
    }

    private struct Stats {
        var deltaLines = 0
        var seconds = 0.0
        var peakMiB = 0.0
        var workerCPU = 0.0
    }

    /// Runs the load; `pauseAfter` lines, the test stops reading stdout for `pause` seconds.
    private func runLoad(pauseAfter: Int? = nil, pause: TimeInterval = 2) throws -> Stats {
        let server = try loadServer()
        let worker = try startHTTPWorker(server, settings: ["first_token_timeout_s": 60, "idle_timeout_s": 60, "timeout_s": 120])
        var lines: [String] = []
        for n in 0..<Self.streams { lines.append(RPC.request("chatStream", RPC.chatParams("n\(n)"), id: .number("\(n)")).text) }
        let start = Date()
        try worker.sendRaw(Array((lines.joined(separator: "\n") + "\n").utf8))

        var text = [String](repeating: "", count: Self.streams)
        var nextIndex = [Int](repeating: 0, count: Self.streams)
        var finals: [Int: JSON] = [:]
        var stats = Stats()
        var paused = false
        while finals.count < Self.streams {
            if let pauseAfter, !paused, stats.deltaLines >= pauseAfter {
                paused = true
                worker.pauseStdout()
                let before = try XCTUnwrap(ProcessMemory.residentMiB(worker.pid))
                Thread.sleep(forTimeInterval: pause)
                let during = try XCTUnwrap(ProcessMemory.residentMiB(worker.pid))
                print("slow reader: worker RSS \(before) MiB when the client stopped reading, \(during) MiB \(pause) s later")
                XCTAssertLessThan(during, Self.peakLimitMiB)
                worker.resumeStdout()
            }
            // Foundation's parser here (the harness's own JSON parser is built for debugging, and slower).
            let line = try worker.nextLineBytes(timeout: 60)
            guard let message = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                XCTFail("not a JSON object: \(String(decoding: line.prefix(200), as: UTF8.self))")
                continue
            }
            if message["method"] as? String == "chatStream.delta" {
                stats.deltaLines += 1
                let params = message["params"] as? [String: Any] ?? [:]
                guard let id = params["id"] as? Int, (0..<Self.streams).contains(id) else {
                    XCTFail("a delta for an unknown request: \(message)")
                    continue
                }
                XCTAssertNil(finals[id], "a delta after the final answer of \(id)")
                XCTAssertEqual(params["index"] as? Int, nextIndex[id], "delta index of \(id): no gap, no repeat")
                nextIndex[id] += 1
                text[id] += params["content"] as? String ?? ""
            } else if let id = message["id"] as? Int {
                XCTAssertNil(finals[id], "two final answers for \(id)")
                finals[id] = try JSON.parse(line)
            } else {
                XCTFail("unexpected line: \(message)")
            }
        }
        stats.seconds = Date().timeIntervalSince(start)
        stats.peakMiB = try XCTUnwrap(ProcessMemory.peakMiB(worker.pid))
        stats.workerCPU = try XCTUnwrap(ProcessMemory.cpuSeconds(worker.pid))
        for id in 0..<Self.streams {
            let result = assertResult(finals[id] ?? .null, id: .number("\(id)"))
            XCTAssertEqual(text[id], Self.expected(id), "stream \(id): its deltas, all of them, in order, nobody else's")
            XCTAssertEqual(result["content"]?.string, text[id], "stream \(id): the result is the concatenation of its deltas")
            XCTAssertEqual(result["finish_reason"], "stop")
        }
        XCTAssertEqual(server.requests.count, 1 + Self.streams, "configure's warm-up and one upstream request per stream, none retried")
        XCTAssertLessThan(stats.peakMiB, Self.peakLimitMiB)
        XCTAssertEqual(try worker.finish(timeout: 30), 0)
        return stats
    }

    func testTwoHundredFiftySixConcurrentStreamsWithAReaderThatStopsFor2Seconds() throws {
        let stats = try runLoad(pauseAfter: Self.streams * Self.deltasPerStream / 4)
        let deltas = Self.streams * Self.deltasPerStream
        print(String(format: "load: %d streams x %d deltas = %d deltas (%d delta lines) in %.2f s (2 s of it with the client not reading): %.0f deltas/s; worker CPU %.2f s, peak RSS %.1f MiB",
                     Self.streams, Self.deltasPerStream, deltas, stats.deltaLines, stats.seconds, Double(deltas) / stats.seconds,
                     stats.workerCPU, stats.peakMiB))
    }
}
