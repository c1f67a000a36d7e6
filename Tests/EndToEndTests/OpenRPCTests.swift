import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport

/// protocol/openrpc.json is the OpenRPC description of the protocol: it parses, `rpc.discover` serves exactly it,
/// and its methods are exactly the methods the worker serves.
final class OpenRPCTests: XCTestCase {
    /// The methods the worker serves: its registry.
    static let served = Set(InProcessWorker.dispatcher.methodNames)

    private func documentOnDisk() throws -> JSON {
        let url = PackagePaths.file("protocol/openrpc.json")
        let data = try Data(contentsOf: url)
        return try JSON.parse(Array(data))
    }

    private func methodNames(_ document: JSON) -> [String] {
        (document["methods"]?.array ?? []).compactMap { $0["name"]?.string }
    }

    func testTheDocumentParsesAndDescribesEveryMethod() throws {
        let document = try documentOnDisk()
        XCTAssertEqual(document["openrpc"]?.string?.hasPrefix("1."), true, "an OpenRPC 1.x document")
        XCTAssertNotNil(document["info"]?["title"]?.string)
        XCTAssertNotNil(document["info"]?["version"]?.string)
        let names = methodNames(document)
        XCTAssertEqual(names.count, Set(names).count, "a method is described twice: \(names)")
        XCTAssertEqual(Set(names), Self.served)
        for method in document["methods"]?.array ?? [] {
            XCTAssertNotNil(method["params"]?.array, "\(method["name"] ?? "?") has no params array")
            XCTAssertNotNil(method["result"]?["name"], "\(method["name"] ?? "?") has no result")
        }
    }

    func testTheEmbeddedCopyEqualsTheFile() throws {
        let embedded = try JSON.parse(OpenRPCDocument.text)
        XCTAssertTrue(embedded == (try documentOnDisk()), """
            Sources/LLMWorker/RPC/OpenRPCDocument+Text.swift differs from protocol/openrpc.json: \
            run `python3 protocol/tools/embed-openrpc.py` and commit the result.
            """)
    }

    func testTheDispatcherServesExactlyTheDescribedMethods() throws {
        XCTAssertEqual(Self.served, Set(methodNames(try documentOnDisk())))
    }

    func testRPCDiscoverServesTheDocument() throws {
        let worker = try startWorker()
        let result = assertResult(try worker.call("rpc.discover"), id: 1)
        XCTAssertTrue(result == (try documentOnDisk()), "rpc.discover does not serve protocol/openrpc.json")
        XCTAssertEqual(Set(methodNames(result)), Self.served)
    }

    /// Every described method is served by the binary (none answers -32601).
    func testEveryDescribedMethodIsAnswered() throws {
        let worker = try startMockWorker()
        for name in methodNames(try documentOnDisk()) where name != "shutdown" {
            try worker.send(RPC.request(name, ["id": "x", "messages": RPC.userMessages("hi")], id: .string(name)))
            let (reply, _) = try worker.readUntilResponse(id: .string(name))
            XCTAssertNotEqual(reply["error"]?["code"], -32601, "\(name): \(reply)")
        }
        XCTAssertEqual(assertResult(try worker.call("shutdown", id: "shutdown"), id: "shutdown"), ["ok": true])
        XCTAssertEqual(try worker.waitForExit(), 0)
    }
}
