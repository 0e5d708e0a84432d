import Foundation
import Logging
import NIOCore
import RampartBroker
import RampartTLS
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The TLS side of one `SSL` (or `SASL_SSL`) listener: its context, built from Kafka's `ssl.*` keys
/// (or their `listener.name.<l>.` overrides), and the rules that turn client certificates into
/// principals.
///
/// The context can be rebuilt while the broker runs (certificate rotation): `reload` re-reads the
/// keystore, truststore and CRL, validates them exactly as at start-up and swaps the new context in
/// atomically. New handshakes use it; established connections keep the session they negotiated. A
/// new file that fails validation leaves the previous context in place.
final class ListenerTLS: Sendable {
    /// The listener name, for messages.
    let listener: String
    /// `ssl.principal.mapping.rules` of the listener.
    let principalRules: PrincipalMappingRules
    private let config: BrokerConfig
    private let state: Mutex<State>
    /// Serialises whole reloads (SIGHUP and the poll may race), so an older build never replaces a
    /// newer one.
    private let reloading = Mutex(())

    private struct State {
        var context: TLSContext
        var fingerprint: [FileStamp]
        var reloads = 0
        var failedReloads = 0
    }

    /// The result of `reload`.
    enum ReloadOutcome: Equatable {
        /// No watched file changed (and no reload was forced).
        case unchanged
        /// A new context is in use.
        case reloaded(CertificateSummary?)
        /// The new files were refused; the previous context stays.
        case failed(String)
    }

    /// Builds the listener's context; problems stop start-up with a message naming the listener, the
    /// file and the problem.
    init(config: BrokerConfig, listener: String) throws {
        self.config = config
        self.listener = listener
        do {
            principalRules = try PrincipalMappingRules(parsing: config.listenerValue("ssl.principal.mapping.rules", listener: listener) ?? "DEFAULT")
        } catch {
            throw BrokerServer.StartupError(description: "listener \(listener): \(error)")
        }
        let paths = Self.watchedPaths(config, listener: listener)
        let fingerprint = paths.map(FileStamp.init)
        let context = try Self.makeContext(config, listener: listener)
        state = Mutex(State(context: context, fingerprint: fingerprint))
    }

    /// The context new connections use.
    var context: TLSContext { state.withLock { $0.context } }

    /// The own certificate of the current context.
    var certificate: CertificateSummary? { context.certificate }

    /// Successful and failed reloads so far.
    var reloadCounts: (succeeded: Int, failed: Int) { state.withLock { ($0.reloads, $0.failedReloads) } }

    /// Rebuilds the context when a watched file changed since the last attempt, or always when
    /// `force` is set (SIGHUP). Reads files: call it off the event loops.
    func reload(force: Bool) -> ReloadOutcome {
        reloading.withLock { _ in reloadLocked(force: force) }
    }

    private func reloadLocked(force: Bool) -> ReloadOutcome {
        let paths = Self.watchedPaths(config, listener: listener)
        let fingerprint = paths.map(FileStamp.init)
        let changed = state.withLock { $0.fingerprint != fingerprint }
        guard changed || force else { return .unchanged }
        do {
            let context = try Self.makeContext(config, listener: listener)
            state.withLock { state in
                state.context = context
                state.fingerprint = fingerprint
                state.reloads += 1
            }
            return .reloaded(context.certificate)
        } catch {
            // Remember what was refused, so the same broken files are not retried (and logged) on
            // every poll; the next change is tried again.
            state.withLock { state in
                state.fingerprint = fingerprint
                state.failedReloads += 1
            }
            return .failed("\(error)")
        }
    }

    /// Logs the own certificate's subject and days until it expires (a warning within 30 days).
    func logCertificate(_ logger: Logger, event: String) {
        guard let certificate else { return }
        let days = certificate.daysUntilExpiry()
        let metadata: Logger.Metadata = [
            "listener": "\(listener)", "subject": "\(certificate.subject)",
            "notAfter": "\(ISO8601DateFormatter().string(from: certificate.notAfter))", "daysUntilExpiry": "\(days)",
        ]
        let message: Logger.Message = "\(event): TLS certificate expires in \(days) day\(days == 1 ? "" : "s")"
        if days < 30 {
            logger.warning(message, metadata: metadata)
        } else {
            logger.info(message, metadata: metadata)
        }
    }

    /// The files a context is built from.
    static func watchedPaths(_ config: BrokerConfig, listener: String) -> [String] {
        ["ssl.keystore.location", "ssl.truststore.location", "rampart.ssl.crl.location"].compactMap {
            config.listenerValue($0, listener: listener)
        }
    }

