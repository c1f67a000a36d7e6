import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import LLMWorkerTestSupport
@testable import LLMWorker

/// The small pieces under the socket transport: the check before reusing an idle connection, the resolver, the
/// event loop's timers and posted work.
final class SocketPiecesTests: XCTestCase {
    private func socketPair() -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        return (fds[0], fds[1])
    }

    func testAnIdleConnectionIsReusableOnlyWhileQuietAndOpen() {
        let (quiet, peer) = socketPair()
        XCTAssertTrue(SocketIO.isQuietAndOpen(quiet))
        var byte: UInt8 = 0x48
        XCTAssertEqual(write(peer, &byte, 1), 1)
        XCTAssertFalse(SocketIO.isQuietAndOpen(quiet), "bytes nobody asked for")
        close(quiet)
        close(peer)

        let (closedByPeer, other) = socketPair()
        close(other)
        XCTAssertFalse(SocketIO.isQuietAndOpen(closedByPeer), "the server closed it")
        close(closedByPeer)
    }

    func testAddressLiteralsNeedNoLookup() {
        XCTAssertEqual(HostResolver.numeric(HTTPEndpoint(host: "127.0.0.1", port: 80))?.first?.family, AF_INET)
        XCTAssertEqual(HostResolver.numeric(HTTPEndpoint(host: "::1", port: 80))?.first?.family, AF_INET6)
        XCTAssertNil(HostResolver.numeric(HTTPEndpoint(host: "localhost", port: 80)))
    }

    func testTheResolverAnswersOnceEvenWhenTheLookupIsLate() {
        let release = DispatchSemaphore(value: 0)
        let resolver = HostResolver(timeout: 0.05) { _, _ in
            release.wait()
            return .success(HostResolver.numeric(HTTPEndpoint(host: "127.0.0.1", port: 1)) ?? [])
        }
        let answers = Counter()
        let done = expectation(description: "answered")
        resolver.resolve(HTTPEndpoint(host: "slow.test", port: 1)) { result in
            answers.increment()
            if case .failure(let error) = result { XCTAssertEqual(error.kind, .cannotResolve) } else { XCTFail("expected the timeout") }
            done.fulfill()
        }
        wait(for: [done], timeout: 20)
        release.signal()
        let late = expectation(description: "the late lookup is ignored")
        late.isInverted = true
        wait(for: [late], timeout: 0.1)
        XCTAssertEqual(answers.value, 1)
    }

    func testTheEventLoopRunsPostedWorkInOrderAndFiresTimers() {
        final class Root: EventLoopRoot {
            let context: LoopContext
            var log: [String] = []
            init(context: LoopContext) { self.context = context }
            func loopWillStop() {}
        }
        let loop = EventLoop<Root>(name: "test-loop") { context, _ in Root(context: context) }
        let finished = expectation(description: "timer fired")
        let order = Counter()
        loop.execute { root in
            root.log.append("first")
            root.context.schedule(after: 0.02) {
                root.log.append("timer")
                XCTAssertEqual(root.log, ["first", "second", "timer"])
                finished.fulfill()
            }
            let cancelled = root.context.schedule(after: 0.01) { XCTFail("a cancelled timer fired") }
            root.context.cancel(cancelled)
        }
        loop.execute { root in
            root.log.append("second")
            order.increment()
        }
        wait(for: [finished], timeout: 20)
        loop.stopAndWait()
        loop.execute { _ in XCTFail("work posted after the stop runs") }
        XCTAssertEqual(order.value, 1)
    }
}
