import Foundation

/// The command line: a few flags for an initial configuration when piping requests by hand, and limits.
public enum CommandLineOptions {
    public enum Outcome {
        case run(WorkerOptions)
        case print(String)
        case fail(String)
    }

    public static let usage = """
    caal-llm-worker \(WorkerVersion.current): LLM calls for a voice assistant over JSON-RPC 2.0 on stdin/stdout,
    one message per line. Logs go to stderr.

    Usage: caal-llm-worker [options] < requests.jsonl

    Options:
      --provider NAME         initial provider: openai_compatible, openrouter or mock
      --model ID              initial model
      --base-url URL          initial base URL (e.g. http://localhost:1234/v1)
      --log-level LEVEL       error, warn (default), info or debug
      --shutdown-grace SEC    at end of input, how long requests in flight may take to finish (default 30)
      --max-line-bytes N      longest input line accepted (default 33554432, 32 MiB)
      --version               print the version and exit
      --help                  print this help and exit

    API keys come from configure or from OPENROUTER_API_KEY / OPENAI_API_KEY; they are never printed.
    Try it:  printf '%s\\n' '{"jsonrpc":"2.0","id":1,"method":"chat","params":{"messages":[{"role":"user","content":"hi"}]}}' | caal-llm-worker --provider mock
    The protocol: protocol/PROTOCOL.md; example requests: protocol/examples/.
    """

    public static func parse(_ arguments: [String]) -> Outcome {
        var options = WorkerOptions()
        var remaining = arguments[...]
        func value(_ flag: String) -> String? {
            guard let next = remaining.popFirst(), !next.hasPrefix("--") else { return nil }
            return next
        }
        while let argument = remaining.popFirst() {
            var flag = argument
            var inline: String?
            if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                flag = String(argument[..<equals])
                inline = String(argument[argument.index(after: equals)...])
            }
            switch flag {
            case "--help", "-h": return .print(usage)
            case "--version": return .print("caal-llm-worker \(WorkerVersion.current) (protocol \(WorkerVersion.protocolVersion))")
            case "--provider", "--model", "--base-url", "--log-level", "--shutdown-grace", "--max-line-bytes":
                guard let text = inline ?? value(flag) else { return .fail("\(flag) needs a value (see --help)") }
                if let problem = apply(flag, text, to: &options) { return .fail(problem) }
            default:
                return .fail("unknown option '\(argument)' (see --help)")
            }
        }
        return .run(options)
    }

    private static func apply(_ flag: String, _ text: String, to options: inout WorkerOptions) -> String? {
        switch flag {
        case "--provider":
            guard let kind = ProviderKind(rawValue: text) else {
                return "--provider must be openai_compatible, openrouter or mock, not '\(text)'"
            }
            options.initialConfiguration.provider = .set(kind)
        case "--model":
            options.initialConfiguration.model = .set(text)
        case "--base-url":
            do {
                _ = try ParamRules.checkBaseURL(text, field: "--base-url")
            } catch {
                return "--base-url \(error.problem)"
            }
            options.initialConfiguration.baseURL = .set(text)
        case "--log-level":
            guard let level = LogLevel(name: text) else { return "--log-level must be error, warn, info or debug" }
            options.logLevel = level
        case "--shutdown-grace":
            guard let seconds = Double(text), seconds >= 0, seconds.isFinite else { return "--shutdown-grace must be a number of seconds" }
            options.shutdownGrace = seconds
        case "--max-line-bytes":
            guard let bytes = Int(text), bytes >= 1024 else { return "--max-line-bytes must be an integer of at least 1024" }
            options.maxLineBytes = bytes
        default:
            break
        }
        return nil
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
