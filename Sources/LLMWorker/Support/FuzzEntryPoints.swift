import Foundation

/// What the libFuzzer targets (Sources/FuzzLineParser, Sources/FuzzSSEParser, Sources/FuzzHTTPResponse) run on
/// each input, kept in the library so they reach its internals and so the regression tests replay saved inputs the
/// same way. Internal, never public: the worker does not call them, so a release build (whole-module optimisation,
/// no testing) leaves them out of the binary it ships. The targets and the tests reach them through
/// `@testable import`, which SwiftPM allows in debug builds and in `swift test`.
/// Each entry point takes arbitrary bytes and traps (`precondition`) when an invariant breaks; bad input itself is
/// never a failure, only a crash, a hang or a broken invariant is.
enum FuzzEntryPoints {
    // MARK: Protocol input: line framing, JSON-RPC envelope, params of every method, the answer line

    /// Frames `input` as stdin lines (whole, and cut into pieces: both must give the same lines), parses each line
    /// as the dispatcher does, decodes and validates the params of the method it names, and encodes the answer
    /// the worker would write: it must be one line of valid JSON.
    static func protocolInput(_ input: UnsafeRawBufferPointer) {
        // A small limit derived from the input, so that oversized lines are exercised too.
        let limit = input.isEmpty ? 1024 : 16 + Int(input[0]) * 32
        var whole: [LineReader.Event] = []
        var framer = LineFramer(maxLineBytes: limit)
        framer.feed(input) { whole.append($0) }
        framer.finish { whole.append($0) }

        var pieces: [LineReader.Event] = []
        var cut = LineFramer(maxLineBytes: limit)
        var start = 0
        var step = 1
        while start < input.count {
            let end = min(input.count, start + step)
            cut.feed(UnsafeRawBufferPointer(rebasing: input[start..<end])) { pieces.append($0) }
            start = end
            step = step % 7 + 1 + Int(input[end - 1] & 3)
        }
        cut.finish { pieces.append($0) }
        precondition(whole == pieces, "framing depends on how the input was cut")

        for event in whole {
            switch event {
            case .line(let line):
                precondition(line.count <= limit, "a line over the limit was delivered")
                precondition(!line.contains(0x0A), "a delivered line contains a newline")
                answerLine(line)
            case .oversized(let bytes):
                precondition(bytes > limit, "an oversized line of \(bytes) bytes is within the limit \(limit)")
            case .endOfInput:
                preconditionFailure("the framer reported the end of input by itself")
            }
        }
    }

