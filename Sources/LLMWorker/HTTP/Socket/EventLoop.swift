import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The state an event loop runs: made on the loop's thread, used only there, told when the loop stops.
protocol EventLoopRoot: AnyObject, SendableMetatype {
    func loopWillStop()
}

/// One thread that owns sockets. It waits in poll() for the descriptors it watches (the toolchain's Glibc module
/// has no epoll), runs work other threads post, and fires timers; nothing on it ever blocks or spins: a socket
/// that would block is left until poll() reports it ready.
///
/// Confinement is checked by the compiler: the root and the `LoopContext` are locals of the thread's function,
/// and work reaches them only as a parameter (`execute { root in … }`), never by capture.
///
/// Thread safety: what other threads post is in `posted`; the wake pipe's descriptors are set in `init` and closed
/// by the loop thread as it ends.
final class EventLoop<Root: EventLoopRoot>: Sendable {
    private struct Posted {
        var work: [@Sendable (Root) -> Void] = []
        var wakeQueued = false
        var stopping = false
    }

    private let posted = Locked(Posted())
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let ended = DispatchSemaphore(value: 0)

    init(name: String, makeRoot: @escaping @Sendable (LoopContext, EventLoop<Root>) -> Root) {
        var ends: [Int32] = [0, 0]
        precondition(pipe(&ends) == 0, "EventLoop: pipe() failed: \(Errno(errno))")
        for fd in ends {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeRead = ends[0]
        wakeWrite = ends[1]
        let thread = Thread { [self] in run(makeRoot) }
        thread.name = name
        thread.start()
    }

    /// Runs `body` on the loop thread, soon (work runs in the order posted). Dropped, returning false, once the
    /// loop is stopping.
    @discardableResult
    func execute(_ body: @escaping @Sendable (Root) -> Void) -> Bool {
        let wake = posted.withLock { posted -> Bool? in
            guard !posted.stopping else { return nil }
            posted.work.append(body)
            defer { posted.wakeQueued = true }
            return !posted.wakeQueued
        }
        guard let wake else { return false }
        if wake { signalWake() }
        return true
    }

    /// Stops the loop after the work already posted; the root is told, then the thread ends.
    func stop() {
        let wake = posted.withLock { posted in
            posted.stopping = true
            defer { posted.wakeQueued = true }
            return !posted.wakeQueued
        }
        if wake { signalWake() }
    }

    /// `stop()`, then waits for the thread to end. Never call it on the loop thread.
    func stopAndWait() {
        stop()
        ended.wait()
        ended.signal()
    }

    private func signalWake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func takeWork() -> (work: [@Sendable (Root) -> Void], stop: Bool) {
        posted.withLock { posted in
            posted.wakeQueued = false
            defer { posted.work = [] }
            return (posted.work, posted.stopping)
        }
    }

    private func drainWake() {
        var sink = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &sink, sink.count) > 0 {}
    }

    private func run(_ makeRoot: @Sendable (LoopContext, EventLoop<Root>) -> Root) {
        let context = LoopContext()
        let root = makeRoot(context, self)
        var fds: [pollfd] = []
        var polled: [LoopContext.Watch?] = []
        while true {
            if context.watchesChanged {
                let watches = context.activeWatches
                fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)] + watches.map { pollfd(fd: $0.fd, events: $0.events, revents: 0) }
                polled = [nil] + watches
                context.watchesChanged = false
            }
            let ready = poll(&fds, nfds_t(fds.count), context.pollTimeout())
            // Only a lack of kernel memory can make poll() fail here: wait a moment rather than spin.
            if ready < 0 && errno != EINTR { usleep(1000) }
            if ready > 0 && fds[0].revents != 0 { drainWake() }
            let (batch, stop) = takeWork()
            for body in batch { body(root) }
            if ready > 0 {
                for index in 1..<fds.count where fds[index].revents != 0 {
                    context.dispatch(polled[index], fds[index].revents)
                }
            }
            context.fireDueTimers()
            if stop {
                root.loopWillStop()
                break
            }
        }
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
        ended.signal()
    }
}

