import LLMWorker

// libFuzzer target for upstream SSE bodies (SSE parser, chunk decoding, deltas vs result).
//
// Fuzzing build (see Tests/Fuzz/README.md):
//   swift build -c debug --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING --product FuzzSSEParser
// then `.build-fuzz/debug/FuzzSSEParser [libFuzzer options] [CORPUS_DIR...]`.
// Normal build: a replay tool, `FuzzSSEParser FILE...` runs saved inputs (crashes, corpus) through the same code.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSSEParserTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzEntryPoints.sseStream(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@main
enum Main {
    static func main() {
        FuzzEntryPoints.runTarget(named: "FuzzSSEParser", testOneInput: fuzzSSEParserTestOneInput)
    }
}
