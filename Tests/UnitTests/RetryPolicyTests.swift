import XCTest
@testable import LLMWorker

/// The retry decision table: what is retried, when, and with how much time left.
final class RetryPolicyTests: XCTestCase {
    private let policy = RetryPolicy(RetrySettings(maxRetries: 2, maxRetryWait: 10),
                                     timeouts: Timeouts(connect: 10, firstToken: 30, idle: 30, total: 60))

    private func decide(_ error: ProviderError, _ origin: FailureOrigin = .server, attempt: Int = 1, started: Bool = false,
                        resent: Bool = false, elapsed: Double = 0) -> RetryPolicy.Decision {
        policy.decide(error.withOrigin(origin), attempt: attempt, answerStarted: started, alreadyResent: resent, elapsedSeconds: elapsed)
    }

    private func status(_ code: Int, retryAfter: Double? = nil) -> ProviderError {
        ProviderError(.upstreamError, "status \(code)", status: code, retryable: true, retryAfterSeconds: retryAfter)
    }

    private let connectionLost = ProviderError(.connection, "lost")

    private func assertRetries(_ decision: RetryPolicy.Decision, within range: ClosedRange<Double>, file: StaticString = #filePath, line: UInt = #line) {
        guard case .retry(let wait) = decision else { return XCTFail("expected a retry, got \(decision)", file: file, line: line) }
        XCTAssertTrue(range.contains(wait), "wait \(wait) outside \(range)", file: file, line: line)
    }

    func testRetryableStatusesAreRetriedWithBackoff() {
        for code in [408, 409, 429, 500, 502, 503, 504] {
            assertRetries(decide(status(code)), within: 0.375...0.5)
            assertRetries(decide(status(code), attempt: 2), within: 0.75...1.0)
        }
    }

    func testOtherStatusesFailAndReportTheirAttempts() {
        for code in [400, 401, 403, 404, 422] {
            XCTAssertEqual(decide(status(code)), .fail(reportingAttempts: nil))
            XCTAssertEqual(decide(status(code), attempt: 2), .fail(reportingAttempts: 2))
        }
    }

    func testAFailureMarkedNotRetryableIsNotRetriedWhateverItsStatus() {
        let failure = ProviderError(.upstreamError, "no", status: 503, retryable: false)
        XCTAssertEqual(decide(failure), .fail(reportingAttempts: nil))
    }

    func testRetryAfterIsHonouredUpToTheLongestWait() {
        XCTAssertEqual(decide(status(429, retryAfter: 3)), .retry(afterSeconds: 3))
        XCTAssertEqual(decide(status(429, retryAfter: -1)), .retry(afterSeconds: 0))
        XCTAssertEqual(decide(status(429, retryAfter: 11)), .fail(reportingAttempts: nil))
    }

    func testTheRetryBudgetIsSpentAfterMaxRetries() {
        assertRetries(decide(status(503), attempt: 2), within: 0...1)
        XCTAssertEqual(decide(status(503), attempt: 3), .fail(reportingAttempts: 3))
        XCTAssertEqual(decide(connectionLost, .connection, attempt: 3), .fail(reportingAttempts: 3))
    }

    func testConnectionFailuresAreRetriedWithoutAStatus() {
        assertRetries(decide(connectionLost, .connection), within: 0.375...0.5)
        XCTAssertEqual(decide(ProviderError(.timeout, "idle"), .server), .fail(reportingAttempts: nil))
    }

    func testNothingIsRetriedOnceTheAnswerHasStarted() {
        XCTAssertEqual(decide(status(503), started: true), .fail(reportingAttempts: nil))
        XCTAssertEqual(decide(connectionLost, .connection, attempt: 2, started: true), .fail(reportingAttempts: 2))
        XCTAssertEqual(decide(connectionLost, .unanswered, started: true), .fail(reportingAttempts: nil))
    }

    func testTheServersOwnErrorAnswerIsFinalAndReportsNoAttempts() {
        XCTAssertEqual(decide(status(503), .answer), .fail(reportingAttempts: nil))
        XCTAssertEqual(decide(status(503), .answer, attempt: 2), .fail(reportingAttempts: nil))
    }

    func testAnUnansweredRequestIsResentAtOnceOnlyOnceThenRetriedAsAConnectionFailure() {
        XCTAssertEqual(decide(connectionLost, .unanswered, attempt: 1), .resendNow)
        XCTAssertEqual(decide(connectionLost, .unanswered, attempt: 3), .resendNow)
        assertRetries(decide(connectionLost, .unanswered, resent: true), within: 0.375...0.5)
        XCTAssertEqual(decide(connectionLost, .unanswered, attempt: 3, resent: true), .fail(reportingAttempts: 3))
    }

    func testNoRetryWaitsPastTheRequestsTimeBudget() {
        XCTAssertEqual(decide(status(429, retryAfter: 5), elapsed: 54.9), .retry(afterSeconds: 5))
        XCTAssertEqual(decide(status(429, retryAfter: 5), elapsed: 55), .fail(reportingAttempts: nil))
        XCTAssertEqual(decide(status(503), attempt: 2, elapsed: 59.5), .fail(reportingAttempts: 2))
    }

    func testEachAttemptGetsWhatIsLeftOfTheBudget() {
        XCTAssertEqual(policy.timeouts(elapsedSeconds: 15).total, 45)
        XCTAssertEqual(policy.timeouts(elapsedSeconds: 15).connect, 10)
        XCTAssertEqual(policy.timeouts(elapsedSeconds: 75).total, 0.001)
    }
}
