import KafkaClient
import KafkaProtocol
import NIOCore
import NIOEmbedded
import Testing

@Suite struct ClientChannelHandlerTests {
    /// Encodes a request frame body (correlation id placeholder 0; the handler assigns the real one).
    func metadataRequest() throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try MetadataRequest(topics: nil).encodeRequest(version: 1, correlationId: 0, clientId: "test", to: &buffer)
        return buffer
    }

    /// A Metadata v1 response frame with the given correlation id and controller id.
    func metadataResponse(correlationId: Int32, controllerId: Int32) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try MetadataResponse(controllerId: controllerId).encodeResponse(version: 1, correlationId: correlationId, to: &buffer)
        return buffer
    }

    func correlationId(of frame: ByteBuffer) -> Int32? {
        frame.getInteger(at: frame.readerIndex + 4, endianness: .big, as: Int32.self)
    }

    @Test func pipelinedRequestsAreMatchedInOrder() throws {
        let channel = EmbeddedChannel(handler: KafkaClientChannelHandler(peer: "test", firstCorrelationId: 10))
        let first = channel.eventLoop.makePromise(of: ByteBuffer.self)
        let second = channel.eventLoop.makePromise(of: ByteBuffer.self)
        try channel.writeOutbound(OutboundKafkaRequest(frame: try metadataRequest(), apiKey: .metadata, timeout: .seconds(5), promise: first))
        try channel.writeOutbound(OutboundKafkaRequest(frame: try metadataRequest(), apiKey: .metadata, timeout: .seconds(5), promise: second))
        let sent1 = try #require(try channel.readOutbound(as: ByteBuffer.self))
        let sent2 = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(correlationId(of: sent1) == 10)
        #expect(correlationId(of: sent2) == 11)
        // The request still decodes as a broker would decode it.
        let decoded = try KafkaRequestDecoder.decode(frame: sent2)
        #expect(decoded.apiKey == .metadata && decoded.correlationId == 11 && decoded.header.clientId == "test")

        var results: [Int32] = []
        first.futureResult.whenSuccess { frame in
            results.append((try? MetadataResponse.decodeResponse(from: frame, version: 1).body.controllerId) ?? -99)
        }
        second.futureResult.whenSuccess { frame in
            results.append((try? MetadataResponse.decodeResponse(from: frame, version: 1).body.controllerId) ?? -99)
        }
        try channel.writeInbound(try metadataResponse(correlationId: 10, controllerId: 1))
        try channel.writeInbound(try metadataResponse(correlationId: 11, controllerId: 2))
        #expect(results == [1, 2])
        #expect(try channel.finish().isClean)
    }

    @Test func outOfOrderResponseFailsEverythingAndCloses() throws {
        let channel = EmbeddedChannel(handler: KafkaClientChannelHandler(peer: "test", firstCorrelationId: 1))
        let first = channel.eventLoop.makePromise(of: ByteBuffer.self)
        let second = channel.eventLoop.makePromise(of: ByteBuffer.self)
        try channel.writeOutbound(OutboundKafkaRequest(frame: try metadataRequest(), apiKey: .metadata, timeout: .seconds(5), promise: first))
        try channel.writeOutbound(OutboundKafkaRequest(frame: try metadataRequest(), apiKey: .metadata, timeout: .seconds(5), promise: second))
        var errors: [KafkaClientError] = []
        for promise in [first, second] {
            promise.futureResult.whenFailure { errors.append($0 as! KafkaClientError) }
        }
        try channel.writeInbound(try metadataResponse(correlationId: 2, controllerId: 1))
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0.isSameKind(as: .malformedResponse("")) })
        #expect(errors.first?.message.contains("does not match") == true)
        #expect(!channel.isActive)
        // Later requests fail at once instead of waiting.
        let late = channel.eventLoop.makePromise(of: ByteBuffer.self)
        var lateFailed = false
        late.futureResult.whenFailure { _ in lateFailed = true }
        channel.write(OutboundKafkaRequest(frame: try metadataRequest(), apiKey: .metadata, timeout: .seconds(5), promise: late), promise: nil)
        #expect(lateFailed)
        _ = try? channel.finish()
    }

    @Test func unsolicitedAndTruncatedResponsesAreErrorsNotCrashes() throws {
        let channel = EmbeddedChannel(handler: KafkaClientChannelHandler(peer: "test"))
        try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 1, 0]))
        #expect(!channel.isActive)
        _ = try? channel.finish()

        let second = EmbeddedChannel(handler: KafkaClientChannelHandler(peer: "test"))
        let promise = second.eventLoop.makePromise(of: ByteBuffer.self)
        try second.writeOutbound(OutboundKafkaRequest(frame: try metadataRequest(), apiKey: .metadata, timeout: .seconds(5), promise: promise))
        var failed = false
        promise.futureResult.whenFailure { _ in failed = true }
        try second.writeInbound(ByteBuffer(bytes: [0, 1]))
        #expect(failed)
        _ = try? second.finish()
    }

    @Test func timeoutFailsTheRequestAndClosesTheConnection() throws {
        let channel = EmbeddedChannel(handler: KafkaClientChannelHandler(peer: "broker 1"))
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        try channel.writeOutbound(OutboundKafkaRequest(frame: try metadataRequest(), apiKey: .metadata, timeout: .milliseconds(300), promise: promise))
        var error: KafkaClientError?
        promise.futureResult.whenFailure { error = $0 as? KafkaClientError }
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(299))
        #expect(error == nil)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(error?.isTimeout == true)
        #expect(error?.message == "broker 1: no answer to Metadata within 300 ms")
        #expect(!channel.isActive)
        _ = try? channel.finish()
    }

    @Test func requestWithoutResponseCompletesWhenWritten() throws {
        let channel = EmbeddedChannel(handler: KafkaClientChannelHandler(peer: "test"))
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        var done = false
        promise.futureResult.whenSuccess { _ in done = true }
        try channel.writeOutbound(OutboundKafkaRequest(frame: try metadataRequest(), apiKey: .produce, expectsResponse: false,
                                                       timeout: .seconds(1), promise: promise))
        #expect(done)
        // Nothing is outstanding: a later response for the next request still matches.
        let next = channel.eventLoop.makePromise(of: ByteBuffer.self)
        try channel.writeOutbound(OutboundKafkaRequest(frame: try metadataRequest(), apiKey: .metadata, timeout: .seconds(1), promise: next))
        _ = try channel.readOutbound(as: ByteBuffer.self)
        let sent = try #require(try channel.readOutbound(as: ByteBuffer.self))
        var matched = false
        next.futureResult.whenSuccess { _ in matched = true }
        try channel.writeInbound(try metadataResponse(correlationId: correlationId(of: sent)!, controllerId: 1))
        #expect(matched)
        #expect(try channel.finish().isClean)
    }

    @Test func closeFailsOutstandingRequests() throws {
        let channel = EmbeddedChannel(handler: KafkaClientChannelHandler(peer: "test"))
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        try channel.writeOutbound(OutboundKafkaRequest(frame: try metadataRequest(), apiKey: .metadata, timeout: .seconds(5), promise: promise))
        var error: KafkaClientError?
        promise.futureResult.whenFailure { error = $0 as? KafkaClientError }
        _ = try? channel.finish()
        #expect(error?.isConnectionFailure == true)
    }
}
