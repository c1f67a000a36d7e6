// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "caal-llm-worker",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "caal-llm-worker", targets: ["caal-llm-worker"]),
    ],
    targets: [
        // Everything testable lives in the library; the executable is a thin main.
        .target(name: "LLMWorker", path: "Sources/LLMWorker"),
        .executableTarget(
            name: "caal-llm-worker",
            dependencies: ["LLMWorker"],
            path: "Sources/caal-llm-worker"
        ),
        // libFuzzer targets (Tests/Fuzz/README.md); in a debug build, tools that replay saved inputs. What they run is
        // internal to LLMWorker (so the worker's release binary leaves it out), reached through `@testable import`:
        // a release build has no testing, and there these tools only say so. FuzzTargetSupport is their `main`.
        .target(name: "FuzzTargetSupport", path: "Sources/FuzzTargetSupport"),
        .executableTarget(name: "FuzzLineParser", dependencies: ["LLMWorker", "FuzzTargetSupport"],
                          path: "Sources/FuzzLineParser"),
        .executableTarget(name: "FuzzSSEParser", dependencies: ["LLMWorker", "FuzzTargetSupport"],
                          path: "Sources/FuzzSSEParser"),
        .executableTarget(name: "FuzzHTTPResponse", dependencies: ["LLMWorker", "FuzzTargetSupport"],
                          path: "Sources/FuzzHTTPResponse"),
        // Test helpers both test targets use (the tests' JSON, the mock HTTP server). Test targets cannot depend
        // on each other, so they live in an ordinary target; the tests see its internal declarations through
        // `@testable import` (test builds enable testing for every module). `swift build` builds it too, also
        // with --static-swift-stdlib, where there is no XCTest: it must not import XCTest.
        .target(name: "LLMWorkerTestSupport", path: "Tests/TestSupport"),
        // The pieces in-process: no worker binary, no worker behind a socket (README, "Tests").
        .testTarget(
            name: "LLMWorkerUnitTests",
            dependencies: ["LLMWorker", "LLMWorkerTestSupport"],
            path: "Tests/UnitTests"
        ),
        // The built binary driven line by line, or the worker in-process against the mock HTTP server.
        .testTarget(
            name: "LLMWorkerEndToEndTests",
            dependencies: ["LLMWorker", "LLMWorkerTestSupport"],
            path: "Tests/EndToEndTests"
        ),
    ]
)
