import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts the worker: protects stdout, wires the reader, dispatcher, writer and signals, and never returns.
public enum WorkerMain {
    public static func run(arguments: [String], environment: [String: String]) -> Never {
        let options: WorkerOptions
        switch CommandLineOptions.parse(arguments) {
        case .print(let text):
            print(text)
            exit(0)
        case .fail(let problem):
            FileHandle.standardError.write(Data("caal-llm-worker: \(problem)\n".utf8))
            exit(2)
        case .run(let parsed):
            options = parsed
        }

        // Before any thread exists, so that every thread inherits the mask (see waitForSignals).
        blockTerminationSignals()
        // The protocol gets its own copy of stdout, and fd 1 becomes stderr: a stray print can never corrupt it.
        signal(SIGPIPE, SIG_IGN)
        let protocolFD = dup(STDOUT_FILENO)
        dup2(STDERR_FILENO, STDOUT_FILENO)

        let redactor = Redactor()
        for kind in ProviderKind.allCases {
            if let name = kind.apiKeyEnvironmentVariable { redactor.register(environment[name]) }
        }
        let logger = Logger(level: options.logLevel, redactor: redactor)
        let lifecycle = Lifecycle()
        // Lets the writer's broken-pipe callback reach the services made after it.
        let made = Locked<Services?>(nil)
        let progress = ProgressSignal()
        let writer = OutputWriter(fd: protocolFD, progress: progress) {
            if let services = made.withLock({ $0 }) { lifecycle.clientGone(services) } else { exit(0) }
        }
        let services = Services(
            writer: writer, progress: progress, configuration: ConfigurationStore(environment: environment),
            providers: ProviderRegistry.standard(logger: logger), logger: logger, redactor: redactor,
            lifecycle: lifecycle, options: options)
        made.withLock { $0 = services }
        let dispatcher = Dispatcher(services: services)

        if let text = environment[TransportMode.environmentVariable], TransportMode.fromEnvironment(environment) == nil {
            let known = TransportMode.allCases.map(\.rawValue).joined(separator: ", ")
            logger.warn("\(TransportMode.environmentVariable)='\(text)' is not a transport (\(known)); it is ignored and configure's default, auto, applies")
        }
        applyInitialConfiguration(options.initialConfiguration, services)

        let reader = LineReader(fd: STDIN_FILENO, maxLineBytes: options.maxLineBytes) { event in
            switch event {
            case .line(let line): dispatcher.handle(line: line)
            case .oversized(let bytes): dispatcher.handleOversizedLine(bytes: bytes)
            case .endOfInput: lifecycle.finish(services, grace: options.shutdownGrace, reason: "end of input")
            }
        }
        logger.info("caal-llm-worker \(WorkerVersion.current) ready (pid \(getpid()))")
        reader.start()
        waitForSignals(services)
    }

    private static func applyInitialConfiguration(_ params: ConfigureParams, _ services: Services) {
        guard params.provider.value != nil || params.model.value != nil || params.baseURL.value != nil else { return }
        do {
            let before = services.configuration.snapshot()
            try services.configuration.configure(params)
            services.prepareActiveProvider(previously: before)
        } catch {
            services.logger.error("the command-line configuration was not applied: \(error.rpcError.message)")
        }
    }

    private static let terminationSignals = [SIGTERM, SIGINT]

    private static func blockTerminationSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for number in terminationSignals { sigaddset(&set, number) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// SIGTERM and SIGINT are blocked in every thread and taken here, on the main thread, with `sigwait`.
    /// (Linux delivers a process signal to any thread that does not block it: a libdispatch signal source over an
    /// ignored signal lost about one signal in twenty, and `dispatchMain()` waits in `sigsuspend` with every
    /// signal unblocked, where SIGTERM would kill the process. Nothing in the worker uses the main queue.)
    private static func waitForSignals(_ services: Services) -> Never {
        var set = sigset_t()
        sigemptyset(&set)
        for number in terminationSignals { sigaddset(&set, number) }
        while true {
            var number: Int32 = 0
            guard sigwait(&set, &number) == 0 else { continue }
            // A signal asks for a prompt exit: a shorter grace than the end of input gets, and a hard limit (the
            // grace, the 2 s for cancelled requests to answer, and 3 s to write the answers).
            let grace = min(services.options.shutdownGrace, 5)
            services.lifecycle.finish(services, grace: grace, reason: "signal \(number)", exitWithin: grace + 5)
        }
    }
}
