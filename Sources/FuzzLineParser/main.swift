// libFuzzer target for protocol input (line framing, JSON-RPC envelope, every method's params).
//
// Fuzzing build (see Tests/Fuzz/README.md):
//   swift build -c debug --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING --product FuzzLineParser
// then `.build-fuzz/debug/FuzzLineParser [libFuzzer options] [CORPUS_DIR...]`.
// Debug build (`swift build`): a replay tool, `FuzzLineParser FILE...` runs saved inputs (crashes, corpus) through the
// same code. The entry points are internal to LLMWorker: a release build, without testing, cannot reach them.

import FuzzTargetSupport
#if DEBUG || FUZZING
@testable import LLMWorker

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzEntryPoints.protocolInput(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
FuzzTarget.run(testOneInput)
#else
FuzzTarget.unavailable()
#endif
