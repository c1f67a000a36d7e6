import Foundation

/// Reads a whole tool call written as text (from its opener to its end, as `TextToolCallScanner` found them) into
/// calls to offered tools. All or nothing: when any call of the text is not valid, none is, and the text stays content.
enum TextToolCallParser {
    struct Call: Equatable, Sendable {
        var name: String
        /// The arguments as tool calls carry them: a JSON object's compact text, or a string given as is.
        var arguments: String
    }

    enum Outcome: Equatable, Sendable {
        case calls([Call], form: TextToolCallForm)
        case rejected(form: TextToolCallForm, reason: String)
    }

    private struct Rejection: Error {
        let reason: String
    }

    /// `opener` is the form the opener announced (`<tool_call>` announces Hermes JSON; it may hold the XML form).
    static func parse(_ text: [UInt8], opener: TextToolCallForm, tools: OfferedTools) -> Outcome {
        var form = opener
        do {
            let calls: [Call]
            switch opener {
            case .hermes:
                let body = try between(text, "<tool_call>", "</tool_call>")
                if body.first == UInt8(ascii: "<") {
                    form = .qwenXML
                    calls = [try xmlCall(String(decoding: body, as: UTF8.self), tools: tools)]
                } else {
                    calls = [try call(in: try json(body), tools: tools)]
                }
            case .qwenXML:
                calls = [try xmlCall(String(decoding: text, as: UTF8.self), tools: tools)]
            case .mistral:
                calls = try mistralCalls(trimmed(text.dropFirst("[TOOL_CALLS]".utf8.count)), tools: tools)
            case .pythonTag:
                calls = try sequence(Array(text.dropFirst("<|python_tag|>".utf8.count)), tools: tools)
            case .bareJSON:
                let body = trimmed(text[...])
                calls = body.first == UInt8(ascii: "[") ? try callList(body, tools: tools) : try sequence(text, tools: tools)
            }
            return .calls(calls, form: form)
        } catch {
            return .rejected(form: form, reason: error.reason)
        }
    }

    // MARK: Forms

    private static func mistralCalls(_ text: ArraySlice<UInt8>, tools: OfferedTools) throws(Rejection) -> [Call] {
        switch text.first {
        case UInt8(ascii: "[")?:
            return try callList(text, tools: tools)
        case UInt8(ascii: "{")?:
            return [try call(in: try json(text), tools: tools)]
        default:
            // NAME{…} or NAME[ARGS]{…}
            let name = text.prefix(while: TextToolCallScanner.isNameByte)
            var rest = text.dropFirst(name.count)
            let argsMarker = Array("[ARGS]".utf8)
            if rest.starts(with: argsMarker) { rest = rest.dropFirst(argsMarker.count) }
            return [try call(named: String(decoding: name, as: UTF8.self), arguments: try json(rest), tools: tools)]
        }
    }

    /// A JSON array of call objects.
    private static func callList(_ text: ArraySlice<UInt8>, tools: OfferedTools) throws(Rejection) -> [Call] {
        guard case .array(let items) = try json(text), !items.isEmpty else { throw Rejection(reason: "it is not a list of calls") }
        var calls: [Call] = []
        for item in items { calls.append(try call(in: item, tools: tools)) }
        return calls
    }

    /// Call objects separated by `;` or whitespace (Llama).
    private static func sequence(_ text: [UInt8], tools: OfferedTools) throws(Rejection) -> [Call] {
        var calls: [Call] = []
        var index = 0
        while index < text.count {
            let byte = text[index]
            if TextToolCallScanner.isSpace(byte) || byte == UInt8(ascii: ";") {
                index += 1
                continue
            }
            guard byte == UInt8(ascii: "{"), let end = JSONScanner.endOfValue(in: text, at: index) else {
                throw Rejection(reason: "it is not valid JSON")
            }
            calls.append(try call(in: try json(text[index..<end]), tools: tools))
            index = end
        }
        guard !calls.isEmpty else { throw Rejection(reason: "it holds no call") }
        return calls
    }

