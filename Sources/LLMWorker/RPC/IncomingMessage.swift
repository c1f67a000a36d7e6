import Foundation

/// One request or notification, with its envelope checked and its params still undecoded:
/// params are decoded by the method that knows their type, so a bad field is reported by name.
struct IncomingMessage: Sendable {
    enum Params: Sendable {
        case absent
        /// The whole message's JSON; its `params` member is an object, decoded in place (no copy of a large payload).
        case inMessage(Data)
    }

    private struct Envelope<P: Decodable>: Decodable {
        let params: P
    }

    /// nil for a notification, which is never answered.
    let id: RequestID?
    let method: String
    let params: Params

    /// Decodes the params as `P`, turning decoding failures into -32602 errors that name the field.
    func decodeParams<P: Decodable>(_ type: P.Type) throws -> P {
        do {
            switch params {
            case .absent: return try JSONDecoder().decode(P.self, from: Data("{}".utf8))
            case .inMessage(let message): return try JSONDecoder().decode(Envelope<P>.self, from: message).params
            }
        } catch let error as DecodingError {
            // A string the decoder could not read (a raw tab, a lone surrogate) makes the line not JSON at all.
            if case .inMessage(let message) = params, let problem = MessageParser.syntaxProblem(in: message) {
                throw RPCError.parseError(problem)
            }
            throw InvalidParams(decodingError: error)
        }
    }
}

extension InvalidParams {
    init(decodingError: DecodingError) {
        func path(_ codingPath: [CodingKey]) -> String {
            var text = ""
            let fieldPath = codingPath.first?.stringValue == "params" ? Array(codingPath.dropFirst()) : codingPath
            for key in fieldPath {
                if let index = key.intValue { text += "[\(index)]" } else { text += text.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return text.isEmpty ? "params" : text
        }
        func typeName(_ type: Any.Type) -> String {
            let name = String(describing: type)
            if name.contains("Int") { return "an integer" }
            if name.contains("Double") || name.contains("Float") { return "a number" }
            if name.contains("Bool") { return "a boolean" }
            if name.contains("String") && !name.contains("Dictionary") && !name.hasPrefix("Array") { return "a string" }
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "of the documented type"
        }
        switch decodingError {
        case .keyNotFound(let key, let context):
            self.init(field: path(context.codingPath + [key]), "is required")
        case .valueNotFound(let type, let context):
            self.init(field: path(context.codingPath), "may not be null: expected \(typeName(type))")
        case .typeMismatch(let type, let context):
            self.init(field: path(context.codingPath), "must be \(typeName(type))")
        case .dataCorrupted(let context):
            self.init(field: path(context.codingPath), "is invalid: \(context.debugDescription)")
        @unknown default:
            self.init(field: "params", "could not be decoded")
        }
    }
}
