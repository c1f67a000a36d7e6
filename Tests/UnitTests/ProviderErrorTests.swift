import XCTest
@testable import LLMWorker

/// Any failure of a provider call becomes one `ProviderError`, cancellation included.
final class ProviderErrorTests: XCTestCase {
    private struct Surprise: Error {}

    func testCancellationBecomesTheCancelledErrorNamingTheProvider() {
        let failure = ProviderError(CancellationError(), provider: .openrouter)
        XCTAssertEqual(failure.kind, .cancelled)
        XCTAssertEqual(failure.message, "Request cancelled")
        XCTAssertEqual(failure.provider, "openrouter")
        XCTAssertEqual(failure.rpcError.code, -32800)
        XCTAssertNil(ProviderError(CancellationError(), provider: nil).provider)
    }

    func testAProviderErrorKeepsTheProviderItNames() {
        let original = ProviderError(.rateLimited, "slow down", status: 429, provider: "openrouter")
        XCTAssertEqual(ProviderError(original, provider: .openaiCompatible), original)
        var unnamed = original
        unnamed.provider = nil
        XCTAssertEqual(ProviderError(unnamed, provider: .openaiCompatible).provider, "openai_compatible")
    }

    func testAnythingElseIsAnUnexpectedUpstreamError() {
        let failure = ProviderError(Surprise(), provider: .mock)
        XCTAssertEqual(failure.kind, .upstreamError)
        XCTAssertTrue(failure.message.hasPrefix("Unexpected failure: "), failure.message)
        XCTAssertEqual(failure.provider, "mock")
    }

    func testWhereAnAttemptFailedIsNeverPartOfWhatTheClientIsTold() {
        let failure = ProviderError(.connection, "lost", provider: "mock")
        XCTAssertEqual(failure.withOrigin(.unanswered).rpcError, failure.rpcError)
    }
}
