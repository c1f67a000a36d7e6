import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An address to connect to (IPv4 or IPv6), as getaddrinfo gives it.
struct SocketAddress: Sendable, CustomStringConvertible {
    fileprivate var storage = sockaddr_storage()
    fileprivate var length: socklen_t = 0

    init(_ address: UnsafePointer<sockaddr>, length: socklen_t) {
        self.length = min(length, socklen_t(MemoryLayout<sockaddr_storage>.size))
        withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(self.length))) }
    }

    var family: Int32 { Int32(storage.ss_family) }

    var description: String {
        var copy = storage
        var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let result = withUnsafePointer(to: &copy) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST)
            }
        }
        guard result == 0 else { return "?" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The socket system calls the transport uses, on non-blocking sockets; errors are errno values.
enum SocketIO {
    enum Transfer: Equatable {
        case bytes(Int)
        case wouldBlock
        case endOfStream
        case failed(Int32)
    }

    /// A non-blocking, close-on-exec TCP socket with Nagle off (each write of a request goes out at once).
    static func openStream(family: Int32) -> Result<Int32, Errno> {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(Errno(errno)) }
        var yes: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
        return .success(fd)
    }

    /// Starts connecting: nil when connected or in progress (wait for writability, then `pendingError`).
    static func connect(_ fd: Int32, to address: SocketAddress) -> Errno? {
        var copy = address
        let result = withUnsafePointer(to: &copy.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, copy.length) }
        }
        if result == 0 || errno == EINPROGRESS || errno == EINTR { return nil }
        return Errno(errno)
    }

    /// The outcome of a connect in progress (SO_ERROR): nil when connected.
    static func pendingError(_ fd: Int32) -> Errno? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) == 0 else { return Errno(errno) }
        return value == 0 ? nil : Errno(value)
    }

    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Transfer {
        while true {
            let n = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .bytes(n) }
            if errno == EINTR { continue }
            return errno == EAGAIN || errno == EWOULDBLOCK ? .wouldBlock : .failed(errno)
        }
    }

    static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Transfer {
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n > 0 {
                acknowledgeAtOnce(fd)
                return .bytes(n)
            }
            if n == 0 { return .endOfStream }
            if errno == EINTR { continue }
            return errno == EAGAIN || errno == EWOULDBLOCK ? .wouldBlock : .failed(errno)
        }
    }

    /// Asks the kernel to acknowledge what arrives next without its delayed-ACK wait (Linux resets this after a
    /// while, so it is asked again after every read). A server that leaves Nagle on holds each small write of a
    /// stream until the previous one is acknowledged: with delayed ACKs, 40 ms per SSE event.
    static func acknowledgeAtOnce(_ fd: Int32) {
        var yes: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_QUICKACK, &yes, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Whether an idle keep-alive connection can carry a request: nothing to read and not closed. A server that
    /// closed it (FIN or RST) or sent bytes nobody asked for makes it unusable.
    static func isQuietAndOpen(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        while true {
            let n = recv(fd, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
            if n < 0 && errno == EINTR { continue }
            return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
        }
    }

    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }
}

/// An errno value with its text.
struct Errno: Error, Sendable, Equatable, CustomStringConvertible {
    let code: Int32
    init(_ code: Int32) { self.code = code }
    var description: String { String(cString: strerror(code)) }
}
