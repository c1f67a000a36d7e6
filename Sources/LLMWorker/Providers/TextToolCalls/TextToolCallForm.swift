/// The ways models write tool calls as text when the server does not parse them (see PROTOCOL.md §7.1).
enum TextToolCallForm: Sendable, CaseIterable {
    /// Hermes, Qwen2.5, Qwen3: `<tool_call>{"name": …, "arguments": {…}}</tool_call>`.
    case hermes
    /// Qwen3-Coder, Qwen3.5: `<tool_call><function=NAME><parameter=P>value</parameter></function></tool_call>`, or the
    /// same without the `<tool_call>` wrapper.
    case qwenXML
    /// Mistral: `[TOOL_CALLS][{"name": …, "arguments": {…}}]` or `[TOOL_CALLS]NAME{…}` (optionally `NAME[ARGS]{…}`).
    case mistral
    /// Llama 3.1 and later: `<|python_tag|>{"name": …, "parameters": {…}}`, several separated by `;`.
    case pythonTag
    /// Llama (and Qwen on some servers) without a marker: the content starts with `{"name": …, "parameters": {…}}`
    /// (or with a list of such objects: Mistral's, when the server dropped the `[TOOL_CALLS]` token).
    case bareJSON

    /// How the warning of a recovered call names the form.
    var label: String {
        switch self {
        case .hermes: return "<tool_call> JSON (Hermes/Qwen)"
        case .qwenXML: return "<function=…> XML (Qwen3-Coder)"
        case .mistral: return "[TOOL_CALLS] (Mistral)"
        case .pythonTag: return "<|python_tag|> JSON (Llama)"
        case .bareJSON: return "bare JSON at the start of the answer (Llama)"
        }
    }

    var recoveredWarning: String {
        "A tool call the model wrote as text, in the form \(label), was recovered: the server did not turn it into "
            + "tool_calls (vLLM needs --tool-call-parser, llama.cpp --jinja)."
    }

    func rejectedWarning(_ reason: String) -> String {
        "Text in the form \(label) looked like a tool call but was left as content: \(reason)."
    }

    /// A marker that starts a form wherever it appears in the content, and the form it starts (`<tool_call>` may
    /// hold either JSON or the XML form: which one is known after it).
    struct Opener: Sendable {
        let bytes: [UInt8]
        let form: TextToolCallForm
    }

    static let openers: [Opener] = [
        Opener(bytes: Array("<tool_call>".utf8), form: .hermes),
        Opener(bytes: Array("<function=".utf8), form: .qwenXML),
        Opener(bytes: Array("[TOOL_CALLS]".utf8), form: .mistral),
        Opener(bytes: Array("<|python_tag|>".utf8), form: .pythonTag),
    ]

    /// Whether `text` contains a whole opener anywhere.
    static func mentionsOpener(_ text: String) -> Bool {
        openers.contains { text.utf8.firstRange(of: $0.bytes) != nil }
    }

    /// The keys a call object may start with: `{"name": …}`, `{"arguments": …, "name": …}`, Llama's
    /// `{"type": "function", "name": …, "parameters": …}`, and `args` (some Ollama templates).
    static let callKeys: [[UInt8]] = ["name", "arguments", "parameters", "args", "type"].map { Array($0.utf8) }
}
