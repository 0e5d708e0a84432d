import Logging
import NIOCore
import RampartStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Stops a listener accepting connections while the process is short of file descriptors, and starts it
/// again once descriptors are free: the model is Kafka's acceptor, which backs off while the broker stays
/// up and the open connections keep working. Sits on the server channel, before NIO's accept handler.
///
/// (NIO's own `AcceptBackoffHandler` only delays the next accept after an error: it neither asks the
/// guard nor logs.) Without this handler, a listener whose `accept` fails with `EMFILE` or `ENFILE` goes on calling `accept` in a
/// loop: NIO reports the error on the server channel (where nothing logged it) and reads again at once,
/// as the listening socket stays readable, so the connection waiting in the backlog gets no answer and no
/// refusal is logged while the event loop spins. The handler therefore pauses (turns `autoRead` off on the
/// server channel) when
/// - `accept` fails with `EMFILE` or `ENFILE`, or
/// - after an accept, `ConnectionDescriptorGuard.hasRoom()` says that the next connection would be
///   refused (the connection just accepted is still admitted or refused by the child initializer, which
///   logs its refusals).
///
/// It logs one warning per pause, naming the figures, asks the guard again every `recheckInterval` and
/// resumes (one info line) when there is room. While paused, new connections wait in the listen backlog.
final class DescriptorBackoffHandler: ChannelInboundHandler {
    typealias InboundIn = Channel
    typealias InboundOut = Channel

    /// Why accepting stopped.
    enum PauseReason: Equatable, CustomStringConvertible {
        /// `accept` failed with this `errno` (`EMFILE` or `ENFILE`).
        case acceptFailed(errno: Int32)
        /// The guard refuses the next connection.
        case budgetSpent

        var description: String {
            switch self {
            case .acceptFailed(let code) where code == EMFILE: "accept failed: too many open files in the process (EMFILE)"
            case .acceptFailed(let code) where code == ENFILE: "accept failed: too many open files in the system (ENFILE)"
            case .acceptFailed(let code): "accept failed (errno \(code))"
            case .budgetSpent: "the descriptors left are kept free (the guard refuses the next connection)"
            }
        }
    }

    /// How often a paused listener asks the guard again when none is configured.
    static let defaultRecheckInterval = TimeAmount.milliseconds(250)

    private let descriptorGuard: ConnectionDescriptorGuard
    private let listener: String
    private let logger: Logger
    private let recheckInterval: TimeAmount
    private let setAccepting: (ChannelHandlerContext, Bool) -> Void
    private var recheck: Scheduled<Void>?
    /// Why the listener is paused, nil while it accepts.
    private(set) var pausedBecause: PauseReason?
    /// Whether this shortage was logged: pauses and resumes are logged once until a connection is
    /// accepted again (when accept keeps failing right after each resume, the cycle is not logged anew).
    private var shortageLogged = false

    /// - Parameter setAccepting: turns accepting on or off (default: the server channel's `autoRead`).
    init(descriptorGuard: ConnectionDescriptorGuard, listener: String, logger: Logger,
         recheckInterval: TimeAmount = DescriptorBackoffHandler.defaultRecheckInterval,
         setAccepting: @escaping (ChannelHandlerContext, Bool) -> Void = DescriptorBackoffHandler.setAutoRead) {
        self.descriptorGuard = descriptorGuard
        self.listener = listener
        self.logger = logger
        self.recheckInterval = recheckInterval
        self.setAccepting = setAccepting
    }

    /// Turns the server channel's `autoRead` on or off (off: NIO stops watching the listening socket).
    static func setAutoRead(_ context: ChannelHandlerContext, _ on: Bool) {
        do {
            try context.channel.syncOptions?.setOption(.autoRead, value: on)
        } catch {
            // Only a closed channel refuses the option: nothing is accepted on it any more anyway.
        }
    }

    /// The `errno` of an accept error that means "no descriptor left", nil for any other error.
    static func descriptorErrno(_ error: Error) -> Int32? {
        guard let code = (error as? IOError)?.errnoCode, code == EMFILE || code == ENFILE else { return nil }
        return code
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
        guard pausedBecause == nil else { return }
        shortageLogged = false
        let room = descriptorGuard.hasRoom()
        if !room.room { pause(context: context, reason: .budgetSpent, open: room.open) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let code = Self.descriptorErrno(error) else {
            context.fireErrorCaught(error)
            return
        }
        if pausedBecause == nil { pause(context: context, reason: .acceptFailed(errno: code), open: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelRecheck()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelRecheck()
    }

    private func pause(context: ChannelHandlerContext, reason: PauseReason, open: Int?) {
        pausedBecause = reason
        setAccepting(context, false)
        // After EMFILE the count itself may need the descriptor that is missing: the guard answers then.
        let counted = open ?? descriptorGuard.hasRoom().open
        let level: Logger.Level = shortageLogged ? .debug : .warning
        logger.log(level: level, "stopped accepting connections: too few file descriptors left", metadata: [
            "listener": "\(listener)", "reason": "\(reason)", "file.descriptors.open": "\(counted)",
            "file.descriptors.limit": "\(descriptorGuard.limit)", "kept.free": "\(descriptorGuard.floor)",
            "recheck.ms": "\(recheckInterval.nanoseconds / 1_000_000)",
        ])
        scheduleRecheck(context: context)
    }

    private func scheduleRecheck(context: ChannelHandlerContext) {
        recheck = context.eventLoop.assumeIsolated().scheduleTask(in: recheckInterval) { [weak self] in
            self?.recheckNow(context: context)
        }
    }

    private func recheckNow(context: ChannelHandlerContext) {
        recheck = nil
        guard let reason = pausedBecause, context.channel.isActive else { return }
        let room = descriptorGuard.hasRoom()
        guard room.room else {
            scheduleRecheck(context: context)
            return
        }
        pausedBecause = nil
        setAccepting(context, true)
        let level: Logger.Level = shortageLogged ? .debug : .info
        shortageLogged = true
        logger.log(level: level, "accepting connections again: file descriptors are free", metadata: [
            "listener": "\(listener)", "paused.because": "\(reason)", "file.descriptors.open": "\(room.open)",
            "file.descriptors.limit": "\(descriptorGuard.limit)", "kept.free": "\(descriptorGuard.floor)",
        ])
    }

    private func cancelRecheck() {
        recheck?.cancel()
        recheck = nil
    }
}
