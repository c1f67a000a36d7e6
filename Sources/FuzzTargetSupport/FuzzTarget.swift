import Foundation

#if FUZZING
/// libFuzzer's driver (in the runtime that `-sanitize=fuzzer` links): SwiftPM gives every executable its own
/// entry point, so libFuzzer's `main` is not used and the targets hand control to the driver instead.
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                             _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                             _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
#endif

/// The `main` of a fuzz target (Sources/FuzzLineParser, Sources/FuzzSSEParser, Sources/FuzzHTTPResponse). A module of
/// its own, apart from LLMWorker, so that none of it reaches the worker's binary.
public enum FuzzTarget {
    public typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    /// Built with `-DFUZZING`: libFuzzer's driver, calling `testOneInput`.
    /// In a debug build: a replay tool, `TARGET FILE...` runs saved inputs (crashes, corpus) through the same code.
    /// Each target passes its `@_cdecl("LLVMFuzzerTestOneInput")` function: the libFuzzer runtime that
    /// `-sanitize=fuzzer` links brings its own `main` (unused), which refers to that symbol.
    public static func run(_ testOneInput: TestOneInput) -> Never {
        #if FUZZING
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv, testOneInput))
        #else
        let paths = CommandLine.arguments.dropFirst()
        if paths.isEmpty {
            FileHandle.standardError.write(Data("usage: \(name) FILE...  (replays saved fuzz inputs)\n".utf8))
            exit(2)
        }
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
                exit(2)
            }
            _ = data.withUnsafeBytes { testOneInput($0.bindMemory(to: UInt8.self).baseAddress, $0.count) }
            print("ok \(path)")
        }
        exit(0)
        #endif
    }

    /// The `main` of a target built without access to the entry points (a release build, where LLMWorker is not
    /// compiled for testing): it replays nothing, so it says so and fails rather than pass inputs it never ran.
    public static func unavailable() -> Never {
        let message = "\(name): a release build has no fuzz entry points: "
            + "replay with a debug build (swift build), fuzz with Tests/Fuzz/run.sh\n"
        FileHandle.standardError.write(Data(message.utf8))
        exit(2)
    }

    private static var name: String {
        URL(fileURLWithPath: CommandLine.arguments.first ?? "fuzz-target").lastPathComponent
    }
}
