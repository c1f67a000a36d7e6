import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The TCP sockets this process holds, by inode: a request whose connection was opened while it ran adds one.
/// URLSession cannot say whether a request reused a connection on Linux: swift-corelibs-foundation declares
/// `URLSessionTaskTransactionMetrics.isReusedConnection` but never collects metrics (the delegate's
/// `didFinishCollecting` is never called). The process's own file descriptors can say it instead.
enum TCPSocketCensus {
    /// The inodes of the process's TCP sockets (IPv4 and IPv6), or nil where they cannot be listed.
    /// Asks each descriptor itself: the kernel's tables (/proc/net/tcp) list every socket of the machine and take
    /// milliseconds to read.
    static func current() -> Set<UInt64>? {
        #if os(Linux)
        guard let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return nil }
        var sockets = Set<UInt64>()
        for name in descriptors {
            guard let fd = Int32(name) else { continue }
            var status = stat()
            // A descriptor closed since the listing (or reused for something else) simply does not count.
            guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK else { continue }
            var proto: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &length) == 0, proto == Int32(IPPROTO_TCP) else { continue }
            sockets.insert(UInt64(status.st_ino))
        }
        return sockets
        #else
        return nil
        #endif
    }
}
