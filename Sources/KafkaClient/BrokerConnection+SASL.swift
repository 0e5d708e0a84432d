import KafkaProtocol
import NIOConcurrencyHelpers
import NIOCore
import RampartSASL

/// What a SASL login established on a connection.
public struct SASLSession: Sendable, Equatable {
    /// The mechanism used.
    public var mechanism: SASLMechanism
    /// The session lifetime the broker granted (SaslAuthenticate v1+, KIP-368): the connection must
    /// re-authenticate before it ends; 0 means no limit.
    public var sessionLifetimeMs: Int64
    /// When authentication completed.
    public var authenticatedAt: NIODeadline

    /// When the session ends, or nil without a limit.
    public var expiresAt: NIODeadline? {
        sessionLifetimeMs > 0 ? authenticatedAt + .milliseconds(sessionLifetimeMs) : nil
    }
}

extension BrokerConnection {
    /// The client versions of the SASL APIs: SaslHandshake v1 (SaslAuthenticate framing; v0's raw
    /// tokens are not spoken) and SaslAuthenticate v0–v2.
    static let saslHandshakeVersion: Int16 = 1
    static let saslAuthenticateVersions: ClosedRange<Int16> = 0...2

    /// Runs one SASL login on `channel` (after ApiVersions): SaslHandshake v1 naming the mechanism of
    /// `sasl`, then SaslAuthenticate requests carrying the mechanism's messages until it completes.
    ///
    /// A refusal is an `authentication` error carrying the broker's error code and message (an
    /// unsupported mechanism lists the ones the broker offers); a broker that fails to prove it knows
    /// the credential (SCRAM's server signature) is one too. No message contains the password.
    static func authenticate(
        channel: Channel, sasl: ClientSASLConfig, brokerVersions: [KafkaApiKey: ClosedRange<Int16>], clientId: String,
        timeout: TimeAmount, peer: String
    ) async throws -> SASLSession {
        let client = try sasl.makeMechanism()
        let name = client.mechanism.name
        guard let handshakeRange = brokerVersions[.saslHandshake], handshakeRange.contains(saslHandshakeVersion) else {
            throw KafkaClientError.authentication("\(peer) does not offer SaslHandshake v1: is it a SASL listener?")
        }
        guard let authenticateRange = brokerVersions[.saslAuthenticate],
              let authenticateVersion = ClientAPIVersions.negotiate(client: saslAuthenticateVersions, broker: authenticateRange) else {
            throw KafkaClientError.authentication("\(peer) does not offer SaslAuthenticate v0-v2")
        }

        let handshake = try await exchange(SaslHandshakeRequest(mechanism: name), version: saslHandshakeVersion, channel: channel,
                                           clientId: clientId, timeout: timeout, peer: peer)
        let handshakeError = KafkaErrorCode(handshake.errorCode)
        switch handshakeError {
        case .noError:
            break
        case .unsupportedSaslMechanism:
            let offered = handshake.mechanisms.isEmpty ? "none" : handshake.mechanisms.joined(separator: ", ")
            throw KafkaClientError.authentication(
                "\(peer) does not accept SASL mechanism \(name) (it offers \(offered)): UNSUPPORTED_SASL_MECHANISM", code: handshakeError)
        default:
            throw KafkaClientError.authentication("\(peer): SaslHandshake for \(name): \(handshakeError.name)", code: handshakeError)
        }

        var token: [UInt8]
        do {
            token = try client.initialResponse()
        } catch {
            throw KafkaClientError.authentication("SASL \(name) with \(peer): \(error)")
        }
        // SCRAM takes two rounds, PLAIN one; a broker that keeps challenging is not completing.
        for _ in 0..<8 {
            let response = try await exchange(SaslAuthenticateRequest(authBytes: ByteBuffer(bytes: token)), version: authenticateVersion,
                                              channel: channel, clientId: clientId, timeout: timeout, peer: peer)
            let error = KafkaErrorCode(response.errorCode)
            guard error == .noError else {
                let detail = response.errorMessage.flatMap { $0.isEmpty ? nil : ": \($0)" } ?? ""
                throw KafkaClientError.authentication("SASL authentication with \(peer) failed (\(name)): \(error.name)\(detail)", code: error)
            }
            let next: [UInt8]?
            do {
                next = try client.evaluate(challenge: Array(buffer: response.authBytes))
            } catch {
                throw KafkaClientError.authentication("SASL authentication with \(peer) failed (\(name)): \(error)")
            }
            guard let next else {
                return SASLSession(mechanism: client.mechanism, sessionLifetimeMs: authenticateVersion >= 1 ? max(0, response.sessionLifetimeMs) : 0,
                                   authenticatedAt: .now())
            }
            token = next
        }
        throw KafkaClientError.authentication("SASL authentication with \(peer) (\(name)) did not complete after 8 rounds")
    }

