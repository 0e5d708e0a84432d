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

    /// The future's outcome if it has completed (the embedded loop runs callbacks inline).
    func outcome(_ promise: EventLoopPromise<ByteBuffer>) -> Result<ByteBuffer, Error>? {
        var result: Result<ByteBuffer, Error>?
        promise.futureResult.assumeIsolated().whenComplete { result = $0 }
        return result
    }

    func clientError(_ promise: EventLoopPromise<ByteBuffer>) -> KafkaClientError? {
        guard case .failure(let error)? = outcome(promise) else { return nil }
        return error as? KafkaClientError
    }

    func controllerId(_ promise: EventLoopPromise<ByteBuffer>) -> Int32? {
        guard case .success(let frame)? = outcome(promise) else { return nil }
        return try? MetadataResponse.decodeResponse(from: frame, version: 1).body.controllerId
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

        try channel.writeInbound(try metadataResponse(correlationId: 10, controllerId: 1))
        #expect(controllerId(first) == 1)
        #expect(outcome(second) == nil)
        try channel.writeInbound(try metadataResponse(correlationId: 11, controllerId: 2))
        #expect(controllerId(second) == 2)
        #expect(try channel.finish().isClean)
    }

    @Test func outOfOrderResponseFailsEverythingAndCloses() throws {
        let channel = EmbeddedChannel(handler: KafkaClientChannelHandler(peer: "test", firstCorrelationId: 1))
        let first = channel.eventLoop.makePromise(of: ByteBuffer.self)
        let second = channel.eventLoop.makePromise(of: ByteBuffer.self)
        try channel.writeOutbound(OutboundKafkaRequest(frame: try metadataRequest(), apiKey: .metadata, timeout: .seconds(5), promise: first))
        try channel.writeOutbound(OutboundKafkaRequest(frame: try metadataRequest(), apiKey: .metadata, timeout: .seconds(5), promise: second))
        try channel.writeInbound(try metadataResponse(correlationId: 2, controllerId: 1))
        let errors = [first, second].compactMap { clientError($0) }
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0.isSameKind(as: .malformedResponse("")) })
        #expect(errors.first?.message.contains("does not match") == true)
        #expect(!channel.isActive)
        // Later requests fail at once instead of waiting.
        let late = channel.eventLoop.makePromise(of: ByteBuffer.self)
        channel.write(OutboundKafkaRequest(frame: try metadataRequest(), apiKey: .metadata, timeout: .seconds(5), promise: late), promise: nil)
        #expect(clientError(late) != nil)
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
        try second.writeInbound(ByteBuffer(bytes: [0, 1]))
        #expect(clientError(promise) != nil)
        _ = try? second.finish()
    }

    @Test func timeoutFailsTheRequestAndClosesTheConnection() throws {
        let channel = EmbeddedChannel(handler: KafkaClientChannelHandler(peer: "broker 1"))
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        try channel.writeOutbound(OutboundKafkaRequest(frame: try metadataRequest(), apiKey: .metadata, timeout: .milliseconds(300), promise: promise))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(299))
        #expect(outcome(promise) == nil)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        let error = clientError(promise)
        #expect(error?.isTimeout == true)
        #expect(error?.message == "broker 1: no answer to Metadata within 300 ms")
        #expect(!channel.isActive)
        _ = try? channel.finish()
    }

    @Test func requestWithoutResponseCompletesWhenWritten() throws {
        let channel = EmbeddedChannel(handler: KafkaClientChannelHandler(peer: "test"))
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        try channel.writeOutbound(OutboundKafkaRequest(frame: try metadataRequest(), apiKey: .produce, expectsResponse: false,
                                                       timeout: .seconds(1), promise: promise))
        #expect(outcome(promise) != nil && clientError(promise) == nil)
        // Nothing is outstanding: a later response for the next request still matches.
        let next = channel.eventLoop.makePromise(of: ByteBuffer.self)
        try channel.writeOutbound(OutboundKafkaRequest(frame: try metadataRequest(), apiKey: .metadata, timeout: .seconds(1), promise: next))
        _ = try channel.readOutbound(as: ByteBuffer.self)
        let sent = try #require(try channel.readOutbound(as: ByteBuffer.self))
        try channel.writeInbound(try metadataResponse(correlationId: correlationId(of: sent)!, controllerId: 1))
        #expect(controllerId(next) == 1)
        #expect(try channel.finish().isClean)
    }

    @Test func closeFailsOutstandingRequests() throws {
        let channel = EmbeddedChannel(handler: KafkaClientChannelHandler(peer: "test"))
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        try channel.writeOutbound(OutboundKafkaRequest(frame: try metadataRequest(), apiKey: .metadata, timeout: .seconds(5), promise: promise))
        _ = try? channel.finish()
        #expect(clientError(promise)?.isConnectionFailure == true)
    }
}
