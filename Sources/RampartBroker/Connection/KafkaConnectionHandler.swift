import KafkaProtocol
import Logging
import NIOCore

/// Serves one client connection: takes request frames (after `KafkaFrameDecoder`), dispatches them one
/// at a time in arrival order, and writes each response before starting the next request, as Kafka does
/// (a client pipelining requests gets its answers in order). While requests queue up beyond
/// `maxQueuedRequests`, reading from the socket pauses, so a fast sender is held back by TCP.
///
/// Closes the connection on an undecodable request, a refused frame size, or idleness.
public final class KafkaConnectionHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let dispatcher: RequestDispatcher
    private var connection: ConnectionInfo
    private let logger: Logger
    private let maxQueuedRequests: Int
    private var queue = CircularBuffer<ByteBuffer>()
    private var inFlight = false
    private var readPending = false
    private var closing = false

    public init(dispatcher: RequestDispatcher, connection: ConnectionInfo, logger: Logger, maxQueuedRequests: Int = 32) {
        self.dispatcher = dispatcher
        self.connection = connection
        self.logger = logger
        self.maxQueuedRequests = maxQueuedRequests
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing, !draining else { return }
        queue.append(unwrapInboundIn(data))
        processNext(context: context)
    }

    public func read(context: ChannelHandlerContext) {
        if queue.count >= maxQueuedRequests {
            readPending = true
        } else {
            context.read()
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let frameError = error as? KafkaFrameError {
            logger.warning("closing connection: \(frameError)", metadata: ["client": "\(connection.clientHost)"])
        } else if !(error is ChannelError) {
            logger.info("closing connection after error: \(error)", metadata: ["client": "\(connection.clientHost)"])
        }
        close(context: context)
    }

    /// Sent by the transport once the peer's identity is known (the TLS handshake's client certificate):
    /// every later request carries this principal.
    public struct PeerIdentifiedEvent: Sendable {
        public var principal: KafkaPrincipal
        public init(principal: KafkaPrincipal) { self.principal = principal }
    }

    /// Sent through the pipeline at shutdown: answer the request in flight, then close.
    public struct DrainEvent: Sendable {
        public init() {}
    }

    private var draining = false

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is DrainEvent {
            draining = true
            queue.removeAll()
            if !inFlight { close(context: context) }
            return
        }
        if let identified = event as? PeerIdentifiedEvent {
            connection.principal = identified.principal
            return
        }
        if event is IdleStateHandler.IdleStateEvent {
            logger.debug("closing idle connection", metadata: ["client": "\(connection.clientHost)"])
            close(context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        closing = true
        queue.removeAll()
        context.fireChannelInactive()
    }

    private func close(context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        queue.removeAll()
        context.close(promise: nil)
    }

    private func processNext(context: ChannelHandlerContext) {
        guard !inFlight, !closing, let frame = queue.popFirst() else { return }
        inFlight = true
        if readPending && queue.count < maxQueuedRequests {
            readPending = false
            context.read()
        }
        let dispatcher = self.dispatcher
        let connection = self.connection
        let promise = context.eventLoop.makePromise(of: DispatchOutcome.self)
        promise.completeWithTask {
            await dispatcher.dispatch(frame: frame, connection: connection)
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        promise.futureResult.whenSuccess { outcome in
            let (handler, context) = loopBound.value
            handler.finish(outcome, context: context)
        }
    }

    private func finish(_ outcome: DispatchOutcome, context: ChannelHandlerContext) {
        inFlight = false
        guard !closing else { return }
        switch outcome {
        case .respond(let response):
            if draining {
                // Close only once the answer has left, so shutdown does not cut it off.
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.writeAndFlush(wrapOutboundOut(response)).whenComplete { _ in
                    let (handler, context) = loopBound.value
                    handler.close(context: context)
                }
                return
            }
            context.writeAndFlush(wrapOutboundOut(response), promise: nil)
        case .noResponse:
            break
        case .close(let reason):
            logger.warning("closing connection: \(reason)", metadata: ["client": "\(connection.clientHost)"])
            close(context: context)
            return
        }
        if draining {
            close(context: context)
            return
        }
        processNext(context: context)
    }
}
