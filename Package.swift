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
        // libFuzzer targets (Tests/Fuzz/README.md); in a normal build, tools that replay saved inputs.
        .executableTarget(name: "FuzzLineParser", dependencies: ["LLMWorker"], path: "Sources/FuzzLineParser"),
        .executableTarget(name: "FuzzSSEParser", dependencies: ["LLMWorker"], path: "Sources/FuzzSSEParser"),
        .executableTarget(name: "FuzzHTTPResponse", dependencies: ["LLMWorker"], path: "Sources/FuzzHTTPResponse"),
        .testTarget(
            name: "LLMWorkerTests",
            dependencies: ["LLMWorker"],
            path: "Tests/LLMWorkerTests"
        ),
    ]
)