    /// `<function=NAME>` then `<parameter=KEY>value</parameter>` any number of times, then `</function>`. Values are
    /// raw text (one line break after the opening tag and one before the closing tag are layout, not value), typed by
    /// the tool's schema. A parameter without its closing tag ends at the next one or at `</function>`.
    private static func xmlCall(_ text: String, tools: OfferedTools) throws(Rejection) -> Call {
        let malformed = Rejection(reason: "its <function=…> markup is not well formed")
        guard text.hasPrefix("<function="), let nameEnd = text.firstIndex(of: ">"), text.hasSuffix("</function>") else {
            throw malformed
        }
        let name = String(text[text.index(text.startIndex, offsetBy: "<function=".count)..<nameEnd])
        try checkOffered(name, tools)
        var rest = text[text.index(after: nameEnd)...].dropLast("</function>".count)
        var arguments: [String: JSONValue] = [:]
        while true {
            rest = rest.drop(while: \.isWhitespace)
            if rest.isEmpty { break }
            guard rest.hasPrefix("<parameter="), let keyEnd = rest.firstIndex(of: ">") else { throw malformed }
            let key = String(rest[rest.index(rest.startIndex, offsetBy: "<parameter=".count)..<keyEnd])
            var value = rest[rest.index(after: keyEnd)...]
            let closing = value.range(of: "</parameter>")
            let next = value.range(of: "<parameter=")
            if let closing, next.map({ closing.lowerBound < $0.lowerBound }) ?? true {
                rest = value[closing.upperBound...]
                value = value[..<closing.lowerBound]
            } else if let next {
                rest = value[next.lowerBound...]
                value = value[..<next.lowerBound]
            } else {
                rest = value[value.endIndex...]
            }
            if value.hasPrefix("\n") { value = value.dropFirst() }
            if value.hasSuffix("\n") { value = value.dropLast() }
            arguments[key] = tools.value(String(value), parameter: key, of: name)
        }
        return Call(name: name, arguments: ToolCallAssembler.argumentsText(.object(arguments)))
    }

    // MARK: Pieces

    /// A call object: `name` and the arguments under `arguments`, `parameters` (Llama) or `args`.
    private static func call(in value: JSONValue, tools: OfferedTools) throws(Rejection) -> Call {
        guard case .object(let object) = value else { throw Rejection(reason: "it is not a JSON object") }
        guard let name = object["name"]?.stringValue else { throw Rejection(reason: "it names no tool") }
        let arguments = ["arguments", "parameters", "args"].lazy.compactMap { object[$0] }.first { !$0.isNull }
        return try call(named: name, arguments: arguments ?? .null, tools: tools)
    }

    private static func call(named name: String, arguments: JSONValue, tools: OfferedTools) throws(Rejection) -> Call {
        try checkOffered(name, tools)
        switch arguments {
        case .null:
            return Call(name: name, arguments: "{}")
        case .object:
            return Call(name: name, arguments: ToolCallAssembler.argumentsText(arguments))
        case .string(let text) where ToolCallAssembler.parseArguments(text).1 == nil:
            return Call(name: name, arguments: text)
        default:
            throw Rejection(reason: "the arguments of '\(name)' are not a JSON object")
        }
    }

    private static func checkOffered(_ name: String, _ tools: OfferedTools) throws(Rejection) {
        guard tools.offers(name) else { throw Rejection(reason: "the tool '\(name)' was not offered") }
    }

    private static func json<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws(Rejection) -> JSONValue {
        guard let value = try? JSONReader.parse(Data(bytes)) else { throw Rejection(reason: "it is not valid JSON") }
        return value
    }

    /// The text between `open` and `close`, whitespace around it dropped.
    private static func between(_ text: [UInt8], _ open: String, _ close: String) throws(Rejection) -> ArraySlice<UInt8> {
        let (head, tail) = (Array(open.utf8), Array(close.utf8))
        guard text.count >= head.count + tail.count, text.starts(with: head), text.suffix(tail.count).elementsEqual(tail) else {
            throw Rejection(reason: "its markers are not complete")
        }
        return trimmed(text[head.count..<(text.count - tail.count)])
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, TextToolCallScanner.isSpace(first) { slice = slice.dropFirst() }
        while let last = slice.last, TextToolCallScanner.isSpace(last) { slice = slice.dropLast() }
        return slice
    }
}
