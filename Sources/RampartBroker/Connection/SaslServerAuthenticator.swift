import KafkaProtocol
import Logging
import NIOCore
import RampartAuthorizer
import RampartSASL

/// Where a SASL listener's authentication outcomes go: the authorizer's audit sink (the audit log),
/// stamped with the broker's clock.
public struct AuthenticationAuditor: Sendable {
    public let authorizer: Authorizer
    public let clock: @Sendable () -> Int64

    public init(authorizer: Authorizer, clock: @escaping @Sendable () -> Int64) {
        self.authorizer = authorizer
        self.clock = clock
    }

    /// Records one outcome: success when `reason` is nil (with the principal), else a failure.
    public func record(_ connection: ConnectionInfo, mechanism: String, principal: KafkaPrincipal?, reauthentication: Bool, failure reason: String?) {
        authorizer.recordAuthentication(AuthenticationEvent(
            timeMs: clock(), principal: principal, clientHost: connection.clientHost, listener: connection.listenerName,
            mechanism: mechanism, succeeded: reason == nil, reauthentication: reauthentication, reason: reason))
    }
}

/// What a SASL listener asks of its clients.
public struct SaslListenerSettings: Sendable {
    /// The mechanisms offered (`sasl.enabled.mechanisms`, or its `listener.name.<l>.` override), in
    /// the order SaslHandshake lists them.
    public var enabledMechanisms: [SASLMechanism]
    /// How long a failed authentication waits before its answer is sent and the connection closed
    /// (`connection.failed.authentication.delay.ms`, Kafka's default 100).
    public var failedAuthenticationDelayMs: Int64
    /// Requests accepted before authentication completes; a client that needs more is not
    /// authenticating (a SCRAM login takes four: ApiVersions, SaslHandshake, two SaslAuthenticate).
    public var maxRequestsBeforeAuthentication: Int
    /// Which implementation serves SCRAM (`rampart.sasl.scram.provider`).
    public var scramProvider: SCRAMServerProvider
    /// The longest session before the client must re-authenticate (`connections.max.reauth.ms`,
    /// KIP-368); 0 turns re-authentication off (Kafka's default).
    public var maxReauthenticationMs: Int64
    /// Validates OAUTHBEARER tokens (required when OAUTHBEARER is enabled).
    public var oauthBearer: OAuthBearerValidator?
    /// The broker's Kerberos identity and principal rules (required when GSSAPI is enabled).
    public var gssapi: GSSAPIServerSettings?

    public init(enabledMechanisms: [SASLMechanism], failedAuthenticationDelayMs: Int64 = 100, maxRequestsBeforeAuthentication: Int = 16,
                scramProvider: SCRAMServerProvider = .builtin, maxReauthenticationMs: Int64 = 0, oauthBearer: OAuthBearerValidator? = nil,
                gssapi: GSSAPIServerSettings? = nil) {
        self.oauthBearer = oauthBearer
        self.gssapi = gssapi
        self.enabledMechanisms = enabledMechanisms
        self.failedAuthenticationDelayMs = failedAuthenticationDelayMs
        self.maxRequestsBeforeAuthentication = maxRequestsBeforeAuthentication
        self.scramProvider = scramProvider
        self.maxReauthenticationMs = maxReauthenticationMs
    }
}

/// What a successful SASL authentication established on a connection.
public struct SaslSession: Sendable, Equatable {
    /// `User:<name>`.
    public var principal: KafkaPrincipal
    /// The mechanism used; a re-authentication must use the same one.
    public var mechanism: SASLMechanism
    /// How long the session lasts before the client must re-authenticate (KIP-368): the smaller of
    /// `connections.max.reauth.ms` and the credential's remaining lifetime (an OAUTHBEARER token's
    /// `exp`); 0 = no limit (re-authentication off).
    public var lifetimeMs: Int64

    public init(principal: KafkaPrincipal, mechanism: SASLMechanism, lifetimeMs: Int64) {
        self.principal = principal
        self.mechanism = mechanism
        self.lifetimeMs = lifetimeMs
    }
}

