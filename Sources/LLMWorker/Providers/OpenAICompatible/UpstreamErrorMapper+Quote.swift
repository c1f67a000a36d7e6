import Foundation

extension UpstreamErrorMapper {
    // MARK: - Text helpers

    /// Shortening and cleaning text quoted from a server.
    enum Quote {
        /// The first `limit` characters of a body that is not JSON, whitespace collapsed; for an HTML page its `<title>`,
        /// else its text without tags. Nil when nothing readable is left. Invalid UTF-8 is replaced, never fatal.
        static func snippet(of data: Data, limit: Int) -> String? {
            let text = String(decoding: data.prefix(64 * 1024), as: UTF8.self)
            var readable = collapseWhitespace(text)
            if looksLikeMarkup(text) {
                // An HTML page (or an XML error document): its title, else its text without the tags.
                var extracted: String
                if let title = htmlTitle(text), !collapseWhitespace(title).isEmpty {
                    extracted = title
                } else {
                    extracted = stripTags(text)
                }
                extracted = collapseWhitespace(decodeEntities(extracted))
                if !extracted.isEmpty { readable = extracted }
            }
            guard !readable.isEmpty else { return nil }
            return clip(Redactor.scrubPatterns(readable), to: limit)
        }

        static func looksLikeMarkup(_ text: String) -> Bool {
            text.prefix(256).trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("<")
        }

        static func htmlTitle(_ html: String) -> String? {
            guard let open = html.range(of: "<title", options: .caseInsensitive),
                  let openEnd = html.range(of: ">", range: open.upperBound..<html.endIndex),
                  let close = html.range(of: "</title", options: .caseInsensitive, range: openEnd.upperBound..<html.endIndex)
            else { return nil }
            return String(html[openEnd.upperBound..<close.lowerBound])
        }

        /// The text of an HTML page: `<script>`/`<style>` blocks and all tags replaced by spaces.
        static func stripTags(_ html: String) -> String {
            var text = html
            for block in ["script", "style"] {
                while let open = text.range(of: "<\(block)", options: .caseInsensitive) {
                    if let close = text.range(of: "</\(block)>", options: .caseInsensitive, range: open.upperBound..<text.endIndex) {
                        text.replaceSubrange(open.lowerBound..<close.upperBound, with: " ")
                    } else {
                        text.removeSubrange(open.lowerBound..<text.endIndex)
                    }
                }
            }
            var out = ""
            out.reserveCapacity(text.count)
            var inTag = false
            for character in text {
                if inTag {
                    if character == ">" { inTag = false; out.append(" ") }
                } else if character == "<" {
                    inTag = true
                } else {
                    out.append(character)
                }
            }
            return out
        }

        static func decodeEntities(_ text: String) -> String {
            guard text.contains("&") else { return text }
            var result = text
            for (entity, character) in [("&nbsp;", " "), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""),
                                        ("&#39;", "'"), ("&apos;", "'"), ("&#x27;", "'"), ("&amp;", "&")] {
                result = result.replacingOccurrences(of: entity, with: character, options: .caseInsensitive)
            }
            return result
        }

        /// Runs of whitespace (newlines included) become one space; other control characters go; ends are trimmed.
        static func collapseWhitespace(_ text: String) -> String {
            var out = ""
            out.reserveCapacity(text.utf8.count)
            var pendingSpace = false
            for scalar in text.unicodeScalars {
                if scalar.properties.isWhitespace {
                    pendingSpace = !out.isEmpty
                } else if scalar.properties.generalCategory == .control {
                    continue
                } else {
                    if pendingSpace { out.append(" "); pendingSpace = false }
                    out.unicodeScalars.append(scalar)
                }
            }
            return out
        }

        /// At most `limit` characters, with "…" when cut.
        static func clip(_ text: String, to limit: Int) -> String {
            guard text.count > limit else { return text }
            return String(text.prefix(max(0, limit - 1))).trimmingCharacters(in: .whitespaces) + "…"
        }

        /// Text ending like a sentence, so advice can follow it.
        static func sentence(_ text: String) -> String {
            guard let last = text.last else { return text }
            return ".!?…".contains(last) ? text : text + "."
        }

        static func compactJSON(_ value: JSONValue) -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            guard let data = try? encoder.encode(value) else { return "" }
            return String(decoding: data, as: UTF8.self)
        }
    }
}
