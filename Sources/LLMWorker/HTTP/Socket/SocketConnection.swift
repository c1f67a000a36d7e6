import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a connection tells the request it carries (on the loop thread).
protocol ConnectionDelegate: AnyObject {
    func connectionSentRequest(_ connection: SocketConnection)
    func connectionReceivedBytes(_ connection: SocketConnection)
    func connection(_ connection: SocketConnection, receivedHead head: HTTPResponseHead)
    /// Body bytes at the start of `buffer`; the connection reads nothing more until `resumeReading()`.
    func connection(_ connection: SocketConnection, receivedBody buffer: ReadBuffer, count: Int)
    /// The response is complete; `reusable`: the connection is in a clean state for another request.
    func connection(_ connection: SocketConnection, finishedReusable reusable: Bool)
    func connection(_ connection: SocketConnection, failed error: TransportError)
}

/// One connected, non-blocking TCP socket carrying HTTP/1.1 requests one after another. Used only on the loop
/// thread (checked in debug builds at every entry point); the socket is watched for reading while a response is expected and not paused, for writing while part
/// of the request waits, and for reading while idle (to notice the server closing it).
///
/// The request is written whole while the response is read: a server may answer before it has read the body
/// (a 413, a 401), and that answer is delivered; such a connection is not used again.
final class SocketConnection {
    static let readBufferSize = 64 * 1024

    let endpoint: HTTPEndpoint
    private let fd: Int32
    private let context: LoopContext
    /// Requests started on this connection; more than one means it was reused.
    private(set) var requestsCarried = 0
    /// When it last became idle (uptime ns).
    private(set) var idleSince: UInt64 = 0
    /// The pool's timer that closes it after a long idle time.
    var idleTimer: LoopContext.TimerToken?
    private weak var delegate: ConnectionDelegate?
    private var parser: HTTPResponseParser?
    private var request: [UInt8] = []
    private var written = 0
    private var writeFailed = false
    private var buffer: ReadBuffer?
    private var paused = false
    private var onIdleEvent: (() -> Void)?
    /// Whether the head of the response being read allows keeping the connection (it came in an earlier read).
    private var lastHeadPersistent = false
    private(set) var isClosed = false

    init(endpoint: HTTPEndpoint, fd: Int32, context: LoopContext) {
        self.endpoint = endpoint
        self.fd = fd
        self.context = context
    }

    // MARK: Carrying a request

    func send(_ prepared: PreparedRequest, delegate: ConnectionDelegate) {
        context.assertOnLoopThread()
        precondition(parser == nil && !isClosed, "a connection carries one request at a time")
        requestsCarried += 1
        self.delegate = delegate
        onIdleEvent = nil
        parser = HTTPResponseParser(expectsBody: prepared.expectsResponseBody)
        request = prepared.bytes
        written = 0
        writeFailed = false
        paused = false
        context.watch(fd, events: 0) { [weak self] revents in self?.handle(revents) }
        flush()
        guard parser != nil else { return }
        updateEvents()
    }

    /// The consumer handed back the bytes lent to it: read on.
    func resumeReading() {
        context.assertOnLoopThread()
        guard paused, parser != nil else { return }
        paused = false
        readAvailable()
        if parser != nil { updateEvents() }
    }

    // MARK: Idle

    /// Waits for the next request; `event` runs if the server closes the connection or sends anything meanwhile.
    func becomeIdle(_ event: @escaping () -> Void) {
        context.assertOnLoopThread()
        idleSince = LoopContext.now
        onIdleEvent = event
        buffer = nil
        context.watch(fd, events: Int16(POLLIN)) { [weak self] _ in self?.onIdleEvent?() }
    }

    /// Checked just before reuse: nothing arrived and the server has not closed it.
    var isQuietAndOpen: Bool { !isClosed && SocketIO.isQuietAndOpen(fd) }

    func close() {
        context.assertOnLoopThread()
        guard !isClosed else { return }
        isClosed = true
        parser = nil
        delegate = nil
        onIdleEvent = nil
        context.unwatch(fd)
        SocketIO.close(fd)
    }

    // MARK: Events

    private func handle(_ revents: Int16) {
        if revents & Int16(POLLOUT) != 0 { flush() }
        if parser != nil, !paused, revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 { readAvailable() }
        if parser != nil { updateEvents() }
    }

    private func updateEvents() {
        var events: Int16 = 0
        if !paused { events |= Int16(POLLIN) }
        if written < request.count && !writeFailed { events |= Int16(POLLOUT) }
        context.setEvents(fd, events)
    }

    private var requestSent: Bool { written == request.count && !writeFailed }

    private func flush() {
        guard parser != nil, !writeFailed, written < request.count else { return }
        let outcome = request.withUnsafeBytes { bytes in
            var outcome = SocketIO.Transfer.wouldBlock
            while written < bytes.count {
                outcome = SocketIO.send(fd, UnsafeRawBufferPointer(rebasing: bytes[written...]))
                guard case .bytes(let n) = outcome else { break }
                written += n
            }
            return outcome
        }
        if case .failed = outcome {
            // The server closed or reset the connection: what it may have answered first is still to be read,
            // and the read side reports the end.
            writeFailed = true
            if !paused { readAvailable() }
            return
        }
        if written == request.count {
            request = []
            written = 0
            delegate?.connectionSentRequest(self)
        }
    }

    private func readAvailable() {
        while parser != nil && !paused {
            let buffer = self.buffer ?? ReadBuffer(capacity: Self.readBufferSize)
            self.buffer = buffer
            switch SocketIO.receive(fd, into: buffer.bytes) {
            case .bytes(let count):
                delegate?.connectionReceivedBytes(self)
                process(buffer, count)
            case .wouldBlock:
                return
            case .endOfStream:
                endOfStream(reset: nil)
            case .failed(let code):
                endOfStream(reset: Errno(code))
            }
        }
    }

    private func process(_ buffer: ReadBuffer, _ count: Int) {
        guard var parser else { return }
        let progress = parser.parse(UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<count]))
        self.parser = parser
        if let head = progress.head { delegate?.connection(self, receivedHead: head) }
        if progress.bodyBytes > 0 {
            paused = true
            delegate?.connection(self, receivedBody: buffer, count: progress.bodyBytes)
        }
        if let failure = progress.failure {
            fail(TransportError(failure))
        } else if progress.complete {
            let persistent = progress.head?.persistent ?? lastHeadPersistent
            finish(reusable: persistent && progress.consumed == count && requestSent)
        } else if let head = progress.head {
            lastHeadPersistent = head.persistent
        }
    }

    private func endOfStream(reset: Errno?) {
        guard var parser else { return }
        if let reset {
            let answered = parser.receivedAnyByte
            fail(TransportError(.connectionLost, "The connection to \(endpoint) was reset (\(reset))" + (answered ? " in the middle of the response." : " before any response."),
                                afterResponseBytes: answered))
            return
        }
        do {
            try parser.finish()
            self.parser = parser
            finish(reusable: false)
        } catch {
            fail(TransportError(error))
        }
    }

    private func finish(reusable: Bool) {
        parser = nil
        lastHeadPersistent = false
        // The last read may still be lent: the next request reads into a new buffer.
        if paused { buffer = nil }
        paused = false
        let delegate = self.delegate
        self.delegate = nil
        context.setEvents(fd, 0)
        delegate?.connection(self, finishedReusable: reusable)
    }

    private func fail(_ error: TransportError) {
        parser = nil
        let delegate = self.delegate
        self.delegate = nil
        context.setEvents(fd, 0)
        delegate?.connection(self, failed: error)
    }
}
