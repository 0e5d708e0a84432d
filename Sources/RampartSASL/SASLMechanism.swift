/// A SASL mechanism Rampart serves, by its IANA name (the name clients put in SaslHandshake and in
/// `sasl.enabled.mechanisms`).
public enum SASLMechanism: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case plain = "PLAIN"
    case scramSHA256 = "SCRAM-SHA-256"
    case scramSHA512 = "SCRAM-SHA-512"
    case oauthBearer = "OAUTHBEARER"
    case gssapi = "GSSAPI"

    /// The mechanism named `name` (exact, upper case as registered with IANA), or nil.
    public init?(name: String) { self.init(rawValue: name) }

    /// The registered name.
    public var name: String { rawValue }
    public var description: String { rawValue }

    /// The SCRAM variant, or nil for a mechanism that is not SCRAM.
    public var scram: SCRAMMechanism? {
        switch self {
        case .plain, .oauthBearer, .gssapi: return nil
        case .scramSHA256: return .sha256
        case .scramSHA512: return .sha512
        }
    }

    /// Mechanisms Kafka defines that this build does not serve yet; configuring one is an error
    /// that names it rather than an unknown-name error.
    public static let knownButNotServed: Set<String> = []
}

/// A SCRAM variant (RFC 5802 with the hash of RFC 7677 / Kafka's KIP-84).
public enum SCRAMMechanism: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case sha256 = "SCRAM-SHA-256"
    case sha512 = "SCRAM-SHA-512"

    /// The mechanism by its name (`SCRAM-SHA-256`, `SCRAM-SHA-512`), or nil.
    public init?(name: String) { self.init(rawValue: name) }

    /// The registered name, also the scheme of its RFC 5803 `authPassword` values.
    public var name: String { rawValue }
    public var description: String { rawValue }

    /// The SASL mechanism.
    public var saslMechanism: SASLMechanism { self == .sha256 ? .scramSHA256 : .scramSHA512 }

    /// The size of the hash output in bytes (and of StoredKey and ServerKey).
    public var digestSize: Int { self == .sha256 ? 32 : 64 }

    /// The smallest iteration count accepted (Kafka's minimum for SHA-256 and SHA-512, and RFC 7677's
    /// recommendation).
    public static let minIterations = 4096
    /// The largest iteration count accepted (Kafka's maximum: a credential that costs the server more
    /// per PLAIN login, or a client more per SCRAM login, is refused).
    public static let maxIterations = 16384
    /// The iteration count of new credentials when none is asked for (Kafka's default).
    public static let defaultIterations = 4096
}
