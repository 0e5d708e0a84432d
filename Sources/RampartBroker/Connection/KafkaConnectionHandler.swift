import KafkaProtocol
import Logging
import NIOCore

/// Serves one client connection: takes request frames (after `KafkaFrameDecoder`), dispatches them in
/// arrival order, and writes the responses in that order (a client pipelining requests gets its answers
/// in order). A request starts once the one before it is answered, as in Kafka, with one exception:
/// a Produce request may start while earlier Produce requests wait for their fsync (`acks=all`), once
/// they have written their batches (`RequestContext.ordering`), so that a producer's pipelined batches
/// share one group commit instead of waiting for one fsync each. Batches are still written in request
/// order. While requests queue up beyond `maxQueuedRequests`, reading from the socket pauses, so a fast
/// sender is held back by TCP. While the client authenticates (or re-authenticates), at most one frame
/// waits behind the one being served, as Kafka reads one request at a time then: a client that has not
/// authenticated cannot make the broker hold many pre-authentication-sized frames.
///
/// With `writesFrames` the handler writes size-prefixed frames itself (no `KafkaFrameEncoder` below it),
/// and a Fetch answer goes out as several buffers — small ones holding the headers, and the record
/// batches as the log read them — without being gathered into one buffer.
///
/// On a SASL listener, frames go to a `SaslServerAuthenticator` until the client has authenticated;
/// then the connection carries the authenticated principal and the frame limit rises from the
/// pre-authentication size to `socket.request.max.bytes`. A failed authentication stops reading,
/// waits the failed-authentication delay, sends its answer and closes.
///
/// Re-authentication (KIP-368): when the session has a lifetime (`connections.max.reauth.ms`), a
/// SaslHandshake on the authenticated connection (at most one a second) goes back to the
/// authenticator and frames follow it until the exchange completes; any other request after the
/// session ended closes the connection, as Kafka does.
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
    private let writesFrames: Bool
    private var queue = CircularBuffer<ByteBuffer>()
    /// Requests started and not yet answered, in arrival order.
    private var pending = CircularBuffer<PendingRequest>()
    /// How many Produce requests may wait for their fsync at once.
    private static let maxPipelined = 16
    private var readPending = false
    private var closing = false
    /// Set on a SASL listener: authenticates the client, then re-authenticates it.
    private var authenticator: SaslServerAuthenticator?
    /// Frames go to `authenticator`: before the first authentication completes, and while a
    /// re-authentication runs.
    private var authenticating: Bool
    /// When the SASL session ends (nil: no limit).
    private var sessionExpiry: NIODeadline?
    /// When the last re-authentication began (Kafka allows one a second).
    private var lastReauthenticationStart: NIODeadline?
    /// Shared with the frame decoder; told when authentication completes.
    private let frameLimits: KafkaFrameLimits?
    /// Authentication failed: the delayed answer and close are scheduled, nothing more is read.
    private var authenticationFailed = false

    /// `authenticator` makes the connection authenticate first (SASL listeners); `frameLimits` is the
    /// frame decoder's, raised once the client has authenticated.
    public init(dispatcher: RequestDispatcher, connection: ConnectionInfo, logger: Logger, maxQueuedRequests: Int = 32,
                authenticator: SaslServerAuthenticator? = nil, frameLimits: KafkaFrameLimits? = nil, writesFrames: Bool = false) {
        self.writesFrames = writesFrames
        self.dispatcher = dispatcher
        self.connection = connection
        self.logger = logger
        self.maxQueuedRequests = maxQueuedRequests
        self.authenticator = authenticator
        self.authenticating = authenticator != nil
        self.frameLimits = frameLimits
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing, !draining, !authenticationFailed else { return }
        queue.append(unwrapInboundIn(data))
        processNext(context: context)
    }

    /// How many frames may wait before reading pauses: one while the client authenticates.
    private var queueLimit: Int { authenticating ? 1 : maxQueuedRequests }

    public func read(context: ChannelHandlerContext) {
        if authenticationFailed { return }
        if queue.count >= queueLimit {
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
            if pending.isEmpty { close(context: context) }
            return
        }
        if let identified = event as? PeerIdentifiedEvent {
            // On a SASL listener the principal is the one SASL establishes.
            if authenticator == nil { connection.principal = identified.principal }
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
        guard !closing, let next = queue.first else { return }
        let isProduce = next.getInteger(at: next.readerIndex, as: Int16.self) == KafkaApiKey.produce.rawValue
        if let last = pending.last {
            // Only a Produce may overlap, and only Produces that have written their batches.
            guard isProduce, !authenticating, !last.holdsOrdering, pending.count < Self.maxPipelined,
                  pending.allSatisfy(\.isProduce) else { return }
        }
        let frame = queue.removeFirst()
        if readPending && queue.count < queueLimit {
            readPending = false
            context.read()
        }
        let connection = self.connection
        if authenticator != nil, !authenticating {
            switch sessionCheck(frame) {
            case .proceed:
                break
            case .reauthenticate:
                authenticating = true
            case .expired:
                authenticator?.monitor.recordExpiredSession()
                logger.info("closing connection: SASL session expired and the client did not re-authenticate",
                            metadata: ["client": "\(connection.clientHost)", "listener": "\(connection.listenerName)", "principal": "\(connection.principal)"])
                close(context: context)
                return
            }
        }
        let request = PendingRequest(isProduce: isProduce && !authenticating)
        pending.append(request)
        if let authenticator, authenticating {
            let promise = context.eventLoop.makePromise(of: SaslServerAuthenticator.Outcome.self)
            promise.completeWithTask { await authenticator.receive(frame, connection: connection) }
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            promise.futureResult.whenSuccess { outcome in
                let (handler, context) = loopBound.value
                handler.finishAuthentication(outcome, context: context)
            }
            return
        }
        let dispatcher = self.dispatcher
        let promise = context.eventLoop.makePromise(of: DispatchOutcome.self)
        let loopBound = NIOLoopBound((self, context, request), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let ordering = request.isProduce ? RequestOrdering {
            eventLoop.execute {
                let (handler, context, request) = loopBound.value
                handler.release(request, context: context)
            }
        } : nil
        let segmented = writesFrames
        promise.completeWithTask {
            await dispatcher.dispatch(frame: frame, connection: connection, ordering: ordering, segmented: segmented)
        }
        promise.futureResult.whenSuccess { outcome in
            let (handler, context, request) = loopBound.value
            handler.finish(outcome, request: request, context: context)
        }
    }

    /// The request's batches are written: a following Produce may start.
    private func release(_ request: PendingRequest, context: ChannelHandlerContext) {
        guard request.holdsOrdering else { return }
        request.holdsOrdering = false
        processNext(context: context)
    }

    private func finish(_ outcome: DispatchOutcome, request: PendingRequest, context: ChannelHandlerContext) {
        request.outcome = outcome
        request.holdsOrdering = false
        guard !closing else { return }
        // Answer every finished request at the head of the line, in order.
        var wrote = false
        while let first = pending.first, let outcome = first.outcome {
            pending.removeFirst()
            let last = draining && pending.isEmpty
            switch outcome {
            case .respond(let response):
                writeFrame([response], context: context, closeAfter: last)
                wrote = true
            case .respondSegments(let segments):
                writeFrame(segments, context: context, closeAfter: last)
                wrote = true
            case .noResponse:
                if last { close(context: context) }
            case .close(let reason):
                close(context: context, reason: reason)
                return
            }
        }
        if wrote { context.flush() }
        if draining { return }
        processNext(context: context)
    }

    /// Writes one response frame body made of `segments`; with `closeAfter` (shutdown) closes the
    /// connection once it has left, so shutdown does not cut it off.
    private func writeFrame(_ segments: [ByteBuffer], context: ChannelHandlerContext, closeAfter: Bool) {
        var promise: EventLoopPromise<Void>?
        if closeAfter {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            promise = context.eventLoop.makePromise()
            promise?.futureResult.whenComplete { _ in
                let (handler, context) = loopBound.value
                handler.close(context: context)
            }
        }
        guard writesFrames else {
            // A frame encoder below adds the size: one buffer per frame.
            if segments.count == 1 {
                context.write(wrapOutboundOut(segments[0]), promise: promise)
            } else {
                var body = context.channel.allocator.buffer(capacity: segments.reduce(0) { $0 + $1.readableBytes })
                for segment in segments { body.writeImmutableBuffer(segment) }
                context.write(wrapOutboundOut(body), promise: promise)
            }
            return
        }
        // The size prefix and small segments are gathered into one buffer (on TLS each write becomes at
        // least one record); large segments (record batches) are written as they are.
        let size = segments.reduce(0) { $0 + $1.readableBytes }
        var small = context.channel.allocator.buffer(capacity: min(4 + size, Self.smallSegmentBytes))
        small.writeInteger(Int32(truncatingIfNeeded: size), endianness: .big)
        for (index, segment) in segments.enumerated() {
            let isLast = index == segments.count - 1
            if segment.readableBytes < Self.smallSegmentBytes {
                small.writeImmutableBuffer(segment)
                continue
            }
            if small.readableBytes > 0 {
                context.write(wrapOutboundOut(small), promise: nil)
                small = context.channel.allocator.buffer(capacity: 256)
            }
            context.write(wrapOutboundOut(segment), promise: isLast ? promise : nil)
        }
        if small.readableBytes > 0 { context.write(wrapOutboundOut(small), promise: promise) }
    }

    private static let smallSegmentBytes = 16 * 1024

    private func finishAuthentication(_ outcome: SaslServerAuthenticator.Outcome, context: ChannelHandlerContext) {
        pending.removeAll()
        guard !closing else { return }
        switch outcome {
        case .respond(let response):
            writeFrame([response], context: context, closeAfter: false)
            context.flush()
        case .authenticated(let response, let session):
            authenticating = false
            connection.principal = session.principal
            sessionExpiry = session.lifetimeMs > 0 ? .now() + .milliseconds(session.lifetimeMs) : nil
            frameLimits?.isAuthenticated = true
            if let response {
                writeFrame([response], context: context, closeAfter: false)
                context.flush()
            }
        case .failed(let response, let reason):
            failAuthentication(response, reason: reason, context: context)
            return
        case .close(let reason):
            close(context: context, reason: reason)
            return
        }
        takeNext(context: context)
    }

    /// After an answer: closes when draining (shutdown), else serves the next queued request.
    private func takeNext(context: ChannelHandlerContext) {
        if draining {
            close(context: context)
        } else {
            processNext(context: context)
        }
    }

    /// Closes because of a request or an authentication step, saying why.
    private func close(context: ChannelHandlerContext, reason: String) {
        logger.warning("closing connection: \(reason)", metadata: ["client": "\(connection.clientHost)", "listener": "\(connection.listenerName)"])
        close(context: context)
    }

    private enum SessionCheck {
        case proceed, reauthenticate, expired
    }

    /// What an authenticated SASL connection does with `frame`: a SaslHandshake begins a
    /// re-authentication when the session has a lifetime and the last one began at least a second ago
    /// (otherwise the registry answers it ILLEGAL_SASL_STATE); any other request after the session
    /// ended closes the connection.
    private func sessionCheck(_ frame: ByteBuffer) -> SessionCheck {
        guard let sessionExpiry else { return .proceed }
        let now = NIODeadline.now()
        if frame.getInteger(at: frame.readerIndex, as: Int16.self) == KafkaApiKey.saslHandshake.rawValue,
           lastReauthenticationStart.map({ now - $0 >= .seconds(1) }) ?? true {
            lastReauthenticationStart = now
            return .reauthenticate
        }
        return now > sessionExpiry ? .expired : .proceed
    }

    /// Stops taking requests; after the failed-authentication delay sends `response` and closes
    /// (Kafka's `connection.failed.authentication.delay.ms`: a client guessing passwords gets its
    /// answers slowly).
    private func failAuthentication(_ response: ByteBuffer?, reason: String, context: ChannelHandlerContext) {
        logger.info("failed authentication: \(reason)", metadata: ["client": "\(connection.clientHost)", "listener": "\(connection.listenerName)"])
        authenticationFailed = true
        queue.removeAll()
        let delay = authenticator?.failedAuthenticationDelay ?? .zero
        authenticator = nil
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = loopBound.value
            guard !handler.closing else { return }
            guard let response else {
                handler.close(context: context)
                return
            }
            handler.writeFrame([response], context: context, closeAfter: true)
            context.flush()
        }
    }
}

/// A request started on a connection, until its answer is written.
private final class PendingRequest {
    let isProduce: Bool
    /// Until released, no later request may start.
    var holdsOrdering = true
    /// Set when the request finished; written once every earlier answer is.
    var outcome: DispatchOutcome?

    init(isProduce: Bool) { self.isProduce = isProduce }
}