    /// Builds a context from the listener's keys, with every check start-up makes.
    static func makeContext(_ config: BrokerConfig, listener: String) throws -> TLSContext {
        func value(_ key: String) -> String? { config.listenerValue(key, listener: listener) }
        guard let keystore = value("ssl.keystore.location") else {
            throw BrokerServer.StartupError(description: "listener \(listener): ssl.keystore.location is required (a PEM file with the key and certificate chain)")
        }
        // The keystore holds the private key: refuse it when group or others can read it. stat(2)
        // follows symbolic links (certbot's live/, mounted secrets), so the mode is the key file's own.
        // A file that cannot be stat'ed is left to TLSContext, which names the problem.
        var info = stat()
        if stat(keystore, &info) == 0, case let mode = Int(info.st_mode) & 0o777, mode & 0o077 != 0,
           !config.bool("rampart.insecure.allow.readable.key.file") {
            throw BrokerServer.StartupError(description: "listener \(listener): ssl.keystore.location \(keystore) holds a private key but has mode \(String(mode & 0o777, radix: 8)); run chmod 600 on it (or set rampart.insecure.allow.readable.key.file=true)")
        }
        do {
            let timeoutMs = Int64(value("rampart.ssl.handshake.timeout.ms") ?? "") ?? 10_000
            let tls = TLSConfiguration(
                role: .server, certificateChainPath: keystore, privateKeyPath: keystore,
                privateKeyPassword: value("ssl.key.password").map { TLSConfiguration.KeyPassword($0) },
                trustRootsPath: value("ssl.truststore.location"),
                crlPath: value("rampart.ssl.crl.location"),
                clientAuthentication: TLSConfiguration.ClientAuthentication(rawValue: value("ssl.client.auth") ?? "none") ?? .none,
                enabledProtocols: try TLSConfiguration.parseProtocols(value("ssl.enabled.protocols") ?? "TLSv1.3,TLSv1.2"),
                cipherSuites: TLSConfiguration.parseCipherSuites(value("ssl.cipher.suites") ?? ""),
                handshakeTimeout: .milliseconds(timeoutMs))
            return try TLSContext(configuration: tls)
        } catch let error as BrokerServer.StartupError {
            throw error
        } catch {
            throw BrokerServer.StartupError(description: "listener \(listener): \(error)")
        }
    }
}

/// Turns the TLS handshake's client certificate into the connection's principal: the subject DN (RFC
/// 2253) mapped by `ssl.principal.mapping.rules` to `User:<name>`; without a certificate,
/// `User:ANONYMOUS`. A DN no rule maps is refused: the connection is closed, as Kafka does.
///
/// Audited (`auditor`): a login with a client certificate (mechanism `SSL`, the mapped principal), a
/// certificate no rule maps (`no_principal_mapping_rule`) and, when the listener asks for client
/// certificates (`auditHandshakeFailures`), a failed handshake (`tls_handshake_failed`, e.g. a
/// certificate that does not verify). A handshake without a certificate is no login and is not audited.
final class TLSPrincipalHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let rules: PrincipalMappingRules
    private let logger: Logger
    private let listener: String
    private let auditor: AuthenticationAuditor?
    private let auditHandshakeFailures: Bool
    private var refused = false
    private var handshakeDone = false

    init(rules: PrincipalMappingRules, listener: String, logger: Logger, auditor: AuthenticationAuditor? = nil, auditHandshakeFailures: Bool = false) {
        self.rules = rules
        self.listener = listener
        self.logger = logger
        self.auditor = auditor
        self.auditHandshakeFailures = auditHandshakeFailures
    }

    private func audit(_ context: ChannelHandlerContext, principal: KafkaPrincipal?, failure: String?) {
        let connection = ConnectionInfo(listenerName: listener, clientHost: context.remoteAddress?.ipAddress ?? "unknown", principal: .anonymous)
        auditor?.record(connection, mechanism: "SSL", principal: principal, reauthentication: false, failure: failure)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if !handshakeDone, auditHandshakeFailures, let tlsError = error as? TLSError, tlsError.kind == .handshakeFailed {
            handshakeDone = true
            audit(context, principal: nil, failure: "tls_handshake_failed")
        }
        context.fireErrorCaught(error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let result) = event as? TLSUserEvent {
            handshakeDone = true
            let principal: KafkaPrincipal
            if let subject = result.peerSubject {
                guard let name = rules.map(subject) else {
                    logger.warning("TLS client refused: no ssl.principal.mapping.rules rule applies to its certificate", metadata: [
                        "listener": "\(listener)", "subject": "\(subject)", "client": "\(context.remoteAddress?.ipAddress ?? "?")",
                    ])
                    refused = true
                    audit(context, principal: nil, failure: "no_principal_mapping_rule")
                    context.close(promise: nil)
                    return
                }
                principal = KafkaPrincipal(name: name)
                audit(context, principal: principal, failure: nil)
            } else {
                principal = .anonymous
            }
            logger.debug("TLS handshake completed", metadata: [
                "listener": "\(listener)", "client": "\(context.remoteAddress?.ipAddress ?? "?")",
                "protocol": "\(result.protocolVersion)", "cipher": "\(result.cipherSuite ?? "?")",
                "subject": "\(result.peerSubject ?? "-")", "principal": "\(principal)",
            ])
            context.fireUserInboundEventTriggered(KafkaConnectionHandler.PeerIdentifiedEvent(principal: principal))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Nothing from a refused peer reaches the Kafka handlers while the close completes.
        guard !refused else { return }
        context.fireChannelRead(data)
    }
}
