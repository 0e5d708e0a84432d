import NIOConcurrencyHelpers
import NIOCore
import RampartTLS

/// Watches `TLSHandler` for the connection: completes `handshake` with what was negotiated, or fails it
/// with the `TLSError` (bad certificate, host name mismatch, handshake timeout) or the close that ended
/// it; keeps the first TLS error in `failure`, including one after the handshake. (With TLS 1.3 a broker
/// judges the client certificate after the client's handshake is done: its refusal arrives as an alert
/// that may close the connection before the first request is written.)
final class TLSSessionObserver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let handshake: EventLoopPromise<TLSHandshakeResult>
    private let failure: NIOLockedValueBox<TLSError?>

    init(handshake: EventLoopPromise<TLSHandshakeResult>, failure: NIOLockedValueBox<TLSError?>) {
        self.handshake = handshake
        self.failure = failure
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted(let result)? = event as? TLSUserEvent {
            handshake.succeed(result)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let tlsError = error as? TLSError {
            failure.withLockedValue { if $0 == nil { $0 = tlsError } }
        }
        handshake.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshake.fail(TLSError(kind: .handshakeFailed, message: "connection closed during the TLS handshake"))
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        handshake.fail(TLSError(kind: .handshakeFailed, message: "connection closed during the TLS handshake"))
    }
}
