import XCTest
@testable import LLMWorkerTestSupport

/// `transport` in `configure` (PROTOCOL 9.2): what each setting picks for which base_url, what the result and the
/// debug log say, what is refused, and the environment's default. Each test sets the worker's default itself, so it
/// means the same under either run of the suite.
final class TransportSelectionTests: XCTestCase {
    private let auto = [TestTransport.variable: "auto"]

    private func configure(_ worker: WorkerProcess, _ params: JSON, id: JSON = "c",
                           file: StaticString = #filePath, line: UInt = #line) throws -> JSON {
        assertResult(try worker.call("configure", params, id: id), id: id, file: file, line: line)
    }

    func testAutoPicksTheSocketClientForPlainHTTPAndURLSessionForHTTPS() throws {
        let worker = try startWorker(environment: auto)
        let local = try configure(worker, ["provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1"])
        XCTAssertEqual(local["transport"], "auto")
        XCTAssertEqual(local["effective_transport"], "socket")
        let tls = try configure(worker, ["base_url": "https://127.0.0.1:9/v1"])
        XCTAssertEqual(tls["effective_transport"], "urlsession")
        let mock = try configure(worker, ["provider": "mock"])
        XCTAssertEqual(mock["effective_transport"], JSON.null)
    }

    func testEachSettingAndNullPutsItBack() throws {
        let worker = try startWorker(environment: auto)
        let base: JSON = "http://127.0.0.1:9/v1"
        XCTAssertEqual(try configure(worker, ["provider": "openai_compatible", "base_url": base, "transport": "urlsession"])["effective_transport"], "urlsession")
        XCTAssertEqual(try configure(worker, ["transport": "socket"])["effective_transport"], "socket")
        let reset = try configure(worker, ["transport": nil])
        XCTAssertEqual(reset["transport"], "auto")
        XCTAssertEqual(reset["effective_transport"], "socket")
    }

    func testSocketIsRefusedWhereItCannotGoAndNothingChanges() throws {
        let worker = try startWorker(environment: auto)
        _ = try configure(worker, ["provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1"])
        let refused = try worker.call("configure", ["base_url": "https://127.0.0.1:9/v1", "transport": "socket"], id: 1)
        assertInvalidParams(refused, id: 1, field: "transport")
        XCTAssertTrue(refused["error"]?["message"]?.string?.contains("'auto' or 'urlsession'") == true, "\(refused)")
        let unchanged = try configure(worker, [:])
        XCTAssertEqual(unchanged["base_url"], "http://127.0.0.1:9/v1")
        XCTAssertEqual(unchanged["transport"], "auto")
    }

    func testAnUnknownTransportNamesTheFieldAndTheChoices() throws {
        let worker = try startWorker(environment: auto)
        let reply = try worker.call("configure", ["provider": "openai_compatible", "transport": "curl"], id: 1)
        assertInvalidParams(reply, id: 1, field: "transport")
        let message = reply["error"]?["message"]?.string ?? ""
        for choice in ["'curl'", "'auto'", "'urlsession'", "'socket'"] { XCTAssertTrue(message.contains(choice), message) }
    }

    /// libcurl's proxy rules decide: with `http_proxy` set, `auto` keeps URLSession (which speaks to proxies), an
    /// explicit `socket` is refused without repeating the proxy's address, and `no_proxy` lets the socket client go.
    func testAProxyKeepsURLSessionUnlessNoProxyExemptsTheHost() throws {
        let proxy = "http://user:secret@127.0.0.1:9"
        let proxied = try startWorker(environment: auto.merging(["http_proxy": proxy]) { $1 })
        let report = try configure(proxied, ["provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1"])
        XCTAssertEqual(report["effective_transport"], "urlsession")
        let refused = try proxied.call("configure", ["transport": "socket"], id: 1)
        assertInvalidParams(refused, id: 1, field: "transport")
        XCTAssertTrue(refused["error"]?["message"]?.string?.contains("no_proxy") == true, "\(refused)")
        XCTAssertFalse(refused.text.contains("secret"), "the proxy's credentials are not repeated: \(refused)")

        let exempt = try startWorker(environment: auto.merging(["http_proxy": proxy, "no_proxy": "127.0.0.1"]) { $1 })
        XCTAssertEqual(try configure(exempt, ["provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1"])["effective_transport"], "socket")
    }

    /// The environment sets the default; where the socket client cannot go, that default falls back to URLSession
    /// instead of refusing the configuration.
    func testTheEnvironmentsDefaultAppliesAndFallsBackForHTTPS() throws {
        let worker = try startWorker(environment: [TestTransport.variable: "socket", "OPENROUTER_API_KEY": "k" + "ey"])
        let local = try configure(worker, ["provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1"])
        XCTAssertEqual(local["transport"], "socket")
        XCTAssertEqual(local["effective_transport"], "socket")
        let cloud = try configure(worker, ["provider": "openrouter"])
        XCTAssertEqual(cloud["transport"], "socket")
        XCTAssertEqual(cloud["effective_transport"], "urlsession")

        let urlsession = try startWorker(environment: [TestTransport.variable: "urlsession"])
        XCTAssertEqual(try configure(urlsession, ["provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1"])["effective_transport"], "urlsession")
    }

    func testAnEnvironmentValueThatIsNoTransportIsSaidAndIgnored() throws {
        let worker = try startWorker(environment: [TestTransport.variable: "curl"])
        XCTAssertEqual(try configure(worker, ["provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1"])["transport"], "auto")
        XCTAssertEqual(worker.stderrLines(containing: "\(TestTransport.variable)='curl' is not a transport", waitingFor: 1).count, 1,
                       worker.stderr)
    }

    /// Both clients carry the same request to the same server, and the debug log names the one each attempt used.
    func testEitherTransportCarriesARequestAndTheLogSaysWhich() throws {
        for transport in ["socket", "urlsession"] {
            let server = try MockHTTPServer()
            server.enqueue(Wire.completion("Sunny."), path: Wire.path)
            let worker = try startHTTPWorker(server, settings: ["transport": .string(transport)], arguments: ["--log-level", "debug"])
            XCTAssertEqual(assertResult(try worker.call("chat", RPC.chatParams("Weather?"), id: 1), id: 1)["content"], "Sunny.", transport)
            XCTAssertEqual(worker.stderrLines(containing: "(whole answer, \(transport))", waitingFor: 1).count, 1, worker.stderr)
            XCTAssertEqual(worker.stderrLines(containing: "transport \(transport) (\(transport))", waitingFor: 1).count, 1, worker.stderr)
        }
    }
}
