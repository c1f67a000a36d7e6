import Foundation

/// Writes `chatStream.delta` notifications straight to bytes: this runs once per token.
struct DeltaEncoder: Sendable {
    /// `{"jsonrpc":"2.0","method":"chatStream.delta","params":{"id":<id>,"index":` — fixed for a request.
    private let prefix: [UInt8]

    init(requestID: RequestID) {
        var prefix: [UInt8] = []
        JSONText.append(#"{"jsonrpc":"2.0","method":"chatStream.delta","params":{"id":"#, to: &prefix)
        prefix.append(contentsOf: requestID.jsonBytes)
        JSONText.append(#","index":"#, to: &prefix)
        self.prefix = prefix
    }

    func line(index: Int, _ delta: DeltaPayload) -> [UInt8] {
        var out = prefix
        out.reserveCapacity(prefix.count + 48 + delta.content.utf8.count + delta.reasoning.utf8.count)
        JSONText.appendInt(index, to: &out)
        if !delta.content.isEmpty {
            JSONText.append(#","content":"#, to: &out)
            JSONText.appendString(delta.content, to: &out)
        }
        if !delta.reasoning.isEmpty {
            JSONText.append(#","reasoning":"#, to: &out)
            JSONText.appendString(delta.reasoning, to: &out)
        }
        if !delta.toolCalls.isEmpty {
            JSONText.append(#","tool_calls":["#, to: &out)
            for (position, fragment) in delta.toolCalls.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                JSONText.append(#"{"index":"#, to: &out)
                JSONText.appendInt(fragment.index ?? position, to: &out)
                if let id = fragment.id {
                    JSONText.append(#","id":"#, to: &out)
                    JSONText.appendString(id, to: &out)
                }
                if let name = fragment.name {
                    JSONText.append(#","name":"#, to: &out)
                    JSONText.appendString(name, to: &out)
                }
                if let arguments = fragment.arguments {
                    JSONText.append(#","arguments":"#, to: &out)
                    JSONText.appendString(arguments, to: &out)
                }
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        }
        JSONText.append("}}", to: &out)
        return out
    }
}
