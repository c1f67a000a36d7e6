/// Ids for tool calls recovered from text, which have none: `call_` and 24 random letters and digits, the shape of
/// OpenAI's ids. Servers that keep only the last 9 characters of an id (vLLM for Mistral models) still get letters
/// and digits only.
enum RecoveredCallID {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    static func next() -> String {
        var generator = SystemRandomNumberGenerator()
        return "call_" + String((0..<24).map { _ in alphabet.randomElement(using: &generator)! })
    }
}
