import Foundation
import XCTest
@testable import LLMWorkerTestSupport
@testable import LLMWorker

/// Which requests go through a proxy, by libcurl's rules (what URLSession on Linux follows).
final class ProxyEnvironmentTests: XCTestCase {
    private let local = URL(string: "http://192.168.1.20:11434/v1")!

    private func proxy(_ url: URL, _ variables: [String: String]) -> String? {
        ProxyEnvironment(variables).proxy(for: url)
    }

    func testNoVariablesMeansDirect() {
        XCTAssertNil(proxy(local, [:]))
        XCTAssertTrue(SocketTransport.carries(local, proxies: ProxyEnvironment([:])))
        XCTAssertFalse(SocketTransport.carries(URL(string: "https://openrouter.ai/api/v1")!, proxies: ProxyEnvironment([:])))
    }

    func testHttpProxyIsReadInLowerCaseOnly() {
        XCTAssertEqual(proxy(local, ["http_proxy": "http://proxy:3128"]), "http://proxy:3128")
        XCTAssertNil(proxy(local, ["HTTP_PROXY": "http://proxy:3128"]), "libcurl never reads HTTP_PROXY")
        XCTAssertFalse(SocketTransport.carries(local, proxies: ProxyEnvironment(["http_proxy": "http://proxy:3128"])))
    }

    func testAllProxyIsTheFallback() {
        XCTAssertEqual(proxy(local, ["all_proxy": "socks5://p:1080"]), "socks5://p:1080")
        XCTAssertEqual(proxy(local, ["ALL_PROXY": "socks5://p:1080"]), "socks5://p:1080")
        XCTAssertEqual(proxy(local, ["http_proxy": "http://a:1", "all_proxy": "http://b:2"]), "http://a:1")
        XCTAssertNil(proxy(local, ["http_proxy": "", "all_proxy": "http://b:2"]), "an empty http_proxy means no proxy")
    }

    func testHttpsProxyIsReadInBothCasesForHttps() {
        let remote = URL(string: "https://openrouter.ai/api/v1")!
        XCTAssertEqual(proxy(remote, ["HTTPS_PROXY": "http://p:1"]), "http://p:1")
        XCTAssertEqual(proxy(remote, ["https_proxy": "http://low:1", "HTTPS_PROXY": "http://up:1"]), "http://low:1")
        XCTAssertNil(proxy(local, ["https_proxy": "http://p:1"]), "an https proxy is not an http one")
    }

    func testNoProxyNames() {
        let variables = ["http_proxy": "http://p:1", "no_proxy": " .internal, localhost ,Example.COM."]
        XCTAssertNil(proxy(URL(string: "http://localhost:8080/")!, variables))
        XCTAssertNil(proxy(URL(string: "http://gpu.internal/")!, variables))
        XCTAssertNil(proxy(URL(string: "http://internal/")!, variables))
        XCTAssertNil(proxy(URL(string: "http://api.example.com/")!, variables))
        XCTAssertNil(proxy(URL(string: "http://example.com./")!, variables))
        XCTAssertNotNil(proxy(URL(string: "http://notexample.com/")!, variables))
        XCTAssertNotNil(proxy(URL(string: "http://localhost.evil/")!, variables))
        XCTAssertNil(proxy(local, ["http_proxy": "http://p:1", "no_proxy": "*"]))
        XCTAssertNotNil(proxy(local, ["http_proxy": "http://p:1", "no_proxy": "*, other"]), "only a lone * matches everything")
        XCTAssertNil(proxy(local, ["http_proxy": "http://p:1", "NO_PROXY": "192.168.1.20"]))
        XCTAssertNotNil(proxy(local, ["http_proxy": "http://p:1", "no_proxy": "", "NO_PROXY": "192.168.1.20"]), "no_proxy wins over NO_PROXY")
    }

    func testNoProxyAddressesAndRanges() {
        func bypasses(_ host: String, _ list: String) -> Bool { ProxyEnvironment.bypasses(host, list) }
        XCTAssertTrue(bypasses("192.168.1.20", "192.168.0.0/16"))
        XCTAssertFalse(bypasses("192.169.1.20", "192.168.0.0/16"))
        XCTAssertTrue(bypasses("10.1.2.3", "10.0.0.0/8,127.0.0.1"))
        XCTAssertTrue(bypasses("127.0.0.1", "10.0.0.0/8,127.0.0.1"))
        XCTAssertFalse(bypasses("127.0.0.2", "127.0.0.1"))
        XCTAssertTrue(bypasses("::1", "::1"))
        XCTAssertTrue(bypasses("fd00::2", "fd00::/8"))
        XCTAssertFalse(bypasses("fe80::1", "fd00::/8"))
        XCTAssertFalse(bypasses("192.168.1.20", "192.168.0.0/40"))
        XCTAssertFalse(bypasses("192.168.1.20", "192.168.1"), "an address matches addresses, not name suffixes")
        XCTAssertFalse(bypasses("a.example", "x example"), "libcurl stops at an entry followed by anything but a comma")
        XCTAssertTrue(bypasses("a.example", "x ,, example"))
    }
}
