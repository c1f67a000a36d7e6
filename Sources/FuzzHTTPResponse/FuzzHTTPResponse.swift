import LLMWorker

// libFuzzer target for upstream HTTP/1.x responses (status line, fields, interim responses, body framing).
//
// Fuzzing build (see Tests/Fuzz/run.sh):
//   swift build -c debug --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING --product FuzzHTTPResponse
// then `.build-fuzz/debug/FuzzHTTPResponse [libFuzzer options] [CORPUS_DIR...]`.
// Normal build: a replay tool, `FuzzHTTPResponse FILE...` runs saved inputs (crashes, corpus) through the same code.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPResponseTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzEntryPoints.httpResponse(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@main
enum Main {
    static func main() {
        FuzzEntryPoints.runTarget(named: "FuzzHTTPResponse", testOneInput: fuzzHTTPResponseTestOneInput)
    }
}
