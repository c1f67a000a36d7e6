import Foundation

/// Puts streamed tool-call fragments back together and turns them into `ToolCall`s whose `arguments`
/// is always a JSON object, whatever the server or the model produced.
struct ToolCallAssembler: Sendable {
    private struct Pending: Sendable {
        var id: String?
        var name: String = ""
        var arguments: String = ""

        /// Nothing arrived for this call but its index: nothing of it was sent to the client either.
        var isBlank: Bool { id == nil && name.isEmpty && arguments.isEmpty }
    }

    /// Keyed by the index the client sees.
    private var calls: [Int: Pending] = [:]
    private var order: [Int] = []
    /// The server's index of each call it sent → the index the client sees: the same, unless a call recovered from
    /// the text (`addWhole`) already took that index.
    private var clientIndex: [Int: Int] = [:]
    /// The server index of the last fragment.
    private var lastIndex: Int?

    var isEmpty: Bool { !calls.values.contains { !$0.isBlank } }

    /// Adds fragments and returns what the client is to be sent of them: `index` filled in (servers that omit it get
    /// positional indexes), `id` and `name` only the first time they arrive, fragments that add nothing left out.
    mutating func add(_ fragments: [ToolCallFragment]) -> [ToolCallFragment] {
        var normalized: [ToolCallFragment] = []
        normalized.reserveCapacity(fragments.count)
        for (position, fragment) in fragments.enumerated() {
            let serverIndex = resolveIndex(fragment, position: position)
            let index = clientIndex[serverIndex] ?? {
                let index = calls[serverIndex] == nil ? serverIndex : nextIndex
                clientIndex[serverIndex] = index
                order.append(index)
                return index
            }()
            var pending = calls[index] ?? Pending()
            // id and name go to the client once, with the first fragment that has them: some servers repeat them in
            // every fragment, and client accumulators that concatenate names would double them.
            var out = ToolCallFragment(index: index, arguments: fragment.arguments)
            if pending.id == nil, let id = fragment.id, !id.isEmpty {
                pending.id = id
                out.id = id
            }
            if pending.name.isEmpty, let name = fragment.name, !name.isEmpty {
                pending.name = name
                out.name = name
            }
            if let arguments = fragment.arguments { pending.arguments += arguments }
            calls[index] = pending
            lastIndex = serverIndex
            if out.carriesSomething { normalized.append(out) }
        }
        return normalized
    }

    private func resolveIndex(_ fragment: ToolCallFragment, position: Int) -> Int {
        if let index = fragment.index { return index }
        // No index: a new id, or the first fragment ever, starts a new call; anything else continues the last one.
        guard let last = lastIndex else { return position }
        let lastID = clientIndex[last].flatMap { calls[$0]?.id }
        if let id = fragment.id, !id.isEmpty, lastID != id { return (clientIndex.keys.max() ?? -1) + 1 }
        return last
    }

    private var nextIndex: Int { (order.max() ?? -1) + 1 }

    /// Adds a whole call that did not come from the server's tool-call fragments (one recovered from the text) under
    /// the next free index; returns the one fragment the client is to be sent for it.
    mutating func addWhole(id: String, name: String, arguments: String) -> ToolCallFragment {
        let index = nextIndex
        order.append(index)
        calls[index] = Pending(id: id, name: name, arguments: arguments)
        return ToolCallFragment(index: index, id: id, name: name, arguments: arguments)
    }

    /// The assembled calls, in the order they began, plus a warning for every call whose arguments were not a JSON object.
    func finish() -> (calls: [ToolCall], warnings: [String]) {
        var result: [ToolCall] = []
        var warnings: [String] = []
        for (position, index) in order.enumerated() {
            // A call no fragment ever filled in was never announced to the client: it is not a call.
            guard let pending = calls[index], !pending.isBlank else { continue }
            let id = pending.id ?? "call_\(position)_\(UInt32.random(in: 0...UInt32.max))"
            let (arguments, problem) = Self.parseArguments(pending.arguments)
            if let problem {
                warnings.append("Tool call '\(pending.name)' (\(id)): \(problem); arguments set to {} and kept in arguments_raw.")
            }
            result.append(ToolCall(id: id, name: pending.name, arguments: arguments, argumentsRaw: pending.arguments))
        }
        return (result, warnings)
    }

    /// Arguments given as a JSON value (a server's object, the mock's script) → the text tool calls carry: compact
    /// JSON with sorted keys, as every answer is written.
    static func argumentsText(_ value: JSONValue) -> String {
        String(decoding: (try? OutgoingMessage.encoder().encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// Arguments text → object. Empty means no arguments; a JSON string holding an object (double-encoded) is unwrapped.
    static func parseArguments(_ raw: String) -> ([String: JSONValue], String?) {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return ([:], nil) }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(trimmed.utf8)) else {
            return ([:], "the arguments are not valid JSON")
        }
        switch value {
        case .object(let object):
            return (object, nil)
        case .string(let inner):
            if case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(inner.utf8)) {
                return (object, nil)
            }
            return ([:], "the arguments are a JSON string, not an object")
        case .null:
            return ([:], nil)
        default:
            return ([:], "the arguments are \(value.typeName), not a JSON object")
        }
    }
}
