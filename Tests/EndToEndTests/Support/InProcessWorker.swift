import Foundation
@testable import LLMWorker
#if canImport(Glibc)
import Glibc
#endif

/// The worker's services built in the test process, for the few checks that need the library's own objects (the
/// dispatcher's method table). Its output goes to /dev/null.
enum InProcessWorker {
    static let context: Services = {
        let redactor = Redactor()
        let logger = Logger(level: .error, redactor: redactor)
        let writer = OutputWriter(fd: open("/dev/null", O_WRONLY)) {}
        return Services(writer: writer, configuration: ConfigurationStore(environment: [:]),
                        providers: ProviderRegistry(openAICompatible: MockProvider(), openRouter: MockProvider(), mock: MockProvider()), logger: logger,
                        redactor: redactor, lifecycle: Lifecycle(exitProcess: { _ in }), options: WorkerOptions())
    }()

    static let dispatcher = Dispatcher(services: context)
}
