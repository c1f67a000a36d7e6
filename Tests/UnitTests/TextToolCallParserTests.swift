import XCTest
@testable import LLMWorker

/// TextToolCallParser: the whole text of a tool call written as text → calls to offered tools, or a reason why not.
final class TextToolCallParserTests: XCTestCase {
    private typealias Call = TextToolCallParser.Call

    static let tools = OfferedTools(jsonArray(#"""
        [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {
           "city": {"type": "string"}, "days": {"type": "integer"}, "metric": {"type": "boolean"},
           "ratio": {"type": "number"}, "tags": {"type": "array"}, "where": {"type": ["object", "null"]}}}}},
         {"type": "function", "function": {"name": "get_time"}},
         {"name": "flat_tool", "parameters": {"type": "object"}}]
        """#))!

    /// A JSON array text as the worker's values.
    static func jsonArray(_ text: String) -> [JSONValue] {
        (try? JSONReader.parse(Data(text.utf8)))?.arrayValue ?? []
    }

    private func parse(_ text: String, _ opener: TextToolCallForm) -> TextToolCallParser.Outcome {
        TextToolCallParser.parse(Array(text.utf8), opener: opener, tools: Self.tools)
    }

    private func assertCalls(_ text: String, _ opener: TextToolCallForm, _ calls: [Call], form: TextToolCallForm? = nil,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(parse(text, opener), .calls(calls, form: form ?? opener), text, file: file, line: line)
    }

    private func assertRejected(_ text: String, _ opener: TextToolCallForm, because reason: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        guard case .rejected(_, let found) = parse(text, opener) else {
            return XCTFail("recovered: \(text)", file: file, line: line)
        }
        XCTAssertTrue(found.contains(reason), "\(text): \(found)", file: file, line: line)
    }

    func testHermesJSONInAnyKeyOrderAndWithArgs() {
        let paris = Call(name: "get_weather", arguments: #"{"city":"Paris"}"#)
        assertCalls("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", .hermes, [paris])
        assertCalls(#"<tool_call>{"arguments": {"city": "Paris"}, "name": "get_weather"}</tool_call>"#, .hermes, [paris])
        assertCalls(#"<tool_call> {"name": "get_weather", "args": {"city": "Paris"}} </tool_call>"#, .hermes, [paris])
        assertCalls(#"<tool_call>{"name": "get_time"}</tool_call>"#, .hermes, [Call(name: "get_time", arguments: "{}")])
        assertCalls(#"<tool_call>{"name": "get_time", "arguments": null}</tool_call>"#, .hermes, [Call(name: "get_time", arguments: "{}")])
        assertCalls(#"<tool_call>{"name": "flat_tool", "arguments": "{\"a\": 1}"}</tool_call>"#, .hermes,
                    [Call(name: "flat_tool", arguments: #"{"a": 1}"#)], form: .hermes)
    }

    func testArgumentsAreWrittenAsCompactJSONWithSortedKeys() {
        assertCalls(#"<tool_call>{"name": "get_weather", "arguments": {"days": 3, "city": "Zürich / \"ZH\""}}</tool_call>"#, .hermes,
                    [Call(name: "get_weather", arguments: #"{"city":"Zürich / \"ZH\"","days":3}"#)])
    }

    func testQwenXMLWrappedAndBareWithValuesTypedByTheSchema() {
        let xml = """
            <function=get_weather>
            <parameter=city>
            New York
            </parameter>
            <parameter=days>
            3
            </parameter>
            <parameter=metric>True</parameter>
            <parameter=ratio>0.5</parameter>
            <parameter=tags>["a", "b"]</parameter>
            <parameter=where>{"lat": 1}</parameter>
            <parameter=note>
            two
            lines
            </parameter>
            </function>
            """
        let call = Call(name: "get_weather",
                        arguments: #"{"city":"New York","days":3,"metric":true,"note":"two\nlines","ratio":0.5,"tags":["a","b"],"where":{"lat":1}}"#)
        assertCalls("<tool_call>\n\(xml)\n</tool_call>", .hermes, [call], form: .qwenXML)
        assertCalls(xml, .qwenXML, [call])
    }

    func testQwenXMLValuesThatDoNotFitTheirTypeStayText() {
        assertCalls("<function=get_weather><parameter=days>three</parameter><parameter=metric>yes</parameter></function>", .qwenXML,
                    [Call(name: "get_weather", arguments: #"{"days":"three","metric":"yes"}"#)])
        assertCalls("<function=get_time>\n</function>", .qwenXML, [Call(name: "get_time", arguments: "{}")])
    }

    func testQwenXMLParameterWithoutItsClosingTag() {
        assertCalls("<function=get_weather>\n<parameter=city>\nOslo\n<parameter=days>\n2\n</parameter>\n</function>", .qwenXML,
                    [Call(name: "get_weather", arguments: #"{"city":"Oslo","days":2}"#)])
    }

    func testMistralForms() {
        let oslo = Call(name: "get_weather", arguments: #"{"city":"Oslo"}"#)
        let time = Call(name: "get_time", arguments: "{}")
        assertCalls(#"[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Oslo"}}, {"name": "get_time", "arguments": {}}]"#,
                    .mistral, [oslo, time])
        assertCalls(#"[TOOL_CALLS]get_weather{"city": "Oslo"}"#, .mistral, [oslo])
        assertCalls(#"[TOOL_CALLS]get_weather[ARGS]{"city": "Oslo"}"#, .mistral, [oslo])
        assertCalls(#"[TOOL_CALLS] {"name": "get_weather", "arguments": {"city": "Oslo"}}"#, .mistral, [oslo])
        assertCalls(#"[{"name": "get_weather", "arguments": {"city": "Oslo"}}, {"name": "get_time"}]"#, .bareJSON, [oslo, time],
                    form: .bareJSON)
    }

    func testLlamaForms() {
        let oslo = Call(name: "get_weather", arguments: #"{"city":"Oslo"}"#)
        let time = Call(name: "get_time", arguments: "{}")
        assertCalls(#"<|python_tag|>{"name": "get_weather", "parameters": {"city": "Oslo"}}"#, .pythonTag, [oslo])
        assertCalls(#"<|python_tag|>{"name": "get_weather", "parameters": {"city": "Oslo"}}; {"name": "get_time", "parameters": {}}"#,
                    .pythonTag, [oslo, time])
        assertCalls(#"{"type": "function", "name": "get_weather", "parameters": {"city": "Oslo"}}"#, .bareJSON, [oslo])
        assertCalls(#"{"name": "get_weather", "parameters": {"city": "Oslo"}} {"name": "get_time"}"#, .bareJSON, [oslo, time])
    }

    func testRejections() {
        assertRejected(#"<tool_call>{"name": "web_search", "arguments": {}}</tool_call>"#, .hermes, because: "'web_search' was not offered")
        assertRejected(#"<tool_call>{"name": "get_weather", "arguments": [1]}</tool_call>"#, .hermes, because: "not a JSON object")
        assertRejected(#"<tool_call>{"name": "get_weather", "arguments": "city=Paris"}</tool_call>"#, .hermes, because: "not a JSON object")
        assertRejected(#"<tool_call>{"name": "get_weather", "arguments": {"city": Paris}}</tool_call>"#, .hermes, because: "not valid JSON")
        assertRejected(#"<tool_call>{"arguments": {}}</tool_call>"#, .hermes, because: "names no tool")
        assertRejected(#"<tool_call>{"name": "get_time"} trailing</tool_call>"#, .hermes, because: "not valid JSON")
        assertRejected("<function=nope><parameter=a>1</parameter></function>", .qwenXML, because: "'nope' was not offered")
        assertRejected("<function=get_time>stray text</function>", .qwenXML, because: "not well formed")
        assertRejected(#"[TOOL_CALLS][]"#, .mistral, because: "not a list of calls")
        assertRejected(#"[TOOL_CALLS][{"name": "get_time"}, {"name": "other"}]"#, .mistral, because: "'other' was not offered")
        assertRejected(#"{"name": "Bob", "age": 3}"#, .bareJSON, because: "'Bob' was not offered")
        assertRejected(#"{"name": "get_time"} and then {"#, .bareJSON, because: "not valid JSON")
    }

    func testOfferedToolsNeedANamedTool() {
        XCTAssertNil(OfferedTools(nil))
        XCTAssertNil(OfferedTools([]))
        XCTAssertNil(OfferedTools(Self.jsonArray(#"[{"type": "function", "function": {"description": "no name"}}, "x"]"#)))
        XCTAssertTrue(Self.tools.offers("flat_tool"))
        XCTAssertFalse(Self.tools.offers("GET_WEATHER"), "names match exactly")
    }
}
