import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Reads a Chat Completions event stream: SSE events → chunks, delivered once per network read (so text that
/// arrived together goes to the client together, and nothing waits for more). Ends at `[DONE]` or at the end
/// of the body; an error event ends it with the mapped error.
struct SSEChunkReader {
    /// One SSE line (one event) longer than this ends the request: bounded memory whatever the server sends.
    static let maxEventBytes = 8 << 20

    private var parser = SSEParser(maxLineBytes: maxEventBytes)
    private let provider: ProviderKind
    private let dialect: ErrorDialect
    private var done = false
    /// A finish_reason has arrived: the answer is complete even if the body does not end cleanly.
    private var sawFinishReason = false
    private var totalBytes = 0
    /// What was received, for the debug log.
    private var received = ExchangeTrace.Received()

    /// The stream's HTTP status (a 2xx), for errors about what it carried.
    private let status: Int

    init(provider: ProviderKind, dialect: ErrorDialect, status: Int = 200) {
        self.provider = provider
        self.dialect = dialect
        self.status = status
    }

    mutating func read(_ call: UpstreamCall,
                       deliver: ([CompletionChunk]) async throws -> Void) async throws {
        let watchdog = call.watchdog
        let trace = call.trace
        var chunks: [CompletionChunk] = []
        var ending: String?
        do {
            // Each network read is parsed where the transport put it; what it held is delivered after it is handed back.
            while true {
                let doneBefore = done
                guard try await call.readBody({ bytes in try take(bytes, into: &chunks) }) else { break }
                if doneBefore { continue }
                // After [DONE], or once a finish_reason has come (only a usage chunk may still follow), the server
                // gets a short drain limit to end the body, not the whole idle limit.
                if done || (sawFinishReason && !chunks.isEmpty) { watchdog.markAnswerComplete() }
                if chunks.contains(where: \.hasDelta) { watchdog.markDelta() }
                if let trace {
                    received.bytes = totalBytes
                    received.deltas += chunks.filter(\.hasDelta).count
                    trace.update(received)
                }
                if !chunks.isEmpty {
                    try await deliver(chunks)
                    chunks.removeAll(keepingCapacity: true)
                }
            }
        } catch let timeout as ExchangeTimeout where done {
            // The answer was complete; the server only kept the connection open after [DONE].
            trace?.noteEnding("[DONE]; the server then kept the connection open for \(timeout.seconds) s")
            return
        } catch let timeout as ExchangeTimeout where sawFinishReason {
            // The answer was complete (finish_reason sent) but the server neither sent [DONE] nor ended the body
            // (silent, or sending only keep-alive comments): the client has heard the whole answer, so this ends
            // the stream instead of failing it.
            ending = "finish_reason, then no end of the body within \(timeout.seconds) s"
        } catch let dropped where sawFinishReason && UpstreamCall.isDroppedConnection(dropped) {
            // The server closed the connection after the answer was complete (finish_reason sent) but without ending
            // the body (no terminating chunk, a short Content-Length): that ends the stream, like an end without
            // [DONE]; the client has heard the whole answer and must not get an error for it.
            ending = "finish_reason, then the connection dropped: \(dropped.localizedDescription)"
        } catch let midStream as MidStreamError {
            if !midStream.chunksBefore.isEmpty { try await deliver(midStream.chunksBefore) }
            throw midStream.error.withOrigin(.answer)
        } catch let parserError as SSEParserError {
            throw ProviderError(.invalidResponse, "The server sent one event line longer than \(parserError.limit >> 20) MiB; the stream was stopped.", provider: provider.rawValue)
        }
        trace?.noteEnding(ending ?? (done ? "[DONE]" : "the end of the body without [DONE]"))
        if !done {
            do {
                var pending: [SSEItem] = []
                try parser.finish { pending.append($0) }
                for item in pending where !done { try handle(item, into: &chunks) }
            } catch let midStream as MidStreamError {
                if !midStream.chunksBefore.isEmpty { try await deliver(midStream.chunksBefore) }
                throw midStream.error.withOrigin(.answer)
            }
            if !chunks.isEmpty { try await deliver(chunks) }
        }
    }

    /// One network read of the body: counted against the size limit, then parsed (nothing more after [DONE]).
    private mutating func take(_ bytes: UnsafeRawBufferPointer, into chunks: inout [CompletionChunk]) throws {
        if done { return }
        totalBytes += bytes.count
        if totalBytes > UpstreamCall.maxBodyBytes {
            throw ProviderError(.invalidResponse, "The stream is larger than \(UpstreamCall.maxBodyBytes >> 20) MiB; it was stopped.", provider: provider.rawValue)
        }
        try parse(bytes, into: &chunks)
    }

    private mutating func parse(_ bytes: UnsafeRawBufferPointer, into chunks: inout [CompletionChunk]) throws {
        var pending: [SSEItem] = []
        try parser.feed(bytes) { pending.append($0) }
        for item in pending where !done {
            try handle(item, into: &chunks)
        }
    }

    private mutating func handle(_ item: SSEItem, into chunks: inout [CompletionChunk]) throws {
        guard case .event(let event) = item else {
            received.comments += 1
            return
        }
        received.events += 1
        if event.data.count == 6, event.data.elementsEqual("[DONE]".utf8) {
            done = true
            return
        }
        // JSON text is UTF-8: the lenient chunk decoding below would otherwise drop a garbled field silently,
        // leaving a hole in the answer with no word about it.
        guard Self.isValidUTF8(event.data) else {
            let error = ProviderError(.invalidResponse, "The server sent an event that is not valid UTF-8: \(OpenAICompatibleEngine.quote(event.data))", provider: provider.rawValue)
            // What came before it in the same read still reaches the client, as for any other bad event.
            throw MidStreamError(chunksBefore: chunks, error: error)
        }
        let wire: WireChunk
        do {
            wire = try WireChunk(parsing: event.data)
        } catch {
            // Quoted like any 2xx body that is not what was expected: status and first bytes in upstream_message.
            var failure = UpstreamErrorMapper.map(status: status, headers: [:], body: event.data, dialect: dialect, provider: provider)
            failure.message = "The server sent an event that is not JSON: \(OpenAICompatibleEngine.quote(event.data))"
            // What came before it in the same read still reaches the client, as for an error event.
            throw MidStreamError(chunksBefore: chunks, error: failure)
        }
        if wire.mayCarryError || event.event == "error" {
            if let error = UpstreamErrorMapper.embeddedError(in: wire.object, dialect: dialect, provider: provider) {
                // Deliver what came before the error in this same read, then fail with the mapped error.
                throw MidStreamError(chunksBefore: chunks, error: error)
            }
            if wire.choices.contains(where: { $0.finishReason == "error" }) || event.event == "error" {
                let error = ProviderError(.upstreamError, "The server ended the stream with an error: \(OpenAICompatibleEngine.quote(event.data))", provider: provider.rawValue)
                throw MidStreamError(chunksBefore: chunks, error: error)
            }
        }
        if wire.answer?.finishReason != nil { sawFinishReason = true }
        chunks.append(wire.completionChunk)
    }
}

extension SSEChunkReader {
    static func isValidUTF8(_ data: Data) -> Bool {
        data.withUnsafeBytes { String(validating: $0.bindMemory(to: UInt8.self), as: UTF8.self) != nil }
    }
}

/// An error event in the middle of a stream, with the chunks of the same read that preceded it: they reach the
/// client before the error, which is the server's answer (`FailureOrigin.answer`).
private struct MidStreamError: Error {
    let chunksBefore: [CompletionChunk]
    let error: ProviderError
}
