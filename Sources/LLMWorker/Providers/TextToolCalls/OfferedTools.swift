import Foundation

/// The tools a request offered, as far as recovering calls written as text needs them: their names (a call to any
/// other name is not a call) and the declared types of their parameters (the XML form writes every value as text).
struct OfferedTools: Sendable {
    /// Tool name → its `parameters.properties` object (empty when the tool declares none).
    private let properties: [String: [String: JSONValue]]

    /// nil when the request offered no tool with a name: then nothing is recovered.
    init?(_ tools: [JSONValue]?) {
        var properties: [String: [String: JSONValue]] = [:]
        for tool in tools ?? [] {
            // OpenAI nests the function; accept a flat `{"name", "parameters"}` too, as the wire parser does.
            let function = tool["function"]?.objectValue ?? tool.objectValue ?? [:]
            guard let name = function["name"]?.stringValue, !name.isEmpty else { continue }
            properties[name] = function["parameters"]?["properties"]?.objectValue ?? [:]
        }
        if properties.isEmpty { return nil }
        self.properties = properties
    }

    func offers(_ name: String) -> Bool {
        properties[name] != nil
    }

    /// A parameter value written as raw text, typed by the tool's schema: a number, boolean, null, object or array
    /// when the schema declares that type and the text reads as one; otherwise the text itself, as a string.
    func value(_ text: String, parameter: String, of tool: String) -> JSONValue {
        let declared: [String]
        switch properties[tool]?[parameter]?["type"] {
        case .string(let type)?: declared = [type]
        case .array(let types)?: declared = types.compactMap(\.stringValue)
        default: declared = []
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        for type in declared {
            if let value = Self.read(trimmed, as: type) { return value }
        }
        return .string(text)
    }

    private static func read(_ text: String, as type: String) -> JSONValue? {
        switch type {
        case "integer":
            return Int64(text).map(JSONValue.int)
        case "number":
            if let whole = Int64(text) { return .int(whole) }
            guard let number = Double(text), number.isFinite else { return nil }
            return .double(number)
        case "boolean":
            switch text.lowercased() {
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: return nil
            }
        case "null":
            return text == "null" ? .null : nil
        case "object", "array":
            guard let value = try? JSONReader.parse(Data(text.utf8)) else { return nil }
            switch value {
            case .object where type == "object", .array where type == "array": return value
            default: return nil
            }
        default:
            return nil
        }
    }
}
