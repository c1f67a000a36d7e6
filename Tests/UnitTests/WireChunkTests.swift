import Foundation
import XCTest
@testable import LLMWorker
@testable import LLMWorkerTestSupport

/// The lenient reading of Chat Completions chunks: a field of an unexpected type is absent, never fatal.
final class WireChunkTests: XCTestCase {

    private func chunk(_ text: String) throws -> CompletionChunk {
        try WireChunk(parsing: Data(text.utf8)).completionChunk
    }

    func testPlainDeltaAndFinish() throws {
        let first = try chunk(#"{"id":"x","model":"m1","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}"#)
        XCTAssertEqual(first.content, "Hi")
        XCTAssertEqual(first.model, "m1")
        XCTAssertNil(first.finishReason)
        let last = try chunk(#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#)
        XCTAssertNil(last.content)
        XCTAssertEqual(last.finishReason, "stop")
        XCTAssertNil(try chunk(#"{"choices":[{"delta":{"content":null},"finish_reason":""}]}"#).finishReason)
    }

    /// The answer is the choice with index 0 wherever it stands; other choices are ignored, with a warning.
    func testTheChoiceWithIndexZeroIsTheAnswer() throws {
        let several = try chunk(#"{"choices":[{"index":1,"delta":{"content":"other"},"finish_reason":"length"},{"index":0,"delta":{"content":"mine"}}]}"#)
        XCTAssertEqual(several.content, "mine")
        XCTAssertNil(several.finishReason, "the finish_reason of choice 1 is not the answer's")
        XCTAssertEqual(several.warnings, ["The server sent more than one choice; only the choice with index 0 is used."])
        let onlyOther = try chunk(#"{"choices":[{"index":2,"delta":{"content":"other"}}]}"#)
        XCTAssertNil(onlyOther.content)
        XCTAssertEqual(onlyOther.warnings.count, 1)
        XCTAssertEqual(try chunk(#"{"choices":[{"delta":{"content":"no index"}}]}"#).content, "no index")
        XCTAssertEqual(try chunk(#"{"choices":[{"index":0,"delta":{"content":"one"}}]}"#).warnings, [])
    }

    func testNonStreamedMessage() throws {
        let answer = try chunk(#"{"choices":[{"message":{"content":"Whole"},"finish_reason":"stop"}],"provider":"Groq"}"#)
        XCTAssertEqual(answer.content, "Whole")
        XCTAssertEqual(answer.upstreamProvider, "Groq")
    }

    func testContentPartsAndReasoningNames() throws {
        XCTAssertEqual(try chunk(#"{"choices":[{"delta":{"content":[{"type":"text","text":"a"},{"type":"image"},{"text":"b"}]}}]}"#).content, "ab")
        // Parts with a text of the wrong type are not parts: no content.
        XCTAssertNil(try chunk(#"{"choices":[{"delta":{"content":[{"text":5}]}}]}"#).content)
        XCTAssertEqual(try chunk(#"{"choices":[{"delta":{"reasoning":"r","reasoning_content":"rc"}}]}"#).reasoning, "r")
        XCTAssertEqual(try chunk(#"{"choices":[{"delta":{"reasoning":"","reasoning_content":"rc"}}]}"#).reasoning, "rc")
        XCTAssertEqual(try chunk(#"{"choices":[{"delta":{"reasoning_details":[{"text":"t"},{"summary":"s"}]}}]}"#).reasoning, "ts")
        XCTAssertNil(try chunk(#"{"choices":[{"delta":{"reasoning":7}}]}"#).reasoning)
    }

    func testToolCallFragments() throws {
        let nested = try chunk(#"{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\""}}]}}]}"#)
        XCTAssertEqual(nested.toolCalls, [ToolCallFragment(index: 1, id: "c1", name: "f", arguments: #"{"a""#)])
        // Top-level name/arguments, arguments as an object (re-encoded with sorted keys).
        let flat = try chunk(#"{"choices":[{"delta":{"tool_calls":[{"name":"g","arguments":{"b":1,"a":[true]}}]}}]}"#)
        XCTAssertEqual(flat.toolCalls, [ToolCallFragment(name: "g", arguments: #"{"a":[true],"b":1}"#)])
        // An element that is not an object makes the whole list absent, as before.
        XCTAssertEqual(try chunk(#"{"choices":[{"delta":{"tool_calls":[{"index":0},"x"]}}]}"#).toolCalls, [])
    }

    func testUsage() throws {
        let usage = try chunk(#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":2.0,"cost":1}}"#).usage
        XCTAssertEqual(usage, Usage(promptTokens: 10, completionTokens: 2, totalTokens: 12, cost: 1))
        XCTAssertEqual(try chunk(#"{"usage":{"prompt_tokens":10.7,"completion_tokens":1,"total_tokens":11}}"#).usage?.promptTokens, 10)
        XCTAssertNil(try chunk(#"{"usage":{"prompt_tokens":10}}"#).usage)
        XCTAssertNil(try chunk(#"{"usage":{"prompt_tokens":1e30,"completion_tokens":1}}"#).usage)  // out of range: absent, no trap
        XCTAssertNil(try chunk(#"{"usage":"lots"}"#).usage)
    }

    func testWrongTypesAreAbsent() throws {
        let odd = try chunk(#"{"choices":"none","model":3,"provider":null}"#)
        XCTAssertNil(odd.model)
        XCTAssertNil(odd.content)
        XCTAssertEqual(try chunk(#"{"choices":[{"delta":"text"}]}"#).content, nil)
        XCTAssertEqual(try WireChunk(parsing: Data(#"{"choices":[1,{"delta":{"content":"x"}}]}"#.utf8)).choices.count, 0)
    }

    func testErrorMarkers() throws {
        XCTAssertTrue(try WireChunk(parsing: Data(#"{"error":{"message":"boom"}}"#.utf8)).mayCarryError)
        XCTAssertFalse(try WireChunk(parsing: Data(#"{"error":null,"choices":[]}"#.utf8)).mayCarryError)
        XCTAssertTrue(try WireChunk(parsing: Data(#"{"object":"error","message":"bad"}"#.utf8)).mayCarryError)
        XCTAssertTrue(try WireChunk(parsing: Data(#"{"choices":[{"delta":{},"finish_reason":"error"}]}"#.utf8)).mayCarryError)
    }

    func testNotAnObject() {
        XCTAssertThrowsError(try WireChunk(parsing: Data("[1]".utf8)))
        XCTAssertThrowsError(try WireChunk(parsing: Data("not json".utf8)))
        XCTAssertThrowsError(try WireChunk(parsing: Data()))
    }
}
