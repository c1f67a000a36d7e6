import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport

final class RedactorTests: XCTestCase {
    func testRegisteredSecretsAreReplacedEverywhere() {
        let redactor = Redactor()
        redactor.register("my-secret-key-123")
        redactor.register("other-secret-456")
        XCTAssertEqual(redactor.scrub("a my-secret-key-123 b my-secret-key-123 c other-secret-456"),
                       "a [redacted] b [redacted] c [redacted]")
        XCTAssertEqual(redactor.scrub("nothing to hide"), "nothing to hide")
    }

    func testShortOrMissingSecretsAreNotRegistered() {
        let redactor = Redactor()
        redactor.register("short")
        redactor.register(nil)
        redactor.register("")
        XCTAssertEqual(redactor.scrub("a short word"), "a short word", "a short 'secret' would redact ordinary words")
    }

    func testKeyShapedTextIsRedactedEvenUnregistered() {
        let redactor = Redactor()
        XCTAssertEqual(redactor.scrub("Authorization: Bearer abc.DEF-123_456"), "Authorization: Bearer [redacted]")
        XCTAssertEqual(redactor.scrub("authorization: bearer tok_abcdef"), "authorization: bearer [redacted]")
        XCTAssertEqual(redactor.scrub("key sk-or-v1-0123456789abcdef end"), "key [redacted] end")
        XCTAssertEqual(redactor.scrub("sk-short"), "sk-short", "too short to be a key")
        XCTAssertEqual(redactor.scrub("Bearer x"), "Bearer x")
    }

    func testConcurrentUse() {
        let redactor = Redactor()
        DispatchQueue.concurrentPerform(iterations: 200) { index in
            let secret = "secret-number-\(index)"
            redactor.register(secret)
            XCTAssertFalse(redactor.scrub("value \(secret) here").contains(secret))
        }
    }
}