/// What the loop thread offers the root: watching descriptors and timers.
///
/// Thread safety: made on the loop thread and used only there, like every object the root reaches (the engine, its
/// pool, connections and connectors): none is `Sendable`, so the compiler keeps them off other threads, and debug
/// builds check it again at their entry points (`assertOnLoopThread`).
final class LoopContext {
    typealias Handler = (_ revents: Int16) -> Void

    final class Watch {
        let fd: Int32
        var events: Int16
        let handler: Handler

        init(fd: Int32, events: Int16, handler: @escaping Handler) {
            self.fd = fd
            self.events = events
            self.handler = handler
        }
    }

    struct TimerToken: Hashable {
        fileprivate let id: Int
    }

    private var watches: [Int32: Watch] = [:]
    fileprivate var watchesChanged = true
    /// Sorted by deadline (uptime ns).
    private var timers: [(deadline: UInt64, id: Int, action: () -> Void)] = []
    private var nextTimerID = 0

    #if DEBUG
    /// The loop thread, which makes the context.
    private let loopThread = pthread_self()
    #endif

    fileprivate init() {}

    /// Stops a debug build when called anywhere but on the loop thread; nothing in a release build.
    func assertOnLoopThread(file: StaticString = #fileID, line: UInt = #line) {
        #if DEBUG
        precondition(pthread_equal(loopThread, pthread_self()) != 0, "used off its event loop thread", file: file, line: line)
        #endif
    }

    static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Watches `fd` for `events` (POLLIN, POLLOUT; 0 leaves it out of poll() entirely, hang-ups included, so a
    /// paused socket cannot make the loop spin). Replaces an earlier watch of the same descriptor.
    func watch(_ fd: Int32, events: Int16, _ handler: @escaping Handler) {
        assertOnLoopThread()
        watches[fd] = Watch(fd: fd, events: events, handler: handler)
        watchesChanged = true
    }

    func setEvents(_ fd: Int32, _ events: Int16) {
        assertOnLoopThread()
        guard let watch = watches[fd], watch.events != events else { return }
        watch.events = events
        watchesChanged = true
    }

    /// Stops watching `fd`; call it before closing the descriptor.
    func unwatch(_ fd: Int32) {
        assertOnLoopThread()
        if watches.removeValue(forKey: fd) != nil { watchesChanged = true }
    }

    @discardableResult
    func schedule(after seconds: Double, _ action: @escaping () -> Void) -> TimerToken {
        assertOnLoopThread()
        nextTimerID += 1
        let deadline = Self.now + Nanoseconds.from(seconds: max(0, seconds))
        let index = timers.firstIndex { $0.deadline > deadline } ?? timers.count
        timers.insert((deadline, nextTimerID, action), at: index)
        return TimerToken(id: nextTimerID)
    }

    func cancel(_ token: TimerToken) {
        assertOnLoopThread()
        timers.removeAll { $0.id == token.id }
    }

    fileprivate var activeWatches: [Watch] { watches.values.filter { $0.events != 0 } }

    /// A ready descriptor's handler, if the watch polled is still the current one for it (a descriptor number can
    /// be closed and reused by another socket within one turn of the loop) and still wants events.
    fileprivate func dispatch(_ watch: Watch?, _ revents: Int16) {
        guard let watch, watches[watch.fd] === watch, watch.events != 0 else { return }
        watch.handler(revents)
    }

    /// Milliseconds until the nearest timer, rounded up (a timer never fires early, so never re-polls at once).
    fileprivate func pollTimeout() -> Int32 {
        guard let first = timers.first else { return -1 }
        let now = Self.now
        guard first.deadline > now else { return 0 }
        return Int32(min(UInt64(Int32.max), (first.deadline - now + 999_999) / 1_000_000))
    }

    fileprivate func fireDueTimers() {
        let now = Self.now
        while let first = timers.first, first.deadline <= now {
            timers.removeFirst()
            first.action()
        }
    }
}
