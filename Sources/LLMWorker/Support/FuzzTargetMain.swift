import Foundation

#if FUZZING
/// libFuzzer's driver (in the runtime that `-sanitize=fuzzer` links): SwiftPM gives every executable its own
/// entry point, so libFuzzer's `main` is not used and the targets hand control to the driver instead.
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                             _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                             _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
#endif

extension FuzzEntryPoints {
    public typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    /// The `main` of a fuzz target. Built with `-DFUZZING`: libFuzzer's driver, calling `testOneInput`.
    /// In a normal build: a replay tool, `TARGET FILE...` runs saved inputs (crashes, corpus) through the same code.
    public static func runTarget(named name: String, testOneInput: TestOneInput) -> Never {
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
}
