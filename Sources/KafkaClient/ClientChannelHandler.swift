import KafkaProtocol
import NIOCore

/// One request on its way to the broker: an encoded frame body (request header + body, without the
/// size prefix) whose correlation id the handler assigns, and the promise that receives the response
/// frame.
public struct OutboundKafkaRequest: Sendable {
    /// The encoded header and body. The correlation id at bytes 4..<8 is overwritten by the handler.
    public var frame: ByteBuffer
    /// The API, for error messages.
    public var apiKey: KafkaApiKey
    /// False for Produce with acks=0: the broker sends nothing back; the promise completes once written.
    public var expectsResponse: Bool
    /// How long to wait for the response before failing it and closing the connection.
    public var timeout: TimeAmount
    /// Completed with the response frame (header included), or failed with a `KafkaClientError`.
    public var promise: EventLoopPromise<ByteBuffer>

    public init(frame: ByteBuffer, apiKey: KafkaApiKey, expectsResponse: Bool = true, timeout: TimeAmount,
                promise: EventLoopPromise<ByteBuffer>) {
        self.frame = frame
        self.apiKey = apiKey
        self.expectsResponse = expectsResponse
        self.timeout = timeout
        self.promise = promise
    }
}

/// The client end of a Kafka connection, below it `KafkaFrameDecoder`/`KafkaFrameEncoder`.
///
/// Assigns increasing correlation ids, writes requests as they come (pipelining), and matches each
/// response frame to the oldest outstanding request: a Kafka broker answers a connection's requests in
/// order, so a response whose correlation id is not the oldest one's is a protocol violation and closes
/// the connection. A request that times out closes the connection too (as the Java client does): the
/// answers still to come could no longer be trusted to line up. Every failure fails every outstanding
/// request with a `KafkaClientError`; nothing is left waiting.
public final class KafkaClientChannelHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = Never
    public typealias OutboundIn = OutboundKafkaRequest
    public typealias OutboundOut = ByteBuffer

    private struct Pending {
        var correlationId: Int32
        var apiKey: KafkaApiKey
        var promise: EventLoopPromise<ByteBuffer>
        var timeout: Scheduled<Void>?
    }

    private var nextCorrelationId: Int32
    private var pending = CircularBuffer<Pending>()
    private var failure: KafkaClientError?
    private let peer: String

    /// - Parameters:
    ///   - peer: names the broker in error messages.
    ///   - firstCorrelationId: the id of the first request (tests pick it).
    public init(peer: String, firstCorrelationId: Int32 = 1) {
        self.peer = peer
        self.nextCorrelationId = firstCorrelationId
    }

    /// The number of requests waiting for an answer.
    public var outstandingCount: Int { pending.count }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise writePromise: EventLoopPromise<Void>?) {
        var request = unwrapOutboundIn(data)
        if let failure {
            request.promise.fail(failure)
            writePromise?.fail(failure)
            return
        }
        let correlationId = nextCorrelationId
        nextCorrelationId = nextCorrelationId == Int32.max ? 1 : nextCorrelationId + 1
        guard request.frame.readableBytes >= 8 else {
            request.promise.fail(KafkaClientError.invalidArgument("request frame too short for a header"))
            return
        }
        request.frame.setInteger(correlationId, at: request.frame.readerIndex + 4, endianness: .big)

        let written = context.eventLoop.makePromise(of: Void.self)
        if request.expectsResponse {
            let apiKey = request.apiKey
            let timeoutTask = context.eventLoop.assumeIsolated().scheduleTask(in: request.timeout) { [weak self] in
                guard let self else { return }
                self.timedOut(context: context, correlationId: correlationId, apiKey: apiKey, after: request.timeout)
            }
            pending.append(Pending(correlationId: correlationId, apiKey: request.apiKey, promise: request.promise,
                                   timeout: timeoutTask))
        } else {
            let responsePromise = request.promise
            let allocator = context.channel.allocator
            written.futureResult.whenSuccess { responsePromise.succeed(allocator.buffer(capacity: 0)) }
        }
        let peer = self.peer
        let apiName = request.apiKey.name
        let responsePromise = request.promise
        written.futureResult.whenFailure { error in
            responsePromise.fail(KafkaClientError.connection("\(peer): sending \(apiName) failed: \(error)"))
        }
        if let writePromise { written.futureResult.cascade(to: writePromise) }
        context.write(wrapOutboundOut(request.frame), promise: written)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let correlationId = frame.getInteger(at: frame.readerIndex, endianness: .big, as: Int32.self) else {
            failAll(context: context, KafkaClientError.malformedResponse("\(peer): response frame shorter than its header"))
            return
        }
        guard let head = pending.first else {
            failAll(context: context, KafkaClientError.malformedResponse(
                "\(peer): response with correlation id \(correlationId) but no request is outstanding"))
            return
        }
        guard head.correlationId == correlationId else {
            failAll(context: context, KafkaClientError.malformedResponse(
                "\(peer): response correlation id \(correlationId) does not match the oldest request (\(head.apiKey.name), id \(head.correlationId))"))
            return
        }
        pending.removeFirst()
        head.timeout?.cancel()
        head.promise.succeed(frame)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        failAll(context: nil, KafkaClientError.closed("\(peer): connection closed"))
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        let clientError = error as? KafkaClientError ?? KafkaClientError.connection("\(peer): \(error)")
        failAll(context: context, clientError)
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        failAll(context: nil, KafkaClientError.closed("\(peer): connection closed"))
    }

    private func timedOut(context: ChannelHandlerContext, correlationId: Int32, apiKey: KafkaApiKey, after: TimeAmount) {
        guard pending.contains(where: { $0.correlationId == correlationId }) else { return }
        let ms = after.nanoseconds / 1_000_000
        failAll(context: context, KafkaClientError.timeout("\(peer): no answer to \(apiKey.name) within \(ms) ms"))
    }

    /// Fails every outstanding request (and every later one) and closes the channel.
    private func failAll(context: ChannelHandlerContext?, _ error: KafkaClientError) {
        if failure == nil { failure = error }
        let failed = pending
        pending.removeAll()
        for entry in failed {
            entry.timeout?.cancel()
            entry.promise.fail(error)
        }
        context?.close(promise: nil)
    }
}