/// The authentication phase of one connection on a SASL listener, as Kafka's
/// `SaslServerAuthenticator` runs it. It sees every frame until the client has authenticated:
///
/// - before the handshake: ApiVersions (answered by the registry, once), then SaslHandshake naming an
///   enabled mechanism (else UNSUPPORTED_SASL_MECHANISM with the enabled list, and the connection
///   closes);
/// - after SaslHandshake v1: SaslAuthenticate requests carrying the mechanism's messages;
///   after SaslHandshake v0: raw SASL tokens (4-byte length, no Kafka header) both ways;
/// - anything else closes the connection (a SASL request in the wrong state first gets its
///   ILLEGAL_SASL_STATE answer).
///
/// A failed exchange answers SASL_AUTHENTICATION_FAILED (v1 framing) with the mechanism's message —
/// the same for an unknown user and a wrong password — after the failed-authentication delay, then the
/// connection closes. On success the connection carries the principal `User:<name>`.
///
/// Re-authentication (KIP-368): once authenticated, the connection hands a SaslHandshake back here
/// (when its session has a lifetime, at most once a second). The exchange runs again from the
/// handshake (no ApiVersions); it must use the same mechanism (else UNSUPPORTED_SASL_MECHANISM) and
/// prove the same principal (else SASL_AUTHENTICATION_FAILED "Cannot change principals during
/// re-authentication from …"); success starts a new session lifetime.
public actor SaslServerAuthenticator {
    /// What the connection does with a frame's outcome.
    public enum Outcome: Sendable {
        /// Write this frame body and read the next frame.
        case respond(ByteBuffer)
        /// The client is authenticated (or re-authenticated) in `session`: write `response` (if any);
        /// later frames are ordinary requests.
        case authenticated(response: ByteBuffer?, session: SaslSession)
        /// Authentication failed: after the failed-authentication delay, write `response` (if any),
        /// then close. `reason` is logged.
        case failed(response: ByteBuffer?, reason: String)
        /// Close now; `reason` is logged.
        case close(reason: String)
    }

    private enum State {
        /// Waiting for SaslHandshake (ApiVersions allowed once).
        case awaitingHandshake(apiVersionsAnswered: Bool)
        /// SaslHandshake v1 done: SaslAuthenticate requests carry the exchange.
        case authenticating(any SASLServerMechanism, started: Bool)
        /// SaslHandshake v0 done: raw tokens carry the exchange.
        case authenticatingRaw(any SASLServerMechanism, started: Bool)
        /// Authenticated; a SaslHandshake handed back starts a re-authentication.
        case authenticated(SaslSession)
        /// Failed or closed; nothing more is taken.
        case finished
    }

    private let settings: SaslListenerSettings
    private let dispatcher: RequestDispatcher
    private let credentials: @Sendable () async -> SCRAMCredentials
    private let logger: Logger
    /// Counts outcomes and backs off addresses that keep failing; shared by the broker's listeners.
    public nonisolated let monitor: AuthenticationMonitor
    /// Records every outcome in the audit log (nil: not audited).
    private let auditor: AuthenticationAuditor?
    /// Where mechanism steps run (not on the cooperative pool); shared by the broker's listeners.
    private let workers: SASLWorkers
    private var state = State.awaitingHandshake(apiVersionsAnswered: false)
    private var requests = 0
    /// The session being re-authenticated, while a re-authentication runs.
    private var previous: SaslSession?
    /// The mechanism of the handshake, for counters.
    private var currentMechanismName = "none"

    /// How long a failure waits before its answer and the close.
    public nonisolated let failedAuthenticationDelay: TimeAmount

    /// `dispatcher` answers ApiVersions; `credentials` gives the credential lookup an exchange uses
    /// (a snapshot taken at the handshake); `monitor` counts outcomes and applies the per-address
    /// backoff (none by default); `workers` run the mechanisms' steps.
    public init(settings: SaslListenerSettings, dispatcher: RequestDispatcher,
                credentials: @escaping @Sendable () async -> SCRAMCredentials, logger: Logger,
                monitor: AuthenticationMonitor = AuthenticationMonitor(settings: .off), workers: SASLWorkers = SASLWorkers(threads: 1),
                auditor: AuthenticationAuditor? = nil) {
        self.auditor = auditor
        self.settings = settings
        self.dispatcher = dispatcher
        self.credentials = credentials
        self.logger = logger
        self.monitor = monitor
        self.workers = workers
        self.failedAuthenticationDelay = .milliseconds(settings.failedAuthenticationDelayMs)
    }

    private var enabledNames: [String] { settings.enabledMechanisms.map(\.name) }

    /// Takes the next frame of a connection that has not authenticated yet, or that re-authenticates.
    public func receive(_ frame: ByteBuffer, connection: ConnectionInfo) async -> Outcome {
        if case .authenticated(let session) = state {
            // The connection hands a frame back only to re-authenticate: it starts at the handshake.
            previous = session
            requests = 0
            state = .awaitingHandshake(apiVersionsAnswered: true)
        }
        requests += 1
        guard requests <= settings.maxRequestsBeforeAuthentication else {
            state = .finished
            return .close(reason: "more than \(settings.maxRequestsBeforeAuthentication) requests without completing authentication")
        }
        switch state {
        case .authenticatingRaw(let mechanism, let started):
            return await exchange(mechanism, started: started, token: Array(buffer: frame), raw: true, request: nil, connection: connection)
        case .finished, .authenticated:
            return .close(reason: "request after authentication ended")
        case .awaitingHandshake, .authenticating:
            break
        }

        let decoded: DecodedKafkaRequest
        do {
            decoded = try KafkaRequestDecoder.decode(frame: frame)
        } catch KafkaRequestDecodingError.unsupportedVersion(.apiVersions, _, _) {
            // ApiVersions at a version beyond ours: the registry answers with its v0 error body and the
            // client retries; this does not count as the one ApiVersions.
            if case .awaitingHandshake = state, previous == nil { return Self.outcome(await dispatcher.dispatch(frame: frame, connection: connection)) }
            return .close(reason: "ApiVersions during SASL authentication")
        } catch {
            return .close(reason: "undecodable request before authentication: \(error)")
        }

        switch (decoded.apiKey, state) {
        case (.apiVersions, .awaitingHandshake(apiVersionsAnswered: false)):
            state = .awaitingHandshake(apiVersionsAnswered: true)
            return Self.outcome(await dispatcher.dispatch(frame: frame, connection: connection))
        case (.saslHandshake, .awaitingHandshake):
            guard let request = decoded.body as? SaslHandshakeRequest else { return .close(reason: "internal: SaslHandshake body") }
            return await handshake(request, decoded: decoded, connection: connection)
        case (.saslAuthenticate, .authenticating(let mechanism, let started)):
            guard let request = decoded.body as? SaslAuthenticateRequest else { return .close(reason: "internal: SaslAuthenticate body") }
            return await exchange(mechanism, started: started, token: Array(buffer: request.authBytes), raw: false, request: decoded,
                            connection: connection)
        case (.saslHandshake, _), (.saslAuthenticate, _):
            state = .finished
            monitor.recordFailure(host: connection.clientHost, mechanism: currentMechanismName, reason: "illegal_state", countsTowardBackoff: false)
            let response = errorResponse(decoded, .illegalSaslState)
            return .failed(response: response, reason: "\(decoded.apiKey.name) v\(decoded.apiVersion) not expected at this point of SASL authentication")
        default:
            state = .finished
            return .close(reason: "\(decoded.apiKey.name) request before SASL \(previous == nil ? "authentication" : "re-authentication") completed")
        }
    }

    private func handshake(_ request: SaslHandshakeRequest, decoded: DecodedKafkaRequest, connection: ConnectionInfo) async -> Outcome {
        guard let mechanism = SASLMechanism(name: request.mechanism), settings.enabledMechanisms.contains(mechanism) else {
            state = .finished
            monitor.recordFailure(host: connection.clientHost, mechanism: SASLMechanism(name: request.mechanism)?.name ?? "unknown",
                                  reason: "unsupported_mechanism", countsTowardBackoff: false)
            let response = encode(SaslHandshakeResponse(errorCode: KafkaErrorCode.unsupportedSaslMechanism.rawValue, mechanisms: enabledNames),
                                  decoded)
            return .failed(response: response, reason: "client asked for SASL mechanism '\(request.mechanism.prefix(64))', not one of \(enabledNames.joined(separator: ", "))")
        }
        if let previous {
            guard decoded.apiVersion >= 1 else {
                state = .finished
                return .failed(response: errorResponse(decoded, .illegalSaslState), reason: "re-authentication with SaslHandshake v0")
            }
            guard mechanism == previous.mechanism else {
                state = .finished
                monitor.recordFailure(host: connection.clientHost, mechanism: mechanism.name, reason: "mechanism_changed", countsTowardBackoff: false)
                let response = encode(SaslHandshakeResponse(errorCode: KafkaErrorCode.unsupportedSaslMechanism.rawValue, mechanisms: enabledNames),
                                      decoded)
                return .failed(response: response, reason: "SASL mechanism '\(mechanism.name)' requested by client is not supported for re-authentication of mechanism '\(previous.mechanism.name)'")
            }
        }
        let server: any SASLServerMechanism
        do {
            server = try SASLServerMechanisms.make(mechanism, credentials: await credentials(), scramProvider: settings.scramProvider,
                                                   oauthBearer: settings.oauthBearer, gssapi: settings.gssapi)
        } catch {
            state = .finished
            logger.error("cannot start a \(mechanism.name) exchange: \(error)", metadata: ["client": "\(connection.clientHost)"])
            return .close(reason: "SASL library failure")
        }
        state = decoded.apiVersion == 0 ? .authenticatingRaw(server, started: false) : .authenticating(server, started: false)
        currentMechanismName = mechanism.name
        guard let response = encode(SaslHandshakeResponse(errorCode: 0, mechanisms: enabledNames), decoded) else {
            return .close(reason: "cannot encode the SaslHandshake response")
        }
        return .respond(response)
    }

    private func exchange(_ mechanism: any SASLServerMechanism, started: Bool, token: [UInt8], raw: Bool,
                          request: DecodedKafkaRequest?, connection: ConnectionInfo) async -> Outcome {
        let name = mechanism.mechanism.name
        if !started, previous == nil, monitor.isBackingOff(connection.clientHost) {
            // The address keeps failing: refuse without running the mechanism.
            state = .finished
            monitor.recordFailure(host: connection.clientHost, mechanism: name, reason: "backoff", countsTowardBackoff: false)
            auditor?.record(connection, mechanism: name, principal: nil, reauthentication: false, failure: "backoff")
            let reason = "authentication from an address in backoff (rampart.auth.failure.*)"
            if raw { return .failed(response: nil, reason: reason) }
            let response = request.flatMap {
                encode(SaslAuthenticateResponse(errorCode: KafkaErrorCode.saslAuthenticationFailed.rawValue, errorMessage: AuthenticationMonitor.backoffMessage), $0)
            }
            return .failed(response: response, reason: reason)
        }
        let step = await workers.step(.init(mechanism: mechanism), started: started, token: token)
        switch step {
        case .challenge(let bytes):
            state = raw ? .authenticatingRaw(mechanism, started: true) : .authenticating(mechanism, started: true)
            if raw { return .respond(ByteBuffer(bytes: bytes)) }
            guard let request, let response = encode(SaslAuthenticateResponse(errorCode: 0, errorMessage: nil, authBytes: ByteBuffer(bytes: bytes)), request) else {
                return .close(reason: "cannot encode the SaslAuthenticate response")
            }
            return .respond(response)
        case .success(let identity, let finalData):
            let principal = KafkaPrincipal(name: identity.username)
            if let previous, principal != previous.principal {
                state = .finished
                recordFailure(connection, mechanism: name, reason: "principal_changed")
                auditor?.record(connection, mechanism: name, principal: nil, reauthentication: true, failure: "principal_changed")
                let message = "Cannot change principals during re-authentication from \(previous.principal): \(principal)"
                let response = request.flatMap {
                    encode(SaslAuthenticateResponse(errorCode: KafkaErrorCode.saslAuthenticationFailed.rawValue, errorMessage: message), $0)
                }
                return .failed(response: response, reason: message)
            }
            let session = SaslSession(principal: principal, mechanism: mechanism.mechanism, lifetimeMs: sessionLifetimeMs(identity))
            state = .authenticated(session)
            monitor.recordSuccess(mechanism: name, reauthentication: previous != nil)
            auditor?.record(connection, mechanism: name, principal: principal, reauthentication: previous != nil, failure: nil)
            logger.debug(previous == nil ? "authenticated" : "re-authenticated", metadata: [
                "client": "\(connection.clientHost)", "listener": "\(connection.listenerName)",
                "mechanism": "\(mechanism.mechanism.name)", "principal": "\(principal)", "sessionLifetimeMs": "\(session.lifetimeMs)"])
            previous = nil
            if raw { return .authenticated(response: ByteBuffer(bytes: finalData), session: session) }
            // v1+ tells the client when to re-authenticate; 0 means "no limit".
            let response = request.flatMap {
                encode(SaslAuthenticateResponse(errorCode: 0, errorMessage: nil, authBytes: ByteBuffer(bytes: finalData),
                                                sessionLifetimeMs: session.lifetimeMs), $0)
            }
            return .authenticated(response: response, session: session)
        case .failure(let failure):
            state = .finished
            let reauthenticating = previous != nil
            recordFailure(connection, mechanism: name, reason: failure.reason.rawValue)
            auditor?.record(connection, mechanism: name, principal: nil, reauthentication: reauthenticating, failure: failure.reason.rawValue)
            logger.debug("SASL exchange failed", metadata: ["client": "\(connection.clientHost)", "detail": "\(failure.detail)"])
            let reason = "failed \(reauthenticating ? "re-authentication" : "authentication") with SASL mechanism \(mechanism.mechanism.name) (\(failure.reason.rawValue))"
            if raw { return .failed(response: nil, reason: reason) }
            var message = failure.clientMessage
            if reauthenticating && message == SASLServerMechanisms.invalidCredentialsMessage(mechanism.mechanism) {
                message = SASLServerMechanisms.invalidCredentialsMessage(mechanism.mechanism, reauthenticating: true)
            }
            let response = request.flatMap {
                encode(SaslAuthenticateResponse(errorCode: KafkaErrorCode.saslAuthenticationFailed.rawValue, errorMessage: message), $0)
            }
            return .failed(response: response, reason: reason)
        }
    }

    /// Counts a failed exchange toward the address's backoff; says so in the log when one starts.
    private func recordFailure(_ connection: ConnectionInfo, mechanism: String, reason: String) {
        if monitor.recordFailure(host: connection.clientHost, mechanism: mechanism, reason: reason) {
            logger.warning("too many failed authentications from this address: refusing its attempts for rampart.auth.failure.backoff.ms",
                           metadata: ["client": "\(connection.clientHost)", "threshold": "\(monitor.settings.threshold)",
                                      "windowMs": "\(monitor.settings.windowMs)", "backoffMs": "\(monitor.settings.backoffMs)"])
        }
    }

    /// Kafka's rule: with re-authentication on, the session lasts `connections.max.reauth.ms` or until
    /// the credential expires, whichever comes first; an already expired credential still gets a
    /// lifetime (1 ms), so the next request closes the connection rather than living forever.
    private func sessionLifetimeMs(_ identity: SASLIdentity) -> Int64 {
        guard settings.maxReauthenticationMs > 0 else { return 0 }
        guard let credential = identity.credentialLifetimeMs else { return settings.maxReauthenticationMs }
        return max(1, min(settings.maxReauthenticationMs, credential))
    }

    private func errorResponse(_ decoded: DecodedKafkaRequest, _ error: KafkaErrorCode) -> ByteBuffer? {
        switch decoded.body {
        case is SaslHandshakeRequest:
            return encode(SaslHandshakeResponse(errorCode: error.rawValue, mechanisms: enabledNames), decoded)
        case is SaslAuthenticateRequest:
            return encode(SaslAuthenticateResponse(errorCode: error.rawValue,
                                                   errorMessage: "Unexpected SaslAuthenticate request at this point of SASL authentication"), decoded)
        default:
            return nil
        }
    }

    private func encode(_ response: some KafkaResponseMessage, _ request: DecodedKafkaRequest) -> ByteBuffer? {
        var out = ByteBuffer()
        do {
            try response.encodeResponse(version: request.apiVersion, correlationId: request.correlationId, to: &out)
            return out
        } catch {
            logger.error("cannot encode \(request.apiKey.name) v\(request.apiVersion) response: \(error)")
            return nil
        }
    }

    private static func outcome(_ dispatched: DispatchOutcome) -> Outcome {
        switch dispatched {
        case .respond(let buffer): return .respond(buffer)
        case .respondSegments(let segments):
            var buffer = ByteBuffer()
            for var segment in segments { buffer.writeBuffer(&segment) }
            return .respond(buffer)
        case .noResponse: return .close(reason: "no answer to a request before authentication")
        case .close(let reason): return .close(reason: reason)
        }
    }
}
