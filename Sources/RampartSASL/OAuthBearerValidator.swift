import FoundationEssentials

/// What an OAUTHBEARER token must satisfy besides its signature (Kafka's KIP-768 broker settings).
public struct OAuthBearerValidationSettings: Sendable, Equatable {
    /// `sasl.oauthbearer.expected.audience`: when not empty, the token's `aud` (a string or an array)
    /// must contain one of these.
    public var expectedAudience: [String]
    /// `sasl.oauthbearer.expected.issuer`: when set, the token's `iss` must be exactly this.
    public var expectedIssuer: String?
    /// `sasl.oauthbearer.sub.claim.name`: the claim that names the principal (default `sub`).
    public var subClaimName: String
    /// `sasl.oauthbearer.clock.skew.seconds`: how far `exp` and `nbf` may be off (default 30).
    public var clockSkewSeconds: Int

    public init(expectedAudience: [String] = [], expectedIssuer: String? = nil, subClaimName: String = "sub", clockSkewSeconds: Int = 30) {
        self.expectedAudience = expectedAudience
        self.expectedIssuer = expectedIssuer
        self.subClaimName = subClaimName
        self.clockSkewSeconds = clockSkewSeconds
    }
}

/// A token that passed validation.
public struct ValidatedOAuthBearerToken: Sendable, Equatable {
    /// The principal name, from the configured claim.
    public let principalName: String
    /// `exp`, in milliseconds since the epoch.
    public let expiresAtMs: Int64
    /// How long until `exp`, in milliseconds, when it was validated (at least 1): it bounds the session.
    public let lifetimeMs: Int64
}

/// Why a token was refused, for the broker's log and counters; the client only ever learns
/// `{"status":"invalid_token"}`.
public struct OAuthBearerTokenRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable, CaseIterable {
        case malformed, unsupportedAlgorithm = "unsupported_algorithm", unknownKey = "unknown_key"
        case badSignature = "bad_signature", expired, notYetValid = "not_yet_valid"
        case wrongAudience = "wrong_audience", wrongIssuer = "wrong_issuer", noPrincipal = "no_principal"
    }

    public let reason: Reason
    public let detail: String
    public var description: String { "\(reason.rawValue): \(detail)" }
}

/// Validates signed JWTs (RFC 7519, JWS compact serialisation) as Kafka's `OAuthBearerValidatorCallbackHandler`
/// does: the header's `alg` must be RS256 or ES256 (never `none` or HMAC) and a key of the JWKS must
/// verify the signature (by `kid` when the header names one); `exp` is required and must be in the
/// future, `nbf` if present in the past, both with the clock-skew allowance; `iss` and `aud` are
/// checked when expected values are configured; the principal is the configured claim, a non-empty
/// string.
public struct OAuthBearerValidator: Sendable {
    private let keys: @Sendable () -> JSONWebKeySet
    public let settings: OAuthBearerValidationSettings
    private let now: @Sendable () -> Double

    /// Tokens larger than this are refused before any parsing (Kafka's pre-authentication frame limit
    /// is the real bound; this keeps a token's cost small).
    public static let maxTokenLength = 64 * 1024

    /// - Parameters:
    ///   - keys: the current key set (called for each token, so a reloaded file applies at once).
    ///   - now: seconds since the epoch (tests move it).
    public init(keys: @escaping @Sendable () -> JSONWebKeySet, settings: OAuthBearerValidationSettings,
                now: @escaping @Sendable () -> Double = { Double(Date().timeIntervalSince1970) }) {
        self.keys = keys
        self.settings = settings
        self.now = now
    }

