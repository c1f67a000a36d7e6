import Foundation

/// The `tool_calls` of a message in the history, in either shape a client has at hand:
/// - the wire shape `{"id", "type": "function", "function": {"name", "arguments"}}`, forwarded as given except
///   that `arguments` given as an object is serialized (the server expects a JSON string);
/// - the worker's own ToolCall shape from a ChatResult, `{"id", "name", "arguments", "arguments_raw"?}`, which is
///   rewritten into the wire shape, so a result's tool calls can go back into the history as they came.
///
/// An entry with a `function` member is in the wire shape; any other is read as a ToolCall. Of a ToolCall only `id`,
/// `name` and `arguments` are sent: `arguments` is always a valid JSON object there, while `arguments_raw` may be
/// the model's malformed text, which some servers refuse to put back into a prompt.
enum HistoryToolCalls {
    /// `calls` as the server must receive them. Throws naming the first entry that is neither shape.
    static func wireShape(_ calls: JSONValue, field: String) throws(InvalidParams) -> JSONValue {
        if calls.isNull { return calls }
        guard let entries = calls.arrayValue else {
            throw InvalidParams(field: field, "must be an array of tool calls, got \(calls.typeName)")
        }
        var converted: [JSONValue] = []
        for (index, entry) in entries.enumerated() {
            let entryField = "\(field)[\(index)]"
            guard let object = entry.objectValue else {
                throw InvalidParams(field: entryField, "must be an object, got \(entry.typeName)")
            }
            converted.append(object["function"] == nil ? try fromToolCall(object, field: entryField) : fromWire(object))
        }
        return .array(converted)
    }

    private static func fromWire(_ call: [String: JSONValue]) -> JSONValue {
        guard case .object(var function)? = call["function"], let arguments = function["arguments"],
              arguments.stringValue == nil else { return .object(call) }
        var call = call
        function["arguments"] = .string(serialized(arguments))
        call["function"] = .object(function)
        return .object(call)
    }

    private static func fromToolCall(_ call: [String: JSONValue], field: String) throws(InvalidParams) -> JSONValue {
        guard let name = call["name"]?.stringValue, !name.isEmpty else {
            throw InvalidParams(field: "\(field).name", "must be a non-empty string: a tool call is {\"id\", \"name\", \"arguments\"} (a ChatResult's) or {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}")
        }
        guard let id = call["id"]?.stringValue else {
            throw InvalidParams(field: "\(field).id", "must be a string: the id the tool's answer refers to in tool_call_id")
        }
        let arguments: String
        switch call["arguments"] {
        case nil, .null?: arguments = "{}"
        case .string(let text)?: arguments = text
        case .object(let members)?: arguments = serialized(.object(members))
        case let other?:
            throw InvalidParams(field: "\(field).arguments", "must be an object or a string of JSON, got \(other.typeName)")
        }
        return .object(["id": .string(id), "type": .string("function"),
                        "function": .object(["name": .string(name), "arguments": .string(arguments)])])
    }

    private static func serialized(_ arguments: JSONValue) -> String {
        let data = (try? OutgoingMessage.encoder().encode(arguments)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
