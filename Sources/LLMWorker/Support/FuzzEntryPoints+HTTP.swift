import Foundation

extension FuzzEntryPoints {
    // MARK: Upstream HTTP responses: status line, fields, interim responses, framing

    /// What reading one response gave, comparable between two ways of feeding it.
    struct HTTPResponseOutcome: Equatable {
        var head: HTTPResponseHead?
        var body: [UInt8] = []
        var complete = false
        /// Bytes that belonged to the response (the rest of the input came after it); 0 after an error.
        var consumed = 0
        var error: HTTPResponseError?
    }

    /// Parses `input` as the bytes of a response on a connection, then the end of the connection, cutting it into
    /// reads of the sizes `cuts` gives (whole when nil); the parser's limits may be lowered to exercise them.
    static func readResponse(_ input: UnsafeRawBufferPointer, limits: HTTPResponseParser.Limits = .init(),
                             expectsBody: Bool = true, cuts: ((Int) -> Int)? = nil) -> HTTPResponseOutcome {
        var parser = HTTPResponseParser(limits: limits, expectsBody: expectsBody)
        var outcome = HTTPResponseOutcome()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, input.count), alignment: 1)
        defer { buffer.deallocate() }
        var start = 0
        var piece = 0
        do throws(HTTPResponseError) {
            while start < input.count && !outcome.complete {
                let end = min(input.count, start + max(1, cuts?(piece) ?? input.count))
                piece += 1
                let count = end - start
                let read = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
                read.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[start..<end]))
                let progress = parser.parse(read)
                if let head = progress.head {
                    precondition(outcome.head == nil, "a second final head")
                    outcome.head = head
                }
                precondition(progress.bodyBytes <= count, "more body bytes than bytes read")
                outcome.body += read[0..<progress.bodyBytes]
                if let failure = progress.failure { throw failure }
                precondition(progress.bodyBytes <= progress.consumed, "more body bytes than bytes consumed")
                precondition(progress.consumed == count || progress.complete, "bytes left over before the end of the response")
                outcome.consumed += progress.consumed
                outcome.complete = progress.complete
                start = end
            }
            if !outcome.complete {
                try parser.finish()
                outcome.complete = true
            }
        } catch {
            outcome.error = error
            // Where a fault is noticed inside a read depends on how the input was cut: not part of the outcome.
            outcome.consumed = 0
        }
        return outcome
    }

    /// Reads `input` as a response whole and cut into pieces (both must give the same outcome), with limits derived
    /// from the input; checks that what was accepted respects the limits and the framing the head announced.
    static func httpResponse(_ input: UnsafeRawBufferPointer) {
        let selector = input.isEmpty ? 0 : Int(input[0])
        var limits = HTTPResponseParser.Limits()
        if selector & 1 == 1 {
            limits = HTTPResponseParser.Limits(maxLineBytes: 16 + selector * 4, maxFields: 1 + selector % 16,
                                               maxHeadBytes: 64 + selector * 16, maxInterimResponses: selector % 4)
        }
        let expectsBody = selector & 0x80 == 0
        let whole = readResponse(input, limits: limits, expectsBody: expectsBody)
        let cut = readResponse(input, limits: limits, expectsBody: expectsBody) { piece in
            1 + (piece * 7 + selector) % 13
        }
        precondition(whole == cut, "the response read differently when cut into pieces")
        let bytewise = readResponse(input, limits: limits, expectsBody: expectsBody) { _ in 1 }
        precondition(whole == bytewise, "the response read differently byte by byte")
        precondition(whole.consumed <= input.count, "consumed more than the input")
        guard let head = whole.head else {
            precondition(whole.body.isEmpty, "body bytes without a head")
            return
        }
        precondition((200...599).contains(head.status), "a final head with status \(head.status)")
        precondition(head.fields.count <= limits.maxFields, "more fields than the limit")
        // Lossy UTF-8 decoding turns each invalid sequence into one scalar: scalars never outnumber the bytes.
        precondition(head.fields.allSatisfy { $0.name.utf8.count + $0.value.unicodeScalars.count < limits.maxLineBytes }, "a field over the line limit")
        if whole.error == nil {
            switch head.framing {
            case .none: precondition(whole.body.isEmpty, "a body where none is allowed")
            case .length(let length): precondition(whole.body.count == length, "a body of another length than announced")
            case .chunked: precondition(whole.body.count <= whole.consumed, "a chunked body larger than its framing")
            case .untilClose: precondition(!head.persistent, "a body that ends with the connection on a kept connection")
            }
        }
    }
}
