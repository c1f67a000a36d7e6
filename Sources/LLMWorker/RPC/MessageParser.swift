import Foundation

/// Turns one input line into requests, following JSON-RPC 2.0 to the letter: what is not JSON is a parse
/// error, what is JSON but not a request is an invalid request (answered with the request's id when it has a
/// usable one, else null), an empty batch is invalid.
enum MessageParser {
    enum Item: Sendable {
        case message(IncomingMessage)
        case invalid(RequestID, RPCError)
    }

    enum Parsed: Sendable {
        case single(Item)
        case batch([Item])
        case failure(RPCError)
        /// A line with nothing but a byte order mark and white space: ignored, like a blank line.
        case blank
    }

    /// Just the envelope; params are left undecoded (only their JSON type is looked at).
    private struct Envelope: Decodable {
        enum ParamsShape { case absent, object, other }
        var jsonrpc: String?
        var hasID = false
        var id: RequestID?
        var idIsValid = true
        var method: String?
        var methodIsPresent = false
        var params = ParamsShape.absent

        enum CodingKeys: String, CodingKey { case jsonrpc, id, method, params }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            jsonrpc = try? c.decode(String.self, forKey: .jsonrpc)
            if c.contains(.id) {
                hasID = true
                if let value = try? c.decode(RequestID.self, forKey: .id) { id = value } else { idIsValid = false }
            }
            methodIsPresent = c.contains(.method)
            method = try? c.decode(String.self, forKey: .method)
            if c.contains(.params) {
                params = (try? c.nestedContainer(keyedBy: CodingKeys.self, forKey: .params)) != nil ? .object : .other
            }
        }
    }

    static func parse(_ input: Data) -> Parsed {
        // JSON text is UTF-8 (RFC 8259); the decoder would otherwise report bad bytes as whatever field held them.
        let isUTF8 = input.withUnsafeBytes { String(validating: $0.bindMemory(to: UInt8.self), as: UTF8.self) != nil }
        guard isUTF8 else { return .failure(.parseError("the line is not valid UTF-8")) }
        // A byte order mark, as some Windows editors write, is not part of the message.
        let line = input.starts(with: [0xEF, 0xBB, 0xBF]) ? input.dropFirst(3) : input
        if line.starts(with: [0xEF, 0xBB, 0xBF]) {
            return .failure(.parseError("the line starts with two byte order marks; only one, at the very start, is ignored"))
        }
        switch line.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) {
        case nil:
            return .blank
        case UInt8(ascii: "{"):
            do {
                let parsed = try item(fromObject: line)
                // The decoder reports a bad string only when that value is decoded, the envelope decodes its
                // fields leniently, and the decoder reads an underflowing number as 0: a request found invalid, or
                // one holding a raw control character, a surrogate escape or a large negative exponent anywhere
                // (even in a member nobody reads), is checked as JSON text first.
                var suspect = mayHideFaults(line)
                if case .invalid = parsed { suspect = true }
                if suspect, let problem = syntaxProblem(in: line) { return .failure(.parseError(problem)) }
                return .single(parsed)
            } catch {
                return .failure(.parseError(syntaxProblem(in: line) ?? "the line is not valid JSON"))
            }
        case UInt8(ascii: "["):
            let elements: [JSONValue]
            do {
                elements = try JSONDecoder().decode([JSONValue].self, from: line)
            } catch {
                return .failure(.parseError(syntaxProblem(in: line) ?? "the line is not valid JSON"))
            }
            guard !elements.isEmpty else { return .failure(.invalidRequest("an empty batch is not a request")) }
            // Each object is read from its own bytes, as a single request is, so its id keeps its spelling.
            if let ranges = JSONScanner.elements(ofArray: line), ranges.count == elements.count {
                return .batch(zip(elements, ranges).map { item(fromElement: $0, bytes: line.bytes(in: $1)) })
            }
            return .batch(elements.map { item(fromElement: $0, bytes: nil) })
        default:
            if let problem = syntaxProblem(in: line) { return .failure(.parseError(problem)) }
            return .failure(.invalidRequest("a request must be a JSON object (or a batch: an array of them)"))
        }
    }

    private static func item(fromElement element: JSONValue, bytes: Data?) -> Item {
        guard element.objectValue != nil, let data = bytes ?? (try? JSONEncoder().encode(element)),
              let parsed = try? item(fromObject: data) else {
            return .invalid(.null, .invalidRequest("a request must be a JSON object, got \(element.typeName)"))
        }
        return parsed
    }

    private static func item(fromObject line: Data) throws -> Item {
        let envelope = try JSONDecoder().decode(Envelope.self, from: line)
        var replyID = envelope.idIsValid ? (envelope.id ?? .null) : .null
        // The decoder turns 1.0 into 1 and 2^64 into a rounded fraction: echo the number as the client wrote it.
        if replyID.isNumber, let range = JSONScanner.member("id", inObject: line),
           let exact = RequestID(numberSpelling: String(decoding: line.bytes(in: range), as: UTF8.self)) {
            replyID = exact
        }
        guard envelope.jsonrpc == "2.0" else {
            return .invalid(replyID, .invalidRequest("'jsonrpc' must be exactly \"2.0\""))
        }
        guard envelope.idIsValid else {
            return .invalid(.null, .invalidRequest("'id' must be a string, a number or null"))
        }
        guard let method = envelope.method else {
            let problem = envelope.methodIsPresent ? "'method' must be a string" : "'method' is missing"
            return .invalid(replyID, .invalidRequest(problem))
        }
        let params: IncomingMessage.Params
        switch envelope.params {
        case .absent:
            params = .absent
        case .object:
            params = .inMessage(line)
        case .other:
            // A notification is never answered, not even with an error: it goes on as a message whose params
            // fail to decode, which the dispatcher drops silently like any other failing notification.
            guard envelope.hasID else { return .message(IncomingMessage(id: nil, method: method, params: .inMessage(line))) }
            return .invalid(replyID, InvalidParams(field: "params", "must be an object of named params").rpcError)
        }
        return .message(IncomingMessage(id: envelope.hasID ? replyID : nil, method: method, params: params))
    }

    /// Whether `line` has a control character (tab and CR may only stand between tokens), a `\u` escape of a
    /// surrogate (`\uD800`–`\uDFFF`) or an exponent of -100 or below (a number that may underflow to 0): the only
    /// faults lenient decoding can miss. One pass over the bytes, so the full check runs only for the rare line
    /// that needs it.
    static func mayHideFaults(_ line: Data) -> Bool {
        line.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte < 0x20 { return true }
                if byte == UInt8(ascii: "\\"), index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "u"),
                   bytes[index + 2] | 0x20 == UInt8(ascii: "d") {
                    return true
                }
                if byte | 0x20 == UInt8(ascii: "e"), index + 4 < bytes.count, bytes[index + 1] == UInt8(ascii: "-"),
                   (bytes[index + 2...index + 4]).allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) {
                    return true
                }
                index += 1
            }
            return false
        }
    }

    /// What makes `line` not JSON, said so that a person typing requests by hand can fix it; nil if it is JSON.
    static func syntaxProblem(in line: Data) -> String? {
        do {
            _ = try JSONReader.parse(line, refusingUnderflow: true)
            return nil
        } catch let failure as JSONReader.Failure {
            var text = "the line is not valid JSON: \(failure)"
            if failure.message == "control character in a string" {
                text += " (write a tab as \\t and a line break as \\n)"
            } else if failure.offset >= line.count || failure.message == "unterminated string" {
                text += " (the line ended before the JSON did: each message must be on one line)"
            }
            return text
        } catch {
            return "the line is not valid JSON"
        }
    }
}

private extension Data {
    /// The bytes at `range`, counted from the start of this data (which may be a slice).
    func bytes(in range: Range<Int>) -> Data {
        subdata(in: (startIndex + range.lowerBound)..<(startIndex + range.upperBound))
    }
}
