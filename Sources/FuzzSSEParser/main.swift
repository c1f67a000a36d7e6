// libFuzzer target for upstream SSE bodies (SSE parser, chunk decoding, deltas vs result).
//
// Fuzzing build (see Tests/Fuzz/README.md):
//   swift build -c debug --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING --product FuzzSSEParser
// then `.build-fuzz/debug/FuzzSSEParser [libFuzzer options] [CORPUS_DIR...]`.
// Debug build (`swift build`): a replay tool, `FuzzSSEParser FILE...` runs saved inputs (crashes, corpus) through the
// same code. The entry points are internal to LLMWorker: a release build, without testing, cannot reach them.

import FuzzTargetSupport
#if DEBUG || FUZZING
@testable import LLMWorker

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzEntryPoints.sseStream(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
FuzzTarget.run(testOneInput)
#else
FuzzTarget.unavailable()
#endif
