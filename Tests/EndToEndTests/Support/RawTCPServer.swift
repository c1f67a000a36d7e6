import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A bare TCP listener on a loopback address (127.0.0.1, or ::1 for IPv6 tests) whose connections a test
/// script drives by hand, for what `MockHTTPServer` cannot do because it reads each request whole before it
/// answers: answering before the request body arrived, writing as fast as the client lets it, listening on
/// IPv6. Each accepted connection runs `handler` on its own thread; the socket is closed when it returns.
final class RawTCPServer: @unchecked Sendable {
    /// One accepted connection, used by its handler's thread only.
    final class Connection {
        let fd: Int32
        fileprivate init(fd: Int32) { self.fd = fd }

        /// Reads until the end of a request head (CRLF CRLF) and returns it; nil if the client closed first.
        func readHead() -> String? {
            var head: [UInt8] = []
            var byte: UInt8 = 0
            while !head.suffix(4).elementsEqual([0x0D, 0x0A, 0x0D, 0x0A]) {
                guard recv(fd, &byte, 1, 0) == 1 else { return nil }
                head.append(byte)
            }
            return String(decoding: head, as: UTF8.self)
        }

        /// Reads and drops `count` bytes (or until the client closes); returns how many arrived.
        @discardableResult
        func drain(_ count: Int) -> Int {
            var buffer = [UInt8](repeating: 0, count: 65536)
            var total = 0
            while total < count {
                let n = recv(fd, &buffer, min(buffer.count, count - total), 0)
                if n <= 0 { break }
                total += n
            }
            return total
        }

        /// Writes all of `bytes` (blocking); false if the client is gone.
        @discardableResult
        func write(_ bytes: [UInt8]) -> Bool {
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                offset += n
            }
            return true
        }

        @discardableResult
        func write(_ text: String) -> Bool { write(Array(text.utf8)) }

        /// Stops writing (FIN) but keeps reading.
        func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }
    }

    typealias Handler = @Sendable (Connection) -> Void

    let port: Int
    let host: String
    private let listener: Int32
    private let handler: Handler
    private let lock = NSLock()
    private var stopped = false
    private var open: Set<Int32> = []
    private let threads = DispatchGroup()

    /// Listens on `host` (an IPv4 or IPv6 loopback address); nil if that address family is unavailable.
    init?(host: String = "127.0.0.1", handler: @escaping Handler) {
        let family = host.contains(":") ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var storage = sockaddr_storage()
        var length: socklen_t
        if family == AF_INET6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else { close(fd); return nil }
            withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: withUnsafeBytes(of: address) { $0 }) }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr(host)
            withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: withUnsafeBytes(of: address) { $0 }) }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        }
        let bound = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 64) == 0 else { close(fd); return nil }
        var actual = sockaddr_storage()
        var actualLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &actualLength) } }
        let portBytes = withUnsafeBytes(of: &actual) { Array($0[2..<4]) }
        port = Int(portBytes[0]) << 8 | Int(portBytes[1])
        self.host = host
        listener = fd
        self.handler = handler
        threads.enter()
        Thread { [self] in acceptLoop() }.start()
    }

    deinit { stop() }

    /// `http://127.0.0.1:<port><path>` (brackets around an IPv6 host).
    func url(_ path: String = "/") -> URL {
        URL(string: "http://\(host.contains(":") ? "[\(host)]" : host):\(port)\(path)")!
    }

    /// Closes the listener and every connection, and waits for the threads (so that no descriptor of the test
    /// process closes late: other tests count them).
    func stop() {
        let fds: Set<Int32> = lock.withLock {
            if stopped { return [] }
            stopped = true
            return open
        }
        shutdown(listener, Int32(SHUT_RDWR))
        for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
        _ = threads.wait(timeout: .now() + 60)
    }

    private func acceptLoop() {
        defer {
            close(listener)
            threads.leave()
        }
        while !lock.withLock({ stopped }) {
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 20) > 0 else { continue }
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { continue }
            // Like real servers: each write goes out at once (no 40 ms Nagle wait behind a delayed ACK).
            var yes: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
            let admitted: Bool = lock.withLock {
                if stopped { return false }
                open.insert(fd)
                threads.enter()
                return true
            }
            guard admitted else { close(fd); break }
            Thread { [self] in
                handler(Connection(fd: fd))
                lock.withLock { _ = open.remove(fd) }
                close(fd)
                threads.leave()
            }.start()
        }
    }
}
