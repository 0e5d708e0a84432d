/// SASL PLAIN (RFC 4616) checked against the user's stored SCRAM credential: the password is run
/// through the credential's own salt and iteration count and the resulting StoredKey compared in
/// constant time, so PLAIN needs no password on disk either. An unknown user costs the same work as
/// a wrong password and gets the same answer.
///
/// Messages sent to the client are Kafka's (`PlainSaslServer`).
final class PLAINServer: SASLServerMechanism {
    let mechanism: SASLMechanism = .plain
    private let credentials: SCRAMCredentials
    private var finished = false

    static let invalidCredentials = "Authentication failed: Invalid username or password"

    init(credentials: SCRAMCredentials) {
        self.credentials = credentials
    }

    func start(clientFirst: [UInt8]) -> SASLServerStep {
        guard !finished else { return fail(.unexpectedMessage, "a second PLAIN message", client: Self.invalidCredentials) }
        finished = true
        // message = [authzid] UTF8NUL authcid UTF8NUL passwd
        let fields = clientFirst.split(separator: 0, omittingEmptySubsequences: false)
        guard fields.count == 3 else {
            return fail(.malformedMessage, "expected 3 NUL-separated fields, got \(fields.count)",
                        client: "Invalid SASL/PLAIN response: expected 3 tokens, got \(fields.count)")
        }
        guard let authzid = String(validating: fields[0], as: UTF8.self),
              let username = String(validating: fields[1], as: UTF8.self) else {
            return fail(.malformedMessage, "identities are not UTF-8", client: "Invalid SASL/PLAIN response: identities must be UTF-8")
        }
        let password = SASLPassword(bytes: Array(fields[2]))
        guard !username.isEmpty else { return fail(.malformedMessage, "no username", client: "Authentication failed: username not specified") }
        guard !password.isEmpty else { return fail(.malformedMessage, "no password", client: "Authentication failed: password not specified") }
        guard authzid.isEmpty || authzid == username else {
            return fail(.authorizationIDMismatch, "authorization id '\(authzid)' for user '\(username)'",
                        client: "Authentication failed: Client requested an authorization id that is different from username")
        }
        // Either stored variant verifies the password; an unknown user is checked against a decoy.
        let stored = credentials(username, .sha512) ?? credentials(username, .sha256)
        let credential = stored ?? credentials.decoy(username, .sha512)
        guard credential.matches(password: password), stored != nil else {
            return fail(.invalidCredentials, stored == nil ? "unknown user '\(username)'" : "wrong password for user '\(username)'",
                        client: Self.invalidCredentials)
        }
        return .success(SASLIdentity(username: username), finalData: [])
    }

    func step(response: [UInt8]) -> SASLServerStep {
        fail(.unexpectedMessage, "PLAIN takes a single message", client: Self.invalidCredentials)
    }

    private func fail(_ reason: SASLAuthenticationFailure.Reason, _ detail: String, client: String) -> SASLServerStep {
        finished = true
        return .failure(SASLAuthenticationFailure(reason: reason, clientMessage: client, detail: "PLAIN: \(detail)"))
    }
}

/// Which implementation serves SCRAM.
public enum SCRAMServerProvider: String, Sendable, Hashable, CaseIterable {
    /// Rampart's own (`SCRAMServer`), with Kafka's rules: every Kafka client.
    case builtin
    /// Cyrus libsasl2 with Rampart's credential plugin. Strictly RFC 5802, so it refuses older
    /// librdkafka — Debian 12's 2.0.2, which kcat and distro-linked applications use — whose
    /// client-final message repeats the client nonce (Kafka accepts that). Java clients, kafka-python
    /// and confluent-kafka's bundled librdkafka 2.16 work.
    case cyrus
}

/// Makes server mechanisms for connections.
public enum SASLServerMechanisms {
    /// Prepares the SASL library for `mechanisms` with `provider`; call at start-up so a missing
    /// library or plugin (Cyrus) stops the broker with a message rather than failing each client.
    public static func prepare(_ mechanisms: some Sequence<SASLMechanism>, scramProvider: SCRAMServerProvider = .builtin) throws(SASLError) {
        var cyrus: [String] = []
        for mechanism in mechanisms {
            if mechanism == .gssapi || (scramProvider == .cyrus && mechanism.scram != nil) { cyrus.append(mechanism.name) }
        }
        if !cyrus.isEmpty { try CyrusSASL.initialize(requiring: cyrus) }
    }

    /// A server exchange of `mechanism`: PLAIN and SCRAM check `credentials`, OAUTHBEARER validates
    /// tokens with `oauthBearer` (required for it: tokens are never accepted unsigned), GSSAPI needs
    /// `gssapi` (the broker's Kerberos identity and principal rules).
    public static func make(_ mechanism: SASLMechanism, credentials: SCRAMCredentials,
                            scramProvider: SCRAMServerProvider = .builtin,
                            oauthBearer: OAuthBearerValidator? = nil,
                            gssapi: GSSAPIServerSettings? = nil) throws(SASLError) -> any SASLServerMechanism {
        switch (mechanism, scramProvider) {
        case (.gssapi, _):
            guard let gssapi else { throw SASLError("GSSAPI needs the broker's Kerberos settings") }
            return try CyrusGSSAPIServer(settings: gssapi)
        case (.plain, _):
            return PLAINServer(credentials: credentials)
        case (.oauthBearer, _):
            guard let oauthBearer else { throw SASLError("OAUTHBEARER needs a token validator (a JWKS)") }
            return OAuthBearerServer(validator: oauthBearer)
        case (.scramSHA256, .builtin), (.scramSHA512, .builtin):
            return SCRAMServer(mechanism: mechanism.scram!, credentials: credentials)
        case (.scramSHA256, .cyrus), (.scramSHA512, .cyrus):
            return try CyrusSCRAMServer(mechanism: mechanism.scram!, credentials: credentials)
        }
    }

    /// Kafka's answer to failed SCRAM authentication (`SaslServerAuthenticator`), the same for an
    /// unknown user, a wrong password and a malformed message ("during re-authentication" when a
    /// session re-authenticates, KIP-368). PLAIN has its own (`Authentication failed: Invalid username
    /// or password`).
    public static func invalidCredentialsMessage(_ mechanism: SASLMechanism, reauthenticating: Bool = false) -> String {
        "Authentication failed during \(reauthenticating ? "re-authentication" : "authentication") due to invalid credentials with SASL mechanism \(mechanism.name)"
    }
}
