/// The identity a mechanism established: the user name the client proved it holds credentials for.
/// The broker turns it into the principal `User:<username>`.
public struct SASLIdentity: Sendable, Hashable, CustomStringConvertible {
    public let username: String
    /// How much longer the credential presented stays valid, in milliseconds, for credentials that
    /// expire (an OAUTHBEARER token's `exp`); nil for passwords. Bounds the session when
    /// re-authentication is on (KIP-368).
    public let credentialLifetimeMs: Int64?

    public init(username: String, credentialLifetimeMs: Int64? = nil) {
        self.username = username
        self.credentialLifetimeMs = credentialLifetimeMs
    }

    public var description: String { username }
}

/// Why an authentication failed. `clientMessage` is what the client may be told (the same text for
/// an unknown user and a wrong password); `detail` is for the broker's debug log and may quote the
/// SASL library. Neither ever contains a password.
public struct SASLAuthenticationFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, for counters and tests.
    public enum Reason: String, Sendable, Hashable {
        /// Unknown user or wrong password: deliberately indistinguishable.
        case invalidCredentials = "invalid_credentials"
        /// A message that does not follow the mechanism's grammar.
        case malformedMessage = "malformed_message"
        /// An authorization id other than the authenticated user.
        case authorizationIDMismatch = "authorization_id_mismatch"
        /// A message after the exchange had finished, or before it started.
        case unexpectedMessage = "unexpected_message"
        /// The SASL library failed for a reason of its own.
        case internalError = "internal_error"
        /// An OAUTHBEARER token that is not valid (signature, expiry, audience, …).
        case invalidToken = "invalid_token"
    }

    public let reason: Reason
    public let clientMessage: String
    public let detail: String

    public init(reason: Reason, clientMessage: String, detail: String) {
        self.reason = reason
        self.clientMessage = clientMessage
        self.detail = detail
    }

    public var description: String { "\(reason.rawValue): \(detail)" }
}

/// What a server mechanism answers to a client message.
public enum SASLServerStep: Sendable, Equatable {
    /// Send these bytes to the client and wait for its next message.
    case challenge([UInt8])
    /// The client is authenticated. `finalData` goes to the client with the success (SCRAM's
    /// server-final message, which lets the client verify the server; empty for PLAIN).
    case success(SASLIdentity, finalData: [UInt8])
    /// The exchange failed; the connection should be closed after telling the client.
    case failure(SASLAuthenticationFailure)
}

/// The server side of one SASL exchange on one connection. Every SASL mechanism Kafka clients use
/// starts with a client message, so the exchange is `start(clientFirst:)` followed by `step(response:)`
/// for each further client message, until `.success` or `.failure`. An identity exists only once a
/// mechanism has validated it. Instances belong to one connection and are used by one task at a time.
public protocol SASLServerMechanism: AnyObject {
    /// The mechanism this exchange runs.
    var mechanism: SASLMechanism { get }

    /// Takes the client's first message.
    func start(clientFirst: [UInt8]) -> SASLServerStep

    /// Takes the client's next message.
    func step(response: [UInt8]) -> SASLServerStep
}

/// Finds the stored SCRAM credential of a user for one SCRAM variant (nil: no such user, or no
/// credential of that variant). Called synchronously while a client message is processed, so it
/// reads a snapshot rather than waiting on a store.
public typealias SCRAMCredentialLookup = @Sendable (_ username: String, _ mechanism: SCRAMMechanism) -> SCRAMCredential?
