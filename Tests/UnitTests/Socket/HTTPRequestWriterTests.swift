import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
@testable import LLMWorkerTestSupport
@testable import LLMWorker

/// The exact bytes of requests written for the socket transport.
final class HTTPRequestWriterTests: XCTestCase {
    private func text(_ request: URLRequest) throws -> String {
        String(decoding: try HTTPRequestWriter.prepare(request).bytes, as: UTF8.self)
    }

    func testGetRequest() throws {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:11434/v1/models?supported_parameters=tools")!)
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        XCTAssertEqual(try text(request),
                       "GET /v1/models?supported_parameters=tools HTTP/1.1\r\nHost: 127.0.0.1:11434\r\nAccept: application/json\r\nAccept-Encoding: identity\r\n\r\n")
        let prepared = try HTTPRequestWriter.prepare(request)
        XCTAssertEqual(prepared.endpoint, HTTPEndpoint(host: "127.0.0.1", port: 11434))
        XCTAssertTrue(prepared.expectsResponseBody)
    }

    func testPostWithBody() throws {
        var request = URLRequest(url: URL(string: "http://localhost:8080/v1/chat/completions")!)
        request.httpMethod = "POST"
        request.httpBody = Data("{}".utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("999", forHTTPHeaderField: "Content-Length")
        request.setValue("chunked", forHTTPHeaderField: "Transfer-Encoding")
        request.setValue("gzip", forHTTPHeaderField: "Accept-Encoding")
        XCTAssertEqual(try text(request),
                       "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost:8080\r\nContent-Type: application/json\r\nContent-Length: 2\r\nAccept-Encoding: identity\r\n\r\n{}")
    }

    func testPostWithoutBodyStillSaysItsLength() throws {
        var request = URLRequest(url: URL(string: "http://h/x")!)
        request.httpMethod = "POST"
        XCTAssertTrue(try text(request).contains("\r\nContent-Length: 0\r\n"))
    }

    func testHostField() throws {
        XCTAssertTrue(try text(URLRequest(url: URL(string: "http://example.test/")!)).contains("\r\nHost: example.test\r\n"))
        XCTAssertTrue(try text(URLRequest(url: URL(string: "http://example.test:80/")!)).contains("\r\nHost: example.test\r\n"))
        let v6 = try HTTPRequestWriter.prepare(URLRequest(url: URL(string: "http://[::1]:8000/v1")!))
        XCTAssertEqual(v6.endpoint, HTTPEndpoint(host: "::1", port: 8000))
        XCTAssertTrue(String(decoding: v6.bytes, as: UTF8.self).contains("\r\nHost: [::1]:8000\r\n"))
        XCTAssertTrue(try text(URLRequest(url: URL(string: "http://h")!)).hasPrefix("GET / HTTP/1.1\r\n"))
    }

    func testHeadRequestExpectsNoBody() throws {
        var request = URLRequest(url: URL(string: "http://h/")!)
        request.httpMethod = "HEAD"
        XCTAssertFalse(try HTTPRequestWriter.prepare(request).expectsResponseBody)
    }

    func testALineBreakInAHeaderValueNeverReachesTheWire() throws {
        var injected = URLRequest(url: URL(string: "http://h/")!)
        injected.setValue("a\r\nX-Evil: 1", forHTTPHeaderField: "X-Test")
        XCTAssertFalse(try text(injected).contains("X-Evil"))
    }

    func testRequestsItCannotCarry() {
        func kind(_ request: URLRequest) -> TransportError.Kind? {
            do {
                _ = try HTTPRequestWriter.prepare(request)
                return nil
            } catch {
                return error.kind
            }
        }
        XCTAssertEqual(kind(URLRequest(url: URL(string: "https://h/")!)), .invalidRequest)
        XCTAssertEqual(kind(URLRequest(url: URL(string: "http://user:pw@h/")!)), .invalidRequest)
        var badMethod = URLRequest(url: URL(string: "http://h/")!)
        badMethod.httpMethod = "GET /x"
        XCTAssertEqual(kind(badMethod), .invalidRequest)
        var stream = URLRequest(url: URL(string: "http://h/")!)
        stream.httpBodyStream = InputStream(data: Data("x".utf8))
        XCTAssertEqual(kind(stream), .invalidRequest)
    }
}