    public func validate(_ token: String) -> Result<ValidatedOAuthBearerToken, OAuthBearerTokenRejection> {
        func reject(_ reason: OAuthBearerTokenRejection.Reason, _ detail: String) -> Result<ValidatedOAuthBearerToken, OAuthBearerTokenRejection> {
            .failure(OAuthBearerTokenRejection(reason: reason, detail: detail))
        }
        guard token.utf8.count <= Self.maxTokenLength else { return reject(.malformed, "token of \(token.utf8.count) bytes") }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return reject(.malformed, "not a JWS compact token (\(parts.count) parts)") }
        guard let headerBytes = Base64URL.decode(parts[0]), let header = Self.json(headerBytes), case .object = header else {
            return reject(.malformed, "header is not base64url JSON")
        }
        guard let algorithmName = header["alg"]?.string else { return reject(.malformed, "no alg in the header") }
        guard let algorithm = JWSAlgorithm(rawValue: algorithmName) else {
            return reject(.unsupportedAlgorithm, "alg \(algorithmName.prefix(16)) (only RS256 and ES256 are accepted)")
        }
        if let critical = header["crit"], critical != .null { return reject(.malformed, "crit header parameters are not supported") }
        let keyID: String?
        switch header["kid"] {
        case nil, .null?: keyID = nil
        case .string(let value)?: keyID = value
        default: return reject(.malformed, "kid is not a string")
        }
        guard let signatureBytes = Base64URL.decode(parts[2]) else { return reject(.malformed, "signature is not base64url") }
        let signature: [UInt8]
        switch algorithm {
        case .rs256:
            signature = signatureBytes
        case .es256:
            guard let der = DER.ecdsaSignature(raw: signatureBytes) else { return reject(.badSignature, "ES256 signature of \(signatureBytes.count) bytes") }
            signature = der
        }
        let candidates = keys().candidates(algorithm: algorithm, keyID: keyID)
        guard !candidates.isEmpty else {
            return reject(.unknownKey, keyID.map { "no \(algorithm.rawValue) key with kid \($0.prefix(64)) in the JWKS" } ?? "no \(algorithm.rawValue) key in the JWKS")
        }
        let signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard candidates.contains(where: { $0.key.verifySHA256(message: signingInput, signature: signature) }) else {
            return reject(.badSignature, "no key of the JWKS verifies the signature")
        }

        // The signature is good: the claims can be believed.
        guard let payloadBytes = Base64URL.decode(parts[1]), let claims = Self.json(payloadBytes), case .object = claims else {
            return reject(.malformed, "payload is not base64url JSON")
        }
        let now = now()
        let skew = Double(settings.clockSkewSeconds)
        guard let expiry = claims["exp"]?.number else { return reject(.malformed, "no numeric exp claim") }
        guard expiry + skew > now else { return reject(.expired, "exp \(Int64(expiry)) is past (now \(Int64(now)), skew \(settings.clockSkewSeconds)s)") }
        if let notBefore = claims["nbf"] {
            guard let value = notBefore.number else { return reject(.malformed, "nbf is not a number") }
            guard value - skew <= now else { return reject(.notYetValid, "nbf \(Int64(value)) is in the future (now \(Int64(now)))") }
        }
        if let issuer = settings.expectedIssuer {
            guard claims["iss"]?.string == issuer else { return reject(.wrongIssuer, "iss is not the expected issuer") }
        }
        if !settings.expectedAudience.isEmpty {
            let audience: [String]
            switch claims["aud"] {
            case .string(let value)?: audience = [value]
            case .array(let values)?: audience = values.compactMap(\.string)
            default: audience = []
            }
            guard audience.contains(where: settings.expectedAudience.contains) else {
                return reject(.wrongAudience, "aud names none of the expected audiences")
            }
        }
        guard let principal = claims[settings.subClaimName]?.string, !principal.isEmpty,
              !principal.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return reject(.noPrincipal, "no usable \(settings.subClaimName) claim")
        }
        let expiresAtMs = expiry >= Double(Int64.max / 2000) ? Int64.max / 2 : Int64(expiry * 1000)
        let lifetimeMs = max(1, expiresAtMs - Int64(now * 1000))
        return .success(ValidatedOAuthBearerToken(principalName: principal, expiresAtMs: expiresAtMs, lifetimeMs: lifetimeMs))
    }

    private static func json(_ bytes: [UInt8]) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }
}
