/// A SCRAM credential as the server stores it (RFC 5802 §3): the salt, the iteration count, StoredKey
/// and ServerKey — never the password, from which it is derived one way. StoredKey lets the server
/// check a client proof; ServerKey lets it prove itself to the client. Neither lets anyone log in.
///
/// Its text form is an RFC 5803 `authPassword` value, the form Cyrus SASL reads:
/// `SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey base64>:<ServerKey base64>`.
///
/// Printing one shows the mechanism and the iteration count only.
public struct SCRAMCredential: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let mechanism: SCRAMMechanism
    public let salt: [UInt8]
    public let iterations: Int
    public let storedKey: [UInt8]
    public let serverKey: [UInt8]

    /// A credential from its parts; throws unless the iteration count is within
    /// `SCRAMMechanism.minIterations...maxIterations`, the salt is not empty and both keys have the
    /// hash's size.
    public init(mechanism: SCRAMMechanism, salt: [UInt8], iterations: Int, storedKey: [UInt8], serverKey: [UInt8]) throws(SCRAMCredentialError) {
        guard (SCRAMMechanism.minIterations...SCRAMMechanism.maxIterations).contains(iterations) else {
            throw SCRAMCredentialError("\(mechanism.name) iterations must be between \(SCRAMMechanism.minIterations) and \(SCRAMMechanism.maxIterations), not \(iterations)")
        }
        guard !salt.isEmpty else { throw SCRAMCredentialError("\(mechanism.name) credential has an empty salt") }
        guard storedKey.count == mechanism.digestSize, serverKey.count == mechanism.digestSize else {
            throw SCRAMCredentialError("\(mechanism.name) keys must be \(mechanism.digestSize) bytes long")
        }
        self.mechanism = mechanism
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// Derives a credential from a password: a fresh random salt (32 bytes) unless one is given.
    public static func generate(password: SASLPassword, mechanism: SCRAMMechanism,
                                iterations: Int = SCRAMMechanism.defaultIterations,
                                salt: [UInt8]? = nil) throws(SCRAMCredentialError) -> SCRAMCredential {
        guard !password.isEmpty else { throw SCRAMCredentialError("the password is empty") }
        guard (SCRAMMechanism.minIterations...SCRAMMechanism.maxIterations).contains(iterations) else {
            throw SCRAMCredentialError("\(mechanism.name) iterations must be between \(SCRAMMechanism.minIterations) and \(SCRAMMechanism.maxIterations), not \(iterations)")
        }
        let salt = salt ?? SCRAMCrypto.randomBytes(32)
        let keys = Self.keys(password: password, salt: salt, iterations: iterations, mechanism: mechanism)
        return try SCRAMCredential(mechanism: mechanism, salt: salt, iterations: iterations,
                                   storedKey: keys.storedKey, serverKey: keys.serverKey)
    }

    /// StoredKey and ServerKey of `password` with this salt and iteration count (RFC 5802 §3).
    static func keys(password: SASLPassword, salt: [UInt8], iterations: Int, mechanism: SCRAMMechanism)
        -> (storedKey: [UInt8], serverKey: [UInt8]) {
        keys(saltedPassword: SCRAMCrypto.saltedPassword(password.bytes, salt: salt, iterations: iterations, mechanism: mechanism),
             mechanism: mechanism)
    }

    private static func keys(saltedPassword salted: [UInt8], mechanism: SCRAMMechanism) -> (storedKey: [UInt8], serverKey: [UInt8]) {
        let clientKey = SCRAMCrypto.hmac(key: salted, SCRAMCrypto.clientKeyLabel, mechanism: mechanism)
        return (SCRAMCrypto.hash(clientKey, mechanism: mechanism),
                SCRAMCrypto.hmac(key: salted, SCRAMCrypto.serverKeyLabel, mechanism: mechanism))
    }

    /// A credential from SaltedPassword = Hi(password, salt, iterations) as a client computed it
    /// (Kafka's AlterUserScramCredentials carries it instead of the password).
    public static func fromSaltedPassword(_ saltedPassword: [UInt8], salt: [UInt8], iterations: Int,
                                          mechanism: SCRAMMechanism) throws(SCRAMCredentialError) -> SCRAMCredential {
        guard saltedPassword.count == mechanism.digestSize else {
            throw SCRAMCredentialError("a \(mechanism.name) salted password is \(mechanism.digestSize) bytes long")
        }
        let keys = keys(saltedPassword: saltedPassword, mechanism: mechanism)
        return try SCRAMCredential(mechanism: mechanism, salt: salt, iterations: iterations, storedKey: keys.storedKey, serverKey: keys.serverKey)
    }

    /// SaltedPassword of `password` (for clients of AlterUserScramCredentials).
    public static func saltedPassword(_ password: SASLPassword, salt: [UInt8], iterations: Int, mechanism: SCRAMMechanism) -> [UInt8] {
        SCRAMCrypto.saltedPassword(password.bytes, salt: salt, iterations: iterations, mechanism: mechanism)
    }

    /// Whether `password` is the one this credential was made from: derives StoredKey with the stored
    /// salt and iteration count and compares it in constant time (how PLAIN is checked).
    public func matches(password: SASLPassword) -> Bool {
        let derived = Self.keys(password: password, salt: salt, iterations: iterations, mechanism: mechanism)
        return SCRAMCrypto.constantTimeEquals(derived.storedKey, storedKey)
    }

    // MARK: - Stored form

    /// A credential from its stored form (binary fields in base64).
    public init(mechanism: SCRAMMechanism, base64Salt: String, iterations: Int, base64StoredKey: String,
                base64ServerKey: String) throws(SCRAMCredentialError) {
        guard let salt = Base64.decode(base64Salt), let storedKey = Base64.decode(base64StoredKey),
              let serverKey = Base64.decode(base64ServerKey) else {
            throw SCRAMCredentialError("malformed base64 in a stored \(mechanism.name) credential")
        }
        try self.init(mechanism: mechanism, salt: salt, iterations: iterations, storedKey: storedKey, serverKey: serverKey)
    }

    /// The salt in base64 (the stored form).
    public var base64Salt: String { Base64.encode(salt) }
    /// StoredKey in base64 (the stored form).
    public var base64StoredKey: String { Base64.encode(storedKey) }
    /// ServerKey in base64 (the stored form).
    public var base64ServerKey: String { Base64.encode(serverKey) }

    // MARK: - RFC 5803

    /// The RFC 5803 `authPassword` value.
    public var authPassword: String {
        "\(mechanism.name)$\(iterations):\(Base64.encode(salt))$\(Base64.encode(storedKey)):\(Base64.encode(serverKey))"
    }

    /// Parses an RFC 5803 `authPassword` value of a SCRAM-SHA-256 or SCRAM-SHA-512 credential.
    public init(authPassword: String) throws(SCRAMCredentialError) {
        let parts = authPassword.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw SCRAMCredentialError("not an authPassword value (scheme$iterations:salt$StoredKey:ServerKey)") }
        guard let mechanism = SCRAMMechanism(name: String(parts[0])) else {
            throw SCRAMCredentialError("unsupported authPassword scheme '\(parts[0])' (SCRAM-SHA-256 or SCRAM-SHA-512)")
        }
        let authInfo = parts[1].split(separator: ":", omittingEmptySubsequences: false)
        let authValue = parts[2].split(separator: ":", omittingEmptySubsequences: false)
        guard authInfo.count == 2, authValue.count == 2 else {
            throw SCRAMCredentialError("malformed \(mechanism.name) authPassword value")
        }
        guard authInfo[0].allSatisfy({ $0.isASCII && $0.isNumber }), let iterations = Int(authInfo[0]) else {
            throw SCRAMCredentialError("malformed \(mechanism.name) iteration count")
        }
        guard let salt = Base64.decode(authInfo[1]), let storedKey = Base64.decode(authValue[0]),
              let serverKey = Base64.decode(authValue[1]) else {
            throw SCRAMCredentialError("malformed base64 in \(mechanism.name) authPassword value")
        }
        try self.init(mechanism: mechanism, salt: salt, iterations: iterations, storedKey: storedKey, serverKey: serverKey)
    }

    // MARK: - Redaction

    public var description: String { "SCRAMCredential(\(mechanism.name), iterations: \(iterations))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(self, children: ["mechanism": mechanism, "iterations": iterations], displayStyle: .struct)
    }
}

/// A SCRAM credential that cannot be made or parsed, and why.
public struct SCRAMCredentialError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
