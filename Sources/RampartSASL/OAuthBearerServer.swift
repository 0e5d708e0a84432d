/// The server side of SASL OAUTHBEARER (RFC 7628) with Kafka's semantics (`OAuthBearerSaslServer`,
/// KIP-255): the client's one message is a GS2 header, then `auth=Bearer <token>` and optional
/// extensions, each ended by Ctrl-A. A valid token authenticates its principal; an invalid one is
/// answered with the JSON error challenge `{"status":"invalid_token"}`, the client acknowledges it
/// with a single Ctrl-A, and the exchange fails with that JSON as the message — what Kafka sends. The
/// token's `exp` bounds the session for re-authentication.
final class OAuthBearerServer: SASLServerMechanism {
    let mechanism: SASLMechanism = .oauthBearer
    private let validator: OAuthBearerValidator

    private enum State {
        case initial
        case sentError(SASLAuthenticationFailure)
        case finished
    }

    private var state = State.initial

    /// Kafka's answer to a refused token.
    static let invalidTokenResponse = #"{"status":"invalid_token"}"#
    static let separator: UInt8 = 0x01

    init(validator: OAuthBearerValidator) {
        self.validator = validator
    }

    func start(clientFirst: [UInt8]) -> SASLServerStep {
        guard case .initial = state else { return fail(.unexpectedMessage, "a second client-first message") }
        guard let message = ClientFirst(clientFirst) else {
            return fail(.malformedMessage, "not an OAUTHBEARER client-first message")
        }
        guard let auth = message.pairs["auth"] else { return fail(.malformedMessage, "no auth key") }
        let fields = auth.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count == 2, fields[0].lowercased() == "bearer",
              fields[1].utf8.allSatisfy({ Self.tokenCharacter($0) }) else {
            return fail(.malformedMessage, "auth is not 'Bearer <token>'")
        }
        switch validator.validate(String(fields[1])) {
        case .failure(let rejection):
            let failure = SASLAuthenticationFailure(reason: .invalidToken, clientMessage: Self.invalidTokenResponse,
                                                    detail: "OAUTHBEARER: token refused: \(rejection)")
            state = .sentError(failure)
            return .challenge(Array(Self.invalidTokenResponse.utf8))
        case .success(let token):
            if let authorizationID = message.authorizationID, authorizationID != token.principalName {
                return fail(.authorizationIDMismatch, "authorization id '\(authorizationID)' for token principal '\(token.principalName)'",
                            client: "Authentication failed: Client requested an authorization id (\(authorizationID)) that is different from the token's principal name (\(token.principalName))")
            }
            state = .finished
            return .success(SASLIdentity(username: token.principalName, credentialLifetimeMs: token.lifetimeMs), finalData: [])
        }
    }

    func step(response: [UInt8]) -> SASLServerStep {
        guard case .sentError(let failure) = state else { return fail(.unexpectedMessage, "a message after the exchange") }
        state = .finished
        guard response == [Self.separator] else {
            return fail(.malformedMessage, "the answer to the error challenge is not a single Ctrl-A")
        }
        return .failure(failure)
    }

    private func fail(_ reason: SASLAuthenticationFailure.Reason, _ detail: String,
                      client: String = SASLServerMechanisms.invalidCredentialsMessage(.oauthBearer)) -> SASLServerStep {
        state = .finished
        return .failure(SASLAuthenticationFailure(reason: reason, clientMessage: client, detail: "OAUTHBEARER: \(detail)"))
    }

    /// RFC 6750 b64token characters.
    private static func tokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="): return true
        default: return false
        }
    }

    /// `gs2-header kvsep *(key "=" value kvsep) kvsep` (RFC 7628 §3.1), the GS2 header `n,` or `y,`
    /// with an optional `a=<authzid>`.
    struct ClientFirst {
        var authorizationID: String?
        var pairs: [String: String]

        init?(_ bytes: [UInt8]) {
            guard let text = String(validating: bytes, as: UTF8.self), text.utf8.count >= 5 else { return nil }
            let sections = text.split(separator: "\u{01}", omittingEmptySubsequences: false)
            // header, pairs…, "", "" (the message ends with two separators)
            guard sections.count >= 3, sections[sections.count - 1].isEmpty, sections[sections.count - 2].isEmpty else { return nil }
            let header = sections[0]
            guard header.hasPrefix("n,") || header.hasPrefix("y,"), header.hasSuffix(",") else { return nil }
            let authzid = header.dropFirst(2).dropLast()
            if authzid.isEmpty {
                authorizationID = nil
            } else {
                guard authzid.hasPrefix("a="), authzid.count > 2, !authzid.contains(",") else { return nil }
                authorizationID = String(authzid.dropFirst(2))
            }
            var pairs: [String: String] = [:]
            for pair in sections.dropFirst().dropLast(2) {
                guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else { return nil }
                let key = String(pair[..<equals])
                guard key.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic && $0.isASCII }), pairs[key] == nil else { return nil }
                pairs[key] = String(pair[pair.index(after: equals)...])
            }
            self.pairs = pairs
        }
    }
}

/// SASL OAUTHBEARER (RFC 7628) on the client: sends the token (and Kafka SASL extensions); when the
/// server answers with an error challenge, acknowledges it with a single Ctrl-A so the server can
/// fail the exchange with its message.
public final class OAuthBearerClient: SASLClientMechanism {
    public let mechanism: SASLMechanism = .oauthBearer
    private let token: String
    private let extensions: [(String, String)]
    private var sentInitial = false
    private var acknowledgedError = false

    /// `token` is a compact JWS; `extensions` are Kafka's SASL extensions (`key=value` pairs).
    public init(token: String, extensions: [(String, String)] = []) {
        self.token = token
        self.extensions = extensions
    }

    public func initialResponse() throws(SASLClientError) -> [UInt8] {
        guard !sentInitial else { throw SASLClientError("OAUTHBEARER: initialResponse() called twice") }
        guard !token.isEmpty, !token.contains(where: { $0.isWhitespace || $0 == "\u{01}" }) else {
            throw SASLClientError("OAUTHBEARER: the token is empty or contains white space")
        }
        sentInitial = true
        var message = "n,,\u{01}auth=Bearer \(token)\u{01}"
        for (key, value) in extensions { message += "\(key)=\(value)\u{01}" }
        return Array((message + "\u{01}").utf8)
    }

    public func evaluate(challenge: [UInt8]) throws(SASLClientError) -> [UInt8]? {
        if challenge.isEmpty { return nil }
        guard !acknowledgedError else { throw SASLClientError("OAUTHBEARER: unexpected server message") }
        acknowledgedError = true
        return [OAuthBearerServer.separator]
    }
}
