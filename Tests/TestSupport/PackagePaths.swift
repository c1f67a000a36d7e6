import Foundation

/// Files of the repository, found from this source file's location (tests run from a clean clone).
enum PackagePaths {
    /// The repository root: two levels above Tests/TestSupport.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func file(_ relativePath: String) -> URL {
        root.appendingPathComponent(relativePath)
    }
}
