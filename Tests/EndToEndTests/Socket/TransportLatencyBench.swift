import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
@testable import LLMWorkerTestSupport
@testable import LLMWorker

/// A measurement, not a test (it asserts nothing about time): the socket transport against URLSession
/// (`HTTPClient` through `URLSessionTransport`) on a loopback server, warm keep-alive connections, the two
/// alternating and in both orders. Skipped unless LLMWORKER_TRANSPORT_BENCH is set; build it optimised:
///
///     swift build -c release --build-tests -Xswiftc -enable-testing
///     LLMWORKER_TRANSPORT_BENCH=1 swift test -c release --skip-build -Xswiftc -enable-testing --filter TransportLatencyBench
///
/// Prints, per transport, the median and 90th percentile of: request start → response head; request start →
/// first body byte; request start → the whole of a 2,000-event chunked stream written at once.
final class TransportLatencyBench: XCTestCase {
    private static let rounds = Int(ProcessInfo.processInfo.environment["LLMWORKER_TRANSPORT_BENCH_ROUNDS"] ?? "") ?? 600
    private static let warmUp = 50

    func testTimeToHeadAndFirstByte() async throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["LLMWORKER_TRANSPORT_BENCH"] != nil, "set LLMWORKER_TRANSPORT_BENCH=1 to measure")
        let (wire, body) = Self.stream(events: 2000)
        guard let server = RawTCPServer(handler: { Self.serve($0, stream: wire) }) else { throw XCTSkip("no loopback listener") }
        defer { server.stop() }
        let socket = SocketTransport()
        defer { socket.shutdown() }
        let session = URLSessionTransport(client: HTTPClient())
        let transports: [(String, any HTTPTransport)] = [("socket", socket), ("URLSession", session)]
        var samples: [String: [String: [Double]]] = [:]
        for round in 0..<(Self.warmUp + Self.rounds) {
            let order = round % 2 == 0 ? transports : transports.reversed()
            for (name, transport) in order {
                let first = try await Self.measureFirstBytes(transport, server.url("/first"))
                let stream = try await Self.measureStream(transport, server.url("/stream"), expected: body.count)
                guard round >= Self.warmUp else { continue }
                samples[name, default: [:]]["head", default: []].append(first.head)
                samples[name, default: [:]]["first byte", default: []].append(first.firstByte)
                samples[name, default: [:]]["2,000 events", default: []].append(stream)
            }
        }
        print("transport latency, loopback, warm connections, \(Self.rounds) rounds alternating (ms):")
        for metric in ["head", "first byte", "2,000 events"] {
            let socketSamples = samples["socket"]![metric]!
            let sessionSamples = samples["URLSession"]![metric]!
            let (socketMedian, sessionMedian) = (Self.percentile(socketSamples, 0.5), Self.percentile(sessionSamples, 0.5))
            print(String(format: "  %-13@ socket median %.3f p90 %.3f | URLSession median %.3f p90 %.3f | socket/URLSession %.2f",
                         metric as NSString, socketMedian, Self.percentile(socketSamples, 0.9), sessionMedian,
                         Self.percentile(sessionSamples, 0.9), socketMedian / sessionMedian))
        }
    }

    private static func measureFirstBytes(_ transport: any HTTPTransport, _ url: URL) async throws -> (head: Double, firstByte: Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let exchange = transport.start(request(url))
        _ = try await exchange.responseHead()
        let head = DispatchTime.now().uptimeNanoseconds
        _ = try await exchange.readBody { _ in }
        let first = DispatchTime.now().uptimeNanoseconds
        while try await exchange.readBody({ _ in }) {}
        return (Double(head - start) / 1e6, Double(first - start) / 1e6)
    }

    private static func measureStream(_ transport: any HTTPTransport, _ url: URL, expected: Int) async throws -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        let exchange = transport.start(request(url))
        _ = try await exchange.responseHead()
        var count = 0
        while try await exchange.readBody({ count += $0.count }) {}
        precondition(count == expected, "read \(count) of \(expected) bytes")
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }

    /// A chat-completion-sized POST, as the worker sends.
    private static func request(_ url: URL) -> URLRequest {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(#"{"model":"m","stream":true,"messages":[{"role":"user","content":"Tell me a story."}]}"#.utf8)
        return request
    }

    /// SSE events in the OpenAI wire shape, each its own chunk, then the last chunk: the bytes on the wire, and
    /// the body they carry.
    private static func stream(events: Int) -> (wire: [UInt8], body: [UInt8]) {
        var wire = ""
        var body = ""
        for index in 0..<events {
            let event = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"w\(index) \"}}]}\n\n"
            wire += String(event.utf8.count, radix: 16) + "\r\n" + event + "\r\n"
            body += event
        }
        return (Array((wire + "0\r\n\r\n").utf8), Array(body.utf8))
    }

    /// Keep-alive: each request gets its head, then (a separate write) the first event, or the whole stream.
    private static func serve(_ connection: RawTCPServer.Connection, stream: [UInt8]) {
        while let head = connection.readHead() {
            let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            connection.drain(length)
            connection.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            if head.hasPrefix("POST /stream ") {
                connection.write(stream)
            } else {
                let event = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
                connection.write(String(event.utf8.count, radix: 16) + "\r\n" + event + "\r\n")
                connection.write("0\r\n\r\n")
            }
        }
    }

    private static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * fraction))]
    }
}
