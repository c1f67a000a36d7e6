import XCTest
@testable import LLMWorkerTestSupport

/// Many requests of every outcome (answers, streams, HTTP errors, idle timeouts), 500 at a time: memory stays
/// within a small margin instead of growing with the number of requests served. (Measured: about 1.3 KB per HTTP
/// request is still retained somewhere, which this margin tolerates over 2,500 requests; a request that kept its
/// exchange, timers or buffers alive would not fit.)
final class SoakTests: XCTestCase {
    func testMemoryLevelsOffOverThousandsOfRequests() throws {
        let server = try MockHTTPServer()
        server.route(Wire.path) { request in
            let text = (request.bodyJSON?["messages"] as? [[String: Any]])?.first?["content"] as? String ?? ""
            switch text.last {
            case "s": return Wire.stream(["a", "b", "c"])
            case "e": return .openAIError(status: 400, message: "bad")
            case "r": return .openAIError(status: 503, message: "busy")
            case "x": return [Wire.streamHead, .sse(Wire.content("partial")), .stall]
            default: return Wire.completion("ok")
            }
        }
        let worker = try startHTTPWorker(server, settings: ["idle_timeout_s": 0.3, "max_retries": 0])
        func round(_ count: Int) throws {
            var lines: [String] = []
            for n in 0..<count {
                let kind = ["c", "s", "e", "r", "x"][n % 5]
                let method = kind == "s" || kind == "x" ? "chatStream" : "chat"
                lines.append(RPC.request(method, RPC.chatParams("\(n)\(kind)"), id: .number("\(n)")).text)
            }
            try worker.sendRaw(Array((lines.joined(separator: "\n") + "\n").utf8))
            var answered = 0
            while answered < count {
                let line = try worker.nextLineBytes(timeout: 30)
                let message = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] ?? [:]
                if message["id"] != nil { answered += 1 }
            }
        }
        try round(500)
        let warm = try XCTUnwrap(ProcessMemory.residentMiB(worker.pid))
        for _ in 0..<4 { try round(500) }
        XCTAssertTrue(eventually { (try? worker.call("ping", id: "p"))?["result"]?["in_flight"] == 0 })
        let after = try XCTUnwrap(ProcessMemory.residentMiB(worker.pid))
        print("soak: RSS \(warm) MiB after 500 requests, \(after) MiB after 2,500")
        XCTAssertLessThan(after, warm + 24, "memory grows with the number of requests served")
    }
}
