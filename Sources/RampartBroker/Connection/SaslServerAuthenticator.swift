import KafkaProtocol
import Logging
import NIOCore
import RampartSASL

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

    public init(enabledMechanisms: [SASLMechanism], failedAuthenticationDelayMs: Int64 = 100, maxRequestsBeforeAuthentication: Int = 16,
                scramProvider: SCRAMServerProvider = .builtin) {
        self.enabledMechanisms = enabledMechanisms
        self.failedAuthenticationDelayMs = failedAuthenticationDelayMs
        self.maxRequestsBeforeAuthentication = maxRequestsBeforeAuthentication
        self.scramProvider = scramProvider
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
public actor SaslServerAuthenticator {
    /// What the connection does with a frame's outcome.
    public enum Outcome: Sendable {
        /// Write this frame body and read the next frame.
        case respond(ByteBuffer)
        /// The client is authenticated as `principal`: write `response` (if any); later frames are
        /// ordinary requests.
        case authenticated(response: ByteBuffer?, principal: KafkaPrincipal)
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
        /// Finished, either way; nothing more is taken.
        case finished
    }

    private let settings: SaslListenerSettings
    private let dispatcher: RequestDispatcher
    private let credentials: @Sendable () async -> SCRAMCredentialLookup
    private let logger: Logger
    private var state = State.awaitingHandshake(apiVersionsAnswered: false)
    private var requests = 0

    /// How long a failure waits before its answer and the close.
    public nonisolated let failedAuthenticationDelay: TimeAmount

    /// `dispatcher` answers ApiVersions; `credentials` gives the credential lookup an exchange uses
    /// (a snapshot taken at the handshake).
    public init(settings: SaslListenerSettings, dispatcher: RequestDispatcher,
                credentials: @escaping @Sendable () async -> SCRAMCredentialLookup, logger: Logger) {
        self.settings = settings
        self.dispatcher = dispatcher
        self.credentials = credentials
        self.logger = logger
        self.failedAuthenticationDelay = .milliseconds(settings.failedAuthenticationDelayMs)
    }

    private var enabledNames: [String] { settings.enabledMechanisms.map(\.name) }

    /// Takes the next frame of a connection that has not authenticated yet.
    public func receive(_ frame: ByteBuffer, connection: ConnectionInfo) async -> Outcome {
        requests += 1
        guard requests <= settings.maxRequestsBeforeAuthentication else {
            state = .finished
            return .close(reason: "more than \(settings.maxRequestsBeforeAuthentication) requests without completing authentication")
        }
        switch state {
        case .authenticatingRaw(let mechanism, let started):
            return exchange(mechanism, started: started, token: Array(buffer: frame), raw: true, request: nil, connection: connection)
        case .finished:
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
            if case .awaitingHandshake = state { return Self.outcome(await dispatcher.dispatch(frame: frame, connection: connection)) }
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
            return exchange(mechanism, started: started, token: Array(buffer: request.authBytes), raw: false, request: decoded,
                            connection: connection)
        case (.saslHandshake, _), (.saslAuthenticate, _):
            state = .finished
            let response = errorResponse(decoded, .illegalSaslState)
            return .failed(response: response, reason: "\(decoded.apiKey.name) v\(decoded.apiVersion) not expected at this point of SASL authentication")
        default:
            state = .finished
            return .close(reason: "\(decoded.apiKey.name) request before SASL authentication completed")
        }
    }

    private func handshake(_ request: SaslHandshakeRequest, decoded: DecodedKafkaRequest, connection: ConnectionInfo) async -> Outcome {
        guard let mechanism = SASLMechanism(name: request.mechanism), settings.enabledMechanisms.contains(mechanism) else {
            state = .finished
            // The client's string is not a label value (unbounded); the failure is counted under "unknown".
            BrokerMetrics.authentication(mechanism: "unknown", outcome: "unsupported_mechanism")
            let response = encode(SaslHandshakeResponse(errorCode: KafkaErrorCode.unsupportedSaslMechanism.rawValue, mechanisms: enabledNames),
                                  decoded)
            return .failed(response: response, reason: "client asked for SASL mechanism '\(request.mechanism.prefix(64))', not one of \(enabledNames.joined(separator: ", "))")
        }
        let server: any SASLServerMechanism
        do {
            server = try SASLServerMechanisms.make(mechanism, credentials: await credentials(), scramProvider: settings.scramProvider)
        } catch {
            state = .finished
            logger.error("cannot start a \(mechanism.name) exchange: \(error)", metadata: ["client": "\(connection.clientHost)"])
            return .close(reason: "SASL library failure")
        }
        state = decoded.apiVersion == 0 ? .authenticatingRaw(server, started: false) : .authenticating(server, started: false)
        guard let response = encode(SaslHandshakeResponse(errorCode: 0, mechanisms: enabledNames), decoded) else {
            return .close(reason: "cannot encode the SaslHandshake response")
        }
        return .respond(response)
    }

    private func exchange(_ mechanism: any SASLServerMechanism, started: Bool, token: [UInt8], raw: Bool,
                          request: DecodedKafkaRequest?, connection: ConnectionInfo) -> Outcome {
        let step = started ? mechanism.step(response: token) : mechanism.start(clientFirst: token)
        switch step {
        case .challenge(let bytes):
            state = raw ? .authenticatingRaw(mechanism, started: true) : .authenticating(mechanism, started: true)
            if raw { return .respond(ByteBuffer(bytes: bytes)) }
            guard let request, let response = encode(SaslAuthenticateResponse(errorCode: 0, errorMessage: nil, authBytes: ByteBuffer(bytes: bytes)), request) else {
                return .close(reason: "cannot encode the SaslAuthenticate response")
            }
            return .respond(response)
        case .success(let identity, let finalData):
            state = .finished
            let principal = KafkaPrincipal(name: identity.username)
            BrokerMetrics.authentication(mechanism: mechanism.mechanism.name, outcome: "success")
            logger.debug("authenticated", metadata: [
                "client": "\(connection.clientHost)", "listener": "\(connection.listenerName)",
                "mechanism": "\(mechanism.mechanism.name)", "principal": "\(principal)"])
            if raw { return .authenticated(response: ByteBuffer(bytes: finalData), principal: principal) }
            // No re-authentication yet: a session lifetime of 0 means "no limit" to clients.
            let response = request.flatMap {
                encode(SaslAuthenticateResponse(errorCode: 0, errorMessage: nil, authBytes: ByteBuffer(bytes: finalData), sessionLifetimeMs: 0), $0)
            }
            return .authenticated(response: response, principal: principal)
        case .failure(let failure):
            state = .finished
            BrokerMetrics.authentication(mechanism: mechanism.mechanism.name, outcome: failure.reason.rawValue)
            logger.debug("SASL exchange failed", metadata: ["client": "\(connection.clientHost)", "detail": "\(failure.detail)"])
            let reason = "failed authentication with SASL mechanism \(mechanism.mechanism.name) (\(failure.reason.rawValue))"
            if raw { return .failed(response: nil, reason: reason) }
            let response = request.flatMap {
                encode(SaslAuthenticateResponse(errorCode: KafkaErrorCode.saslAuthenticationFailed.rawValue,
                                                errorMessage: failure.clientMessage), $0)
            }
            return .failed(response: response, reason: reason)
        }
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
        case .noResponse: return .close(reason: "no answer to a request before authentication")
        case .close(let reason): return .close(reason: reason)
        }
    }
}
