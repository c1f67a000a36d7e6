import Foundation

/// How a request is named on each of its log lines: `[id "abc" #3] chatStream`, or `[notification #4] listModels`.
///
/// The id is written as JSON text, as the client wrote it (a string quoted and escaped), and `#3` is the worker's own
/// number for the request (in reading order), so requests that share an id, or have none, are still told apart.
/// `[` and `]` inside the tag are escaped too (`\u005b`, `\u005d`, valid JSON escapes), so the first `]` ends the tag
/// and an id can neither break the line nor pass for another request's tag. A method that is not a plain name is
/// quoted the same way. The text is built only when a line is written.
struct LogTag: Sendable {
    let id: RequestID?
    let number: UInt64
    private let rawMethod: String

    init(id: RequestID?, number: UInt64, method: String) {
        self.id = id
        self.number = number
        rawMethod = method
    }

    /// `[id "abc" #3]`.
    var text: String {
        let name = id.map { "id " + Self.escaped(String(decoding: $0.jsonBytes, as: UTF8.self)) } ?? "notification"
        return "[\(name) #\(number)]"
    }

    /// The tag once the redactor has looked at it: what it removed is marked with brackets, escaped here again.
    func text(scrubbedBy redactor: Redactor) -> String {
        let plain = text
        let scrubbed = redactor.scrub(plain)
        guard scrubbed != plain, scrubbed.hasPrefix("["), scrubbed.hasSuffix("]") else { return scrubbed }
        return "[" + Self.escaped(String(scrubbed.dropFirst().dropLast())) + "]"
    }

    var method: String {
        let plain = !rawMethod.isEmpty && rawMethod.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-/".unicodeScalars.contains($0)) }
        if plain { return rawMethod }
        var bytes: [UInt8] = []
        JSONText.appendString(rawMethod, to: &bytes)
        return Self.escaped(String(decoding: bytes, as: UTF8.self))
    }

    /// JSON text with the brackets, and what JSON leaves as it is but a reader may take for a line break, escaped.
    static func escaped(_ json: String) -> String {
        guard json.unicodeScalars.contains(where: needsEscape) else { return json }
        var result = String.UnicodeScalarView()
        for scalar in json.unicodeScalars {
            if needsEscape(scalar) {
                result.append(contentsOf: String(format: "\\u%04x", scalar.value).unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return String(result)
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "[" || scalar == "]" || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) || Logger.isLineBreak(scalar)
    }
}
