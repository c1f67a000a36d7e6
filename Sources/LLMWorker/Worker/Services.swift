import Foundation

/// Everything a method needs, shared by all requests. Immutable; the mutable parts are actors or locked.
final class Services: Sendable {
    let writer: OutputWriter
    let configuration: ConfigurationStore
    let providers: ProviderRegistry
    let inFlight: InFlightRequests
    /// Wakes the stdin reader when it waits under back-pressure (see `Dispatcher.waitUntilTheClientKeepsUp`).
    let progress: ProgressSignal
    let modelCache: ModelListCache
    let probeMemory = ProbeMemory()
    let logger: Logger
    let redactor: Redactor
    let lifecycle: Lifecycle
    let options: WorkerOptions

    init(writer: OutputWriter, progress: ProgressSignal = ProgressSignal(), configuration: ConfigurationStore, providers: ProviderRegistry,
         logger: Logger, redactor: Redactor, lifecycle: Lifecycle, options: WorkerOptions) {
        self.writer = writer
        self.progress = progress
        inFlight = InFlightRequests(progress: progress)
        self.configuration = configuration
        self.providers = providers
        self.logger = logger
        modelCache = ModelListCache(logger: logger)
        self.redactor = redactor
        self.lifecycle = lifecycle
        self.options = options
    }
}
