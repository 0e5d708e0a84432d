import NIOCore

/// What a `TLSContext` is built from: the role, certificate chain and key, trust roots, client
/// authentication, protocol versions and cipher suites. Mirrors Kafka's `ssl.*` settings.
public struct TLSConfiguration: Sendable {
    /// Which side of the handshake the context serves.
    public enum Role: Sendable, Equatable {
        /// Accepts connections (a broker listener).
        case server
        /// Opens connections (a client, a `rampart` command).
        case client
    }

    /// Kafka's `ssl.client.auth`.
    public enum ClientAuthentication: String, Sendable, Equatable {
        /// No client certificate is asked for.
        case none
        /// A certificate is asked for; if sent it must verify, but a client may send none.
        case requested
        /// A client without a valid certificate is refused.
        case required
    }

    /// A TLS protocol version, named as in Kafka's `ssl.enabled.protocols`.
    public enum ProtocolVersion: String, Sendable, Comparable, CaseIterable {
        /// TLS 1.2.
        case tlsv1_2 = "TLSv1.2"
        /// TLS 1.3.
        case tlsv1_3 = "TLSv1.3"

        /// Orders versions from oldest to newest.
        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// The password of an encrypted private key (`ssl.key.password`). Never printed.
    public struct KeyPassword: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
        let value: String
        /// Wraps a password.
        public init(_ value: String) { self.value = value }
        /// Always `<redacted>`.
        public var description: String { "<redacted>" }
        /// Always `<redacted>`.
        public var debugDescription: String { "<redacted>" }
        /// No children, so `dump` and `Mirror` show nothing of the value either.
        public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
    }

    /// Server or client.
    public var role: Role
    /// A PEM file holding the certificate followed by its chain; may be the same file as the key
    /// (Kafka's `ssl.keystore.location` with `ssl.keystore.type=PEM`). Required for servers.
    public var certificateChainPath: String?
    /// A PEM file holding the private key. Required when `certificateChainPath` is set.
    public var privateKeyPath: String?
    /// The password of an encrypted private key.
    public var privateKeyPassword: KeyPassword?
    /// A PEM file of CA certificates that peer certificates must chain to (`ssl.truststore.location`).
    /// Clients without one use the system's default trust store.
    public var trustRootsPath: String?
    /// A PEM file of certificate revocation lists (`rampart.ssl.crl.location`): peer certificates they
    /// revoke are refused. Each CRL must be signed by a CA in the trust store and not be past its
    /// nextUpdate.
    public var crlPath: String?
    /// Whether a server asks for client certificates.
    public var clientAuthentication: ClientAuthentication
    /// The protocol versions offered; the range min…max is used. Defaults to TLS 1.2 and 1.3.
    public var enabledProtocols: Set<ProtocolVersion>
    /// Cipher suites (`ssl.cipher.suites`): TLS 1.3 suite names (`TLS_AES_128_GCM_SHA256`) and OpenSSL
    /// names for TLS 1.2 (`ECDHE-ECDSA-AES128-GCM-SHA256`). Empty means OpenSSL's TLS 1.2 defaults and
    /// its three TLS 1.3 suites, AES-128-GCM first (`TLSContext.defaultTLS13Suites`).
    public var cipherSuites: [String]
    /// For clients: the host name or IP address the server certificate must be valid for; also sent
    /// as SNI when it is a name. `nil` disables host name verification (the chain is still verified).
    public var hostnameToVerify: String?
    /// How long a connection may take to complete its handshake.
    public var handshakeTimeout: TimeAmount

    /// Creates a configuration; unset values are Kafka's defaults.
    public init(
        role: Role,
        certificateChainPath: String? = nil,
        privateKeyPath: String? = nil,
        privateKeyPassword: KeyPassword? = nil,
        trustRootsPath: String? = nil,
        crlPath: String? = nil,
        clientAuthentication: ClientAuthentication = .none,
        enabledProtocols: Set<ProtocolVersion> = [.tlsv1_2, .tlsv1_3],
        cipherSuites: [String] = [],
        hostnameToVerify: String? = nil,
        handshakeTimeout: TimeAmount = .seconds(10)
    ) {
        self.role = role
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        self.privateKeyPassword = privateKeyPassword
        self.trustRootsPath = trustRootsPath
        self.crlPath = crlPath
        self.clientAuthentication = clientAuthentication
        self.enabledProtocols = enabledProtocols
        self.cipherSuites = cipherSuites
        self.hostnameToVerify = hostnameToVerify
        self.handshakeTimeout = handshakeTimeout
    }

    /// Parses a comma-separated `ssl.enabled.protocols` value such as `TLSv1.3,TLSv1.2`.
    public static func parseProtocols(_ value: String) throws -> Set<ProtocolVersion> {
        var result: Set<ProtocolVersion> = []
        for item in value.split(separator: ",") {
            let name = item.trimmingCharacters(in: " \t")
            guard let version = ProtocolVersion(rawValue: name) else {
                throw TLSError(
                    kind: .invalidConfiguration,
                    message: "ssl.enabled.protocols: unsupported protocol '\(name)' (supported: TLSv1.2, TLSv1.3)"
                )
            }
            result.insert(version)
        }
        guard !result.isEmpty else {
            throw TLSError(kind: .invalidConfiguration, message: "ssl.enabled.protocols is empty")
        }
        return result
    }

    /// Parses a comma-separated `ssl.cipher.suites` value.
    public static func parseCipherSuites(_ value: String) -> [String] {
        value.split(separator: ",").map { $0.trimmingCharacters(in: " \t") }.filter { !$0.isEmpty }
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let trimmed = self.drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed()
        return String(trimmed)
    }
}
