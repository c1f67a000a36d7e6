import XCTest
@testable import LLMWorkerTestSupport

/// The command line: --help and --version print and exit 0, bad flags exit 2 with the reason on stderr, and
/// --provider/--model/--base-url configure the worker before the first line is read.
final class CommandLineTests: XCTestCase {
    private func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let worker = try startWorker(arguments)
        let status = try worker.waitForExit()
        try worker.waitForStdoutEnd()
        return (status, String(decoding: worker.stdout, as: UTF8.self), worker.stderr)
    }

    func testHelpPrintsUsageAndExitsZero() throws {
        for flag in ["--help", "-h"] {
            let (status, out, _) = try run([flag])
            XCTAssertEqual(status, 0)
            XCTAssertTrue(out.contains("Usage: caal-llm-worker"), out)
            for option in ["--provider", "--model", "--base-url", "--log-level", "--shutdown-grace", "--max-line-bytes", "--version"] {
                XCTAssertTrue(out.contains(option), "--help does not mention \(option)")
            }
        }
    }

    func testVersionMatchesPing() throws {
        let (status, out, _) = try run(["--version"])
        XCTAssertEqual(status, 0)
        let worker = try startWorker()
        let version = assertResult(try worker.call("ping"), id: 1)["version"]?.string ?? "?"
        XCTAssertTrue(out.hasPrefix("caal-llm-worker \(version)"), "--version says \(out), ping says \(version)")
    }

    func testBadCommandLinesExitTwoWithTheReasonOnStderr() throws {
        let cases: [([String], String)] = [
            (["--bogus"], "--bogus"), (["extra"], "extra"), (["--provider"], "--provider"), (["--provider", "nope"], "nope"),
            (["--model"], "--model"), (["--base-url", "file:///tmp/x"], "--base-url"), (["--log-level", "loud"], "--log-level"),
            (["--shutdown-grace", "-1"], "--shutdown-grace"), (["--shutdown-grace", "soon"], "--shutdown-grace"),
            (["--max-line-bytes", "10"], "--max-line-bytes"), (["--max-line-bytes", "big"], "--max-line-bytes"),
        ]
        for (arguments, mention) in cases {
            let (status, out, err) = try run(arguments)
            XCTAssertEqual(status, 2, "\(arguments)")
            XCTAssertEqual(out, "", "nothing on stdout for \(arguments)")
            XCTAssertTrue(err.contains(mention), "stderr for \(arguments) does not mention \(mention): \(err)")
        }
    }

    func testProviderFlagConfiguresTheMock() throws {
        let worker = try startWorker(["--provider", "mock"])
        XCTAssertEqual(assertResult(try worker.call("chat", RPC.chatParams("no configure")), id: 1)["content"], "You said: no configure")
        let report = assertResult(try worker.call("configure", [:], id: 2), id: 2)
        XCTAssertEqual(report["provider"], "mock")
        XCTAssertEqual(report["model"], "mock-1")
    }

    func testProviderModelAndBaseURLFlags() throws {
        let worker = try startWorker(["--provider=openai_compatible", "--model", "local-model", "--base-url", "http://127.0.0.1:9/v1/"])
        let report = assertResult(try worker.call("configure", [:]), id: 1)
        XCTAssertEqual(report["provider"], "openai_compatible")
        XCTAssertEqual(report["model"], "local-model")
        XCTAssertEqual(report["base_url"], "http://127.0.0.1:9/v1")
    }

    func testLogLevels() throws {
        let quiet = try startWorker(["--log-level", "error", "--provider", "mock"])
        assertResult(try quiet.call("chat", RPC.chatParams()), id: 1)
        XCTAssertEqual(try quiet.finish(), 0)
        XCTAssertEqual(quiet.stderr, "", "nothing to report at level error")
        let chatty = try startWorker(["--log-level", "debug"])
        XCTAssertEqual(try chatty.finish(), 0)
        XCTAssertTrue(chatty.stderr.contains("caal-llm-worker info:"), chatty.stderr)
        XCTAssertEqual(chatty.stdout, [], "logs never go to stdout")
    }
}
