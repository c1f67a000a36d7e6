import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport

/// Decision: OpenRouter's model list is public, so `listModels` for openrouter works without a key.
///
/// Through the binary, openrouter without a key always means the default base_url (configure refuses to select
/// openrouter without a key, so no other base_url can be remembered for it), which tests must never contact.
/// So this runs the method in-process, with the worker's own context, against the mock server; the probe tests
/// show the same through the binary (`ProbeOpenRouterTests.testWithoutAKey…`).
final class OpenRouterModelsWithoutKeyTests: XCTestCase {
    private func context() -> Services {
        let redactor = Redactor()
        let logger = Logger(level: .error, redactor: redactor)
        let devNull = open("/dev/null", O_WRONLY)
        addTeardownBlock { close(devNull) }
        return Services(writer: OutputWriter(fd: devNull) {}, configuration: ConfigurationStore(environment: [:]),
                        providers: ProviderRegistry.standard(logger: logger), logger: logger, redactor: redactor,
                        lifecycle: Lifecycle(exitProcess: { _ in }), options: WorkerOptions())
    }

    func testListsWithoutAKeyAndSendsNoAuthorization() async throws {
        let server = try startServer()
        server.route(OR.modelsPath) { _ in OR.json(OR.modelList) }
        var stored = ProviderSettings()
        stored.baseURL = OR.baseURL(server)
        var configuration = ConfigurationSnapshot(environment: [:])
        configuration.active = .openrouter
        configuration.stored[.openrouter] = stored
        XCTAssertNil(configuration.current?.apiKey)
        let services = context()
        let request = RequestContext(id: .int(1), token: nil, services: services, configuration: configuration)

        let first = try await ListModelsMethod().handle(.init(provider: "openrouter", supportsTools: nil, refresh: nil), request: request)
        XCTAssertEqual(first.provider, "openrouter")
        XCTAssertEqual(first.models.map(\.id), ["openai/gpt-4o-mini", "anthropic/claude-3.5-haiku",
                                                "meta-llama/llama-3.2-3b-instruct:free", "openrouter/auto", "openai/gpt-4o"])
        XCTAssertFalse(first.cached)
        let second = try await ListModelsMethod().handle(.init(provider: nil, supportsTools: nil, refresh: nil), request: request)
        XCTAssertTrue(second.cached, "cached without a key too")

        let requests = server.requests
        XCTAssertEqual(requests.count, 1)
        if let request = requests.first {
            assertOpenRouterHeaders(request, key: nil)
        }
    }
}
