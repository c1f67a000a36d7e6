import Foundation

/// Lines the worker writes: responses, error responses and notifications, each one JSON object.
enum OutgoingMessage {
    private struct Notification<Params: Encodable>: Encodable {
        let jsonrpc = "2.0"
        let method: String
        let params: Params
    }

    /// Sorted keys: the same answer is always the same bytes, which people diffing logs appreciate.
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }

    static func response<Result: Encodable>(id: RequestID, result: Result) -> Data {
        do {
            return envelope(id: id, member: "result", try encoder().encode(result))
        } catch {
            return failure(id: id, error: .internalError("could not encode the result: \(error)"))
        }
    }

    static func failure(id: RequestID, error: RPCError) -> Data {
        // An error object is plain strings and JSON values: encoding it cannot fail.
        envelope(id: id, member: "error", (try? encoder().encode(error)) ?? Data("null".utf8))
    }

    /// `{"jsonrpc":"2.0","id":…,"result"|"error":…}`, in the order the JSON-RPC spec shows.
    private static func envelope(id: RequestID, member: String, _ body: Data) -> Data {
        var line = Data(#"{"jsonrpc":"2.0","id":"#.utf8)
        line.append(id.jsonBytes)
        line.append(contentsOf: Array(",\"\(member)\":".utf8))
        line.append(body)
        line.append(UInt8(ascii: "}"))
        return line
    }

    static func notification<Params: Encodable>(method: String, params: Params) -> Data {
        (try? encoder().encode(Notification(method: method, params: params))) ?? Data()
    }

    /// A batch's responses as one JSON array line.
    static func batch(_ responses: [Data]) -> Data {
        var line = Data("[".utf8)
        for (index, response) in responses.enumerated() {
            if index > 0 { line.append(UInt8(ascii: ",")) }
            line.append(response)
        }
        line.append(UInt8(ascii: "]"))
        return line
    }
}
