import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The TCP sockets this process holds, by inode: a request whose connection was opened while it ran adds one.
/// URLSession cannot say whether a request reused a connection on Linux: swift-corelibs-foundation declares
/// `URLSessionTaskTransactionMetrics.isReusedConnection` but never collects metrics (the delegate's
/// `didFinishCollecting` is never called). The process's own file descriptors can say it instead.
enum TCPSocketCensus {
    /// The inodes of the process's TCP sockets (IPv4 and IPv6), or nil where /proc cannot be read.
    static func current() -> Set<UInt64>? {
        #if os(Linux)
        guard let tcp = tcpInodes() else { return nil }
        let directory = "/proc/self/fd"
        guard let descriptors = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return nil }
        var sockets = Set<UInt64>()
        for descriptor in descriptors {
            // A descriptor closed since the listing is simply not there any more.
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + descriptor),
                  target.hasPrefix("socket:["), target.hasSuffix("]"),
                  let inode = UInt64(target.dropFirst("socket:[".count).dropLast()), tcp.contains(inode) else { continue }
            sockets.insert(inode)
        }
        return sockets
        #else
        return nil
        #endif
    }

    /// Every TCP socket's inode in the process's network namespace (the tables list other processes' too).
    private static func tcpInodes() -> Set<UInt64>? {
        var inodes = Set<UInt64>()
        var readAny = false
        for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
            guard let text = readWhole(table) else { continue }
            readAny = true
            for line in text.split(separator: "\n").dropFirst() {
                // sl local rem st tx:rx tr:when retrnsmt uid timeout inode …
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                if fields.count > 9, let inode = UInt64(fields[9]), inode != 0 { inodes.insert(inode) }
            }
        }
        return readAny ? inodes : nil
    }

    /// A /proc file, read to its end: they report a size of 0, and Foundation's readers stop after the first
    /// block (a busy table is longer).
    private static func readWhole(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(contentsOf: buffer[0..<count])
        }
    }
}
