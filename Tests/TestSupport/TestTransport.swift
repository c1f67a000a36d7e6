import Foundation

/// The HTTP transport the end-to-end tests run under: `Tests/run-all.sh` runs them once with each, through
/// `CAAL_LLM_WORKER_TRANSPORT`, which every worker the tests start inherits as its default `transport`.
enum TestTransport {
    /// The worker's environment variable for the default of `transport`.
    static let variable = "CAAL_LLM_WORKER_TRANSPORT"

    /// As the environment asks (nil: the worker's own default).
    static var requested: String? { ProcessInfo.processInfo.environment[variable] }

    /// What carries requests to the mock server (plain http:// on loopback, no proxy): the worker's own client
    /// unless URLSession was asked for.
    static var forMockServer: String { requested == "urlsession" ? "urlsession" : "socket" }
}
