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
        let box = ContextBox()
        let writer = OutputWriter(fd: protocolFD) {
            if let worker = box.worker { lifecycle.clientGone(worker) } else { exit(0) }
        }
        let worker = WorkerContext(
            writer: writer, configuration: ConfigurationStore(environment: environment),
            providers: ProviderRegistry.standard(logger: logger), logger: logger, redactor: redactor,
            lifecycle: lifecycle, options: options)
        box.worker = worker
        let dispatcher = Dispatcher(worker: worker)

        applyInitialConfiguration(options.initialConfiguration, worker)
        let signals = watchSignals(worker)

        let reader = LineReader(fd: STDIN_FILENO, maxLineBytes: options.maxLineBytes) { event in
            switch event {
            case .line(let line): dispatcher.handle(line: line)
            case .oversized(let bytes): dispatcher.handleOversizedLine(bytes: bytes)
            case .endOfInput: lifecycle.finish(worker, grace: options.shutdownGrace, reason: "end of input")
            }
        }
        logger.info("caal-llm-worker \(WorkerVersion.current) ready (pid \(getpid()))")
        reader.start()
        withExtendedLifetime(signals) { dispatchMain() }
    }

    private static func applyInitialConfiguration(_ params: ConfigureParams, _ worker: WorkerContext) {
        guard params.provider.value != nil || params.model.value != nil || params.baseURL.value != nil else { return }
        do {
            try worker.configuration.configure(params)
            if let active = worker.configuration.snapshot()?.provider { worker.providers.provider(for: active).prepare() }
        } catch {
            worker.logger.error("the command-line configuration was not applied: \(error.rpcError.message)")
        }
    }

    private static func watchSignals(_ worker: WorkerContext) -> [DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                // A signal asks for a prompt exit: a shorter grace than the end of input gets.
                worker.lifecycle.finish(worker, grace: min(worker.options.shutdownGrace, 5), reason: "signal \(number)")
            }
            source.resume()
            return source
        }
    }
}

/// Lets the writer's broken-pipe callback reach the context created after it.
private final class ContextBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: WorkerContext?

    var worker: WorkerContext? {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}
