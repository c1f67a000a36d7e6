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

@main
enum Main {
    static func main() {
        FuzzEntryPoints.runTarget(named: "FuzzLineParser", testOneInput: fuzzLineParserTestOneInput)
    }
}
