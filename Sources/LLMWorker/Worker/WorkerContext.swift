import Foundation

/// Everything a method needs, shared by all requests. Immutable; the mutable parts are actors or locked.
final class WorkerContext: Sendable {
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

/// Settings from the command line.
public struct WorkerOptions: Sendable {
    public var logLevel: LogLevel = .warn
    public var shutdownGrace: Double = 30
    public var maxLineBytes = 32 << 20
    public var initialConfiguration = ConfigureParams()

    public init() {}
}

public enum WorkerVersion {
    /// The one place the version is written; `--version`, `ping` and `rpc.discover` all read it.
    public static let current = "0.1.0"
    /// Bumped only when a change would break a client written against the previous version.
    public static let protocolVersion = "1.0.0"
}
