import Foundation
import LLMWorker

// libFuzzer target for protocol input (line framing, JSON-RPC envelope, every method's params).
//
// Fuzzing build (see Tests/Fuzz/README.md):
//   swift build -c debug --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING --product FuzzLineParser
// then `.build-fuzz/debug/FuzzLineParser [libFuzzer options] [CORPUS_DIR...]`.
// Normal build: a replay tool, `FuzzLineParser FILE...` runs saved inputs (crashes, corpus) through the same code.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLineParserTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzEntryPoints.protocolInput(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if FUZZING
/// libFuzzer's driver (in the runtime that `-sanitize=fuzzer` links): SwiftPM gives every executable its own
/// entry point, so libFuzzer's `main` is not used and this one hands control to the driver instead.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
#endif

@main
enum Main {
    static func main() {
        #if FUZZING
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv, fuzzLineParserTestOneInput))
        #else
        let paths = CommandLine.arguments.dropFirst()
        if paths.isEmpty {
            FileHandle.standardError.write(Data("usage: FuzzLineParser FILE...  (replays saved fuzz inputs)\n".utf8))
            exit(2)
        }
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
                exit(2)
            }
            data.withUnsafeBytes { FuzzEntryPoints.protocolInput($0) }
            print("ok \(path)")
        }
        #endif
    }
}