    /// One line through the parser; each request's params decoded for its method; the answer encoded.
    static func answerLine(_ line: Data) {
        switch MessageParser.parse(line) {
        case .failure(let error):
            checkAnswer(OutgoingMessage.failure(id: .null, error: error))
        case .single(let item):
            answer(item)
        case .batch(let items):
            precondition(!items.isEmpty, "an empty batch parsed as a batch")
            items.forEach(answer)
        case .blank:
            precondition(line.allSatisfy { [0x20, 0x09, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }, "a line with content taken for blank")
        }
    }

    private static func answer(_ item: MessageParser.Item) {
        switch item {
        case .invalid(let id, let error):
            checkAnswer(OutgoingMessage.failure(id: id, error: error))
        case .message(let message):
            let id = message.id ?? .null
            do {
                try checkParams(message)
                checkAnswer(OutgoingMessage.response(id: id, result: ["ok": true]))
            } catch let invalid as InvalidParams {
                checkAnswer(OutgoingMessage.failure(id: id, error: invalid.rpcError))
            } catch {
                checkAnswer(OutgoingMessage.failure(id: id, error: .internalError("\(error)")))
            }
        }
    }

    private static func checkParams(_ message: IncomingMessage) throws {
        switch message.method {
        case ConfigureMethod.name, ProbeMethod.name:
            let params = try message.decodeParams(ConfigureParams.self)
            let store = ConfigurationStore(environment: [:])
            var mock = ConfigureParams()
            mock.provider = .set(.mock)
            _ = try? store.configure(mock)
            _ = try store.snapshot().preview(params, requireKey: message.method == ConfigureMethod.name)
            if case .set(let script) = params.mock { _ = try MockScript(defaults: script, overrides: nil) }
        case ChatMethod.name, ChatStreamMethod.name:
            let params = try message.decodeParams(ChatParams.self)
            try params.validate()
            _ = try MockScript(defaults: nil, overrides: params.extra?["mock"]?.objectValue)
        case CancelMethod.name:
            _ = try message.decodeParams(CancelMethod.Params.self)
        case ListModelsMethod.name:
            _ = try message.decodeParams(ListModelsMethod.Params.self)
        default:
            _ = try message.decodeParams(NoParams.self)
        }
    }

    /// An answer line must be one line of valid JSON: an object, or an array for a batch.
    private static func checkAnswer(_ line: Data) {
        precondition(!line.contains(0x0A), "an answer line contains a raw newline")
        let parsed = try? JSONSerialization.jsonObject(with: line)
        precondition(parsed is [String: Any], "an answer is not a JSON object: \(String(decoding: line.prefix(200), as: UTF8.self))")
    }

    // MARK: Upstream streams: SSE parsing, chunk decoding, deltas and the final result

    /// Parses `input` as an SSE body (whole, and cut into pieces: both must give the same items), decodes each
    /// event as a Chat Completions chunk, and feeds the chunks to a `ChatAccumulator` as a stream would: the
    /// deltas must add up to the final result (PROTOCOL §4.3, guarantees 3 and 4). With tool calls written as text
    /// recovered, the content must be the same as without whenever no call was recovered. The input itself, read as
    /// text, goes through the recovery of tool calls written as text (`textToolCalls`).
    static func sseStream(_ input: UnsafeRawBufferPointer) {
        let limit = input.isEmpty ? 64 : 8 + Int(input[0]) * 64
        let whole = parseSSE(input, limit: limit, cutting: false)
        let pieces = parseSSE(input, limit: limit, cutting: true)
        precondition(whole.items == pieces.items && whole.failed == pieces.failed, "SSE parsing depends on how the body was cut")
        textToolCalls(input)
        var plain: ChatResult?
        for (stripThink, tools) in [(true, nil), (false, nil), (true, fuzzTools)] {
            var accumulator = ChatAccumulator(stripThink: stripThink, recoveringCallsTo: tools)
            var content = ""
            var reasoning = ""
            var arguments: [Int: String] = [:]
            func take(_ delta: DeltaPayload) {
                content += delta.content
                reasoning += delta.reasoning
                for fragment in delta.toolCalls {
                    precondition(fragment.index != nil, "a tool-call delta without an index")
                    arguments[fragment.index ?? -1, default: ""] += fragment.arguments ?? ""
                }
            }
            for item in whole.items {
                guard case .event(let event) = item else { continue }
                if event.data.elementsEqual("[DONE]".utf8) { break }
                guard let wire = try? WireChunk(parsing: event.data) else { continue }
                if wire.mayCarryError {
                    for dialect in [ErrorDialect.openAICompatible, .openRouter] {
                        let error = UpstreamErrorMapper.embeddedError(in: wire.object, dialect: dialect, provider: .openaiCompatible)
                        if let error { checkAnswer(OutgoingMessage.failure(id: .int(1), error: error.rpcError)) }
                    }
                }
                take(accumulator.add(wire.completionChunk))
            }
            take(accumulator.finish())
            let result = accumulator.result(provider: .openaiCompatible, timing: Timing(ttftMs: nil, totalMs: 0))
            precondition(content == (result.content ?? ""), "the content deltas do not add up to the result's content")
            precondition(reasoning == (result.reasoning ?? ""), "the reasoning deltas do not add up to the result's reasoning")
            if stripThink {
                // A stray closing tag is ordinary text (PROTOCOL §7); an opening tag never reaches the content.
                precondition(!content.contains("<think>") && !content.contains("<thinking>"), "a <think> tag reached the content")
            }
            precondition(result.toolCalls.count == arguments.count, "tool calls in the result and in the deltas differ")
            let raws = result.toolCalls.map(\.argumentsRaw).sorted()
            precondition(raws == arguments.values.sorted(), "tool-call argument deltas do not add up to arguments_raw")
            checkAnswer(OutgoingMessage.response(id: .int(1), result: result))
            if tools == nil, stripThink { plain = result }
            if tools != nil, let plain, plain.toolCalls.count == result.toolCalls.count {
                precondition(plain.content == result.content, "text that was not a tool call changed on the way")
            }
        }
    }

    private static func parseSSE(_ input: UnsafeRawBufferPointer, limit: Int, cutting: Bool) -> (items: [SSEItem], failed: Bool) {
        var parser = SSEParser(maxLineBytes: limit)
        var items: [SSEItem] = []
        do {
            if cutting {
                var start = 0
                var step = 1
                while start < input.count {
                    let end = min(input.count, start + step)
                    try parser.feed(UnsafeRawBufferPointer(rebasing: input[start..<end])) { items.append($0) }
                    start = end
                    step = step % 5 + 1 + Int(input[end - 1] & 7)
                }
            } else {
                try parser.feed(input) { items.append($0) }
            }
            try parser.finish { items.append($0) }
        } catch {
            return (items, true)
        }
        return (items, false)
    }
}
