// libFuzzer target for upstream HTTP/1.x responses (status line, fields, interim responses, body framing).
//
// Fuzzing build (see Tests/Fuzz/README.md):
//   swift build -c debug --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING --product FuzzHTTPResponse
// then `.build-fuzz/debug/FuzzHTTPResponse [libFuzzer options] [CORPUS_DIR...]`.
// Debug build (`swift build`): a replay tool, `FuzzHTTPResponse FILE...` runs saved inputs (crashes, corpus) through the
// same code. The entry points are internal to LLMWorker: a release build, without testing, cannot reach them.

import FuzzTargetSupport
#if DEBUG || FUZZING
@testable import LLMWorker

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzEntryPoints.httpResponse(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
FuzzTarget.run(testOneInput)
#else
FuzzTarget.unavailable()
#endif