    /// One request and its decoded answer on a connection that has no `BrokerConnection` yet.
    private static func exchange<Request: KafkaRequestMessage>(
        _ request: Request, version: Int16, channel: Channel, clientId: String, timeout: TimeAmount, peer: String
    ) async throws -> Request.Response {
        let frame = try await roundTrip(request, version: version, channel: channel, clientId: clientId, timeout: timeout,
                                        expectsResponse: true, peer: peer)
        do {
            return try Request.Response.decodeResponse(from: frame, version: version).body
        } catch {
            throw KafkaClientError.malformedResponse("\(peer): \(Request.apiKey.name) v\(version) response: \(error)")
        }
    }
}

/// Client-side re-authentication (KIP-368): a broker with `connections.max.reauth.ms` grants each
/// SASL session a lifetime and closes a connection that sends anything but SaslHandshake after it
/// ends. Like Kafka's clients, the connection re-authenticates in place once 85–95% of the lifetime
/// has passed, before its next request: new requests wait, the ones in flight are answered, then
/// SaslHandshake + SaslAuthenticate run alone on the connection (the broker expects nothing between
/// them) and the waiting requests go out.
actor SASLReauthenticator {
    private let box: NIOLockedValueBox<SASLSession?>
    private let reauthenticate: @Sendable () async throws -> SASLSession
    private var inFlight = 0
    private var running = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var drained: CheckedContinuation<Void, Never>?
    private var dueAt: NIODeadline?

    /// `box` holds the current session (read by `BrokerConnection.saslSession`).
    init(session: SASLSession, box: NIOLockedValueBox<SASLSession?>, reauthenticate: @escaping @Sendable () async throws -> SASLSession) {
        self.box = box
        self.reauthenticate = reauthenticate
        self.dueAt = Self.due(session)
    }

    /// When to re-authenticate: at a random point between 85% and 95% of the lifetime, as Kafka's
    /// clients do, so connections opened together do not re-authenticate together.
    static func due(_ session: SASLSession) -> NIODeadline? {
        guard session.sessionLifetimeMs > 0 else { return nil }
        let fraction = Double.random(in: 0.85...0.95)
        return session.authenticatedAt + .milliseconds(Int64(Double(session.sessionLifetimeMs) * fraction))
    }

    /// Called before a request is written; re-authenticates first when it is due. Pair with `leave()`.
    func enter() async throws {
        while running {
            await withCheckedContinuation { waiting.append($0) }
        }
        if let dueAt, NIODeadline.now() >= dueAt {
            running = true
            if inFlight > 0 {
                await withCheckedContinuation { drained = $0 }
            }
            defer {
                running = false
                let resumed = waiting
                waiting.removeAll()
                for continuation in resumed { continuation.resume() }
            }
            let session = try await reauthenticate()
            box.withLockedValue { $0 = session }
            self.dueAt = Self.due(session)
        }
        inFlight += 1
    }

    /// Called once a request entered with `enter()` has been answered (or failed).
    func leave() {
        inFlight -= 1
        if inFlight == 0, let drained {
            self.drained = nil
            drained.resume()
        }
    }
}
