import XCTest
@testable import LLMWorker

/// The reader's wait under back-pressure: a signal given after the ticket is taken is never lost, whether it comes
/// before the wait starts or during it.
final class ProgressSignalTests: XCTestCase {
    func testASignalBetweenTicketAndWaitEndsTheWait() {
        let signal = ProgressSignal()
        let ticket = signal.ticket()
        signal.signal()
        // Would sleep for ten minutes if the signal had been lost.
        signal.wait(ticket, timeout: 600)
    }

    func testASignalDuringTheWaitEndsIt() {
        let signal = ProgressSignal()
        let ticket = signal.ticket()
        let waited = expectation(description: "the wait ended")
        Thread {
            signal.wait(ticket, timeout: 600)
            waited.fulfill()
        }.start()
        // Signals until the waiter is gone: it may not have reached its wait when the first one is given.
        let stop = DispatchSemaphore(value: 0)
        Thread {
            while stop.wait(timeout: .now() + .milliseconds(5)) == .timedOut { signal.signal() }
        }.start()
        wait(for: [waited], timeout: 60)
        stop.signal()
    }
}
