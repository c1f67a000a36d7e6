import Foundation

extension FuzzEntryPoints {
    /// The tools the fuzzed answers may call.
    static let fuzzTools: [JSONValue]? = (try? JSONReader.parse(Data(#"""
        [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
          "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}}},
         {"type": "function", "function": {"name": "f"}}]
        """#.utf8)))?.arrayValue

    /// `input` read as content text, through `TextToolCallFilter` whole and cut into pieces: the same content and
    /// calls either way; never more held back than the bound; without a recovered call, the content is the text.
    static func textToolCalls(_ input: UnsafeRawBufferPointer) {
        let text = String(decoding: input, as: UTF8.self)
        let whole = filter([text])
        var pieces: [String] = []
        var rest = Substring(text)
        var step = 1
        while !rest.isEmpty {
            let piece = rest.prefix(step)
            pieces.append(String(piece))
            rest = rest.dropFirst(piece.count)
            step = step % 11 + 1 + Int(piece.utf8.last ?? 0) % 5
        }
        let cut = filter(pieces)
        precondition(whole == cut, "recovering tool calls from the text depends on how it was cut")
        if whole.calls.isEmpty {
            precondition(whole.content == text, "text that was not a tool call changed on the way")
        }
    }

    private static func filter(_ pieces: [String]) -> TextToolCallFilter.Output {
        var filter = TextToolCallFilter(tools: fuzzTools.flatMap(OfferedTools.init))
        var total = TextToolCallFilter.Output()
        func take(_ output: TextToolCallFilter.Output) {
            total.content += output.content
            total.calls += output.calls
            total.warnings += output.warnings.filter { !total.warnings.contains($0) }
        }
        for piece in pieces {
            take(filter.feed(piece))
            precondition(filter.heldText.utf8.count <= TextToolCallFilter.holdLimit, "held back more than the bound")
        }
        take(filter.finish())
        return total
    }
}
