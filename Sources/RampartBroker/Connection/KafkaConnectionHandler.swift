import KafkaProtocol
import Logging
import NIOCore

/// Serves one client connection: takes request frames (after `KafkaFrameDecoder`), dispatches them one
/// at a time in arrival order, and writes each response before starting the next request, as Kafka does
/// (a client pipelining requests gets its answers in order). While requests queue up beyond
/// `maxQueuedRequests`, reading from the socket pauses, so a fast sender is held back by TCP. While the
/// client authenticates (or re-authenticates), at most one frame waits behind the one being served, as
/// Kafka reads one request at a time then: a client that has not authenticated cannot make the broker
/// hold many pre-authentication-sized frames.
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
    private var queue = CircularBuffer<ByteBuffer>()
    private var inFlight = false
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
                authenticator: SaslServerAuthenticator? = nil, frameLimits: KafkaFrameLimits? = nil) {
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
            if !inFlight { close(context: context) }
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
        guard !inFlight, !closing, let frame = queue.popFirst() else { return }
        inFlight = true
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
                inFlight = false
                close(context: context)
                return
            }
        }
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
            close(context: context, reason: reason)
            return
        }
        takeNext(context: context)
    }

    private func finishAuthentication(_ outcome: SaslServerAuthenticator.Outcome, context: ChannelHandlerContext) {
        inFlight = false
        guard !closing else { return }
        switch outcome {
        case .respond(let response):
            context.writeAndFlush(wrapOutboundOut(response), promise: nil)
        case .authenticated(let response, let session):
            authenticating = false
            connection.principal = session.principal
            sessionExpiry = session.lifetimeMs > 0 ? .now() + .milliseconds(session.lifetimeMs) : nil
            frameLimits?.isAuthenticated = true
            if let response { context.writeAndFlush(wrapOutboundOut(response), promise: nil) }
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
            context.writeAndFlush(handler.wrapOutboundOut(response)).whenComplete { _ in
                let (handler, context) = loopBound.value
                handler.close(context: context)
            }
        }
    }
}
