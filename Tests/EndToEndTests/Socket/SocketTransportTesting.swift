import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
@testable import LLMWorkerTestSupport
@testable import LLMWorker

/// A whole response read through a transport.
struct FetchedResponse {
    let head: TransportResponseHead
    let body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

extension HTTPTransport {
    /// Starts `request` and reads its head and whole body.
    func fetch(_ request: URLRequest) async throws -> FetchedResponse {
        let exchange = start(request)
        let head = try await exchange.responseHead()
        var body: [UInt8] = []
        while try await exchange.readBody({ body.append(contentsOf: $0) }) {}
        return FetchedResponse(head: head, body: body)
    }

    func fetch(_ url: URL) async throws -> FetchedResponse {
        try await fetch(URLRequest(url: url))
    }

    /// The transport error `request` fails with; a test failure if it succeeds or fails otherwise.
    func failure(of request: URLRequest, file: StaticString = #filePath, line: UInt = #line) async -> TransportError? {
        do {
            let response = try await fetch(request)
            XCTFail("expected a failure, got \(response.head.status) \(response.text.prefix(200))", file: file, line: line)
        } catch let error as TransportError {
            return error
        } catch {
            XCTFail("expected a TransportError, got \(error)", file: file, line: line)
        }
        return nil
    }

    func failure(of url: URL, file: StaticString = #filePath, line: UInt = #line) async -> TransportError? {
        await failure(of: URLRequest(url: url), file: file, line: line)
    }
}

/// Waits, without a fixed time limit that a busy machine could miss, for `condition` to hold (checking every
/// few milliseconds, giving up after `patience` seconds so that a broken test ends).
func eventuallyAsync(patience: TimeInterval = 20, _ condition: () async -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(patience)
    while Date() < deadline {
        if await condition() { return true }
        try? await Task.sleep(nanoseconds: 5_000_000)
    }
    return await condition()
}

/// Tests of the socket transport against the scriptable mock server: a server and a transport of their own for
/// each test, both stopped after it.
class SocketTransportAgainstMockServerTestCase: XCTestCase {
    var server: MockHTTPServer!
    var transport: SocketTransport!

    override func setUpWithError() throws {
        server = try MockHTTPServer()
        transport = SocketTransport()
    }

    override func tearDown() {
        transport.shutdown()
        server.stop()
        transport = nil
        server = nil
    }
}
