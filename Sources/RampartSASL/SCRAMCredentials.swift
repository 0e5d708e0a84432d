/// What one SASL exchange checks a user against: the stored SCRAM credentials (a snapshot taken when
/// the exchange starts) and, for a user without one, a decoy.
///
/// A decoy is a credential no password matches. An unknown user gets one so that neither the answers
/// nor their timing tell whether the user exists (RFC 5802 §9): the SCRAM server-first message carries
/// a plausible salt and iteration count, PLAIN runs the same key derivation, and the exchange fails at
/// the proof like a wrong password. To be plausible the decoy has the shape of the stored credentials
/// of its mechanism — their most common iteration count and salt length — not a fixed one an attacker
/// could tell apart from operators' choices.
public struct SCRAMCredentials: Sendable {
    private let lookup: SCRAMCredentialLookup
    private let decoys: SCRAMDecoys

    /// Credentials found by `lookup`, decoys made by `decoys`.
    public init(decoys: SCRAMDecoys = SCRAMDecoys(), lookup: @escaping SCRAMCredentialLookup) {
        self.lookup = lookup
        self.decoys = decoys
    }

    /// The stored credential of `username` for `mechanism`, or nil.
    public func callAsFunction(_ username: String, _ mechanism: SCRAMMechanism) -> SCRAMCredential? {
        lookup(username, mechanism)
    }

    /// A credential that no password matches, the same for the same user name and `decoys`.
    public func decoy(_ username: String, _ mechanism: SCRAMMechanism) -> SCRAMCredential {
        decoys.decoy(for: username, mechanism: mechanism)
    }
}

/// Makes decoy credentials for users that have none (see `SCRAMCredentials`): derived with a secret key
/// from the user name, so repeated attempts for one name see the same salt, and shaped like the stored
/// credentials. A broker keeps one key for its life; the shapes follow the credentials it stores.
public struct SCRAMDecoys: Sendable {
    /// The iteration count and salt length of a credential.
    public struct Shape: Sendable, Hashable {
        public var iterations: Int
        public var saltLength: Int

        public init(iterations: Int, saltLength: Int) {
            self.iterations = iterations
            self.saltLength = saltLength
        }

        /// What `SCRAMCredential.generate` makes (and `rampart user add` stores) by default.
        public static let generated = Shape(iterations: SCRAMMechanism.defaultIterations, saltLength: 32)
    }

    private let key: [UInt8]
    private var shapes: [SCRAMMechanism: Shape] = [:]

    /// Decoys under `key` (a new random one by default), shaped like generated credentials.
    public init(key: [UInt8] = SCRAMDecoys.newKey()) {
        self.key = key
    }

    /// Decoys under a key kept in base64 (`newBase64Key`); nil when it does not decode to 32 bytes.
    public init?(base64Key: String) {
        guard let key = Base64.decode(base64Key), key.count == 32 else { return nil }
        self.init(key: key)
    }

    /// A new random key for decoys.
    public static func newKey() -> [UInt8] { SCRAMCrypto.randomBytes(32) }

    /// A new random key for decoys, in base64 to be stored.
    public static func newBase64Key() -> String { Base64.encode(newKey()) }

    /// The same key, with each mechanism's decoys shaped like the most common shape among `stored`
    /// (the shapes of the stored credentials; ties go to the larger iteration count, then the longer
    /// salt); a mechanism with no stored credential keeps the generated shape.
    public func shaped(like stored: some Sequence<(mechanism: SCRAMMechanism, shape: Shape)>) -> SCRAMDecoys {
        var counts: [SCRAMMechanism: [Shape: Int]] = [:]
        for (mechanism, shape) in stored {
            counts[mechanism, default: [:]][shape, default: 0] += 1
        }
        var shaped = self
        shaped.shapes = counts.mapValues { byShape in
            byShape.max { a, b in
                (a.value, a.key.iterations, a.key.saltLength) < (b.value, b.key.iterations, b.key.saltLength)
            }!.key
        }
        return shaped
    }

    /// The shape decoys of `mechanism` get.
    public func shape(of mechanism: SCRAMMechanism) -> Shape {
        shapes[mechanism] ?? .generated
    }

    /// A credential that no password matches, the same for the same user name, mechanism and shape
    /// under this key.
    public func decoy(for username: String, mechanism: SCRAMMechanism) -> SCRAMCredential {
        let shape = shape(of: mechanism)
        let label = Array("\(mechanism.name)\u{0}\(username)".utf8)
        var salt: [UInt8] = []
        var block: UInt8 = 0
        while salt.count < shape.saltLength {
            salt += SCRAMCrypto.hmac(key: key, Array("salt".utf8) + [block] + label, mechanism: .sha256)
            block &+= 1
        }
        let storedKey = SCRAMCrypto.hmac(key: key, Array("stored".utf8) + label, mechanism: mechanism)
        let serverKey = SCRAMCrypto.hmac(key: key, Array("server".utf8) + label, mechanism: mechanism)
        // The shape comes from valid stored credentials (or the generated default), so it is valid too.
        return try! SCRAMCredential(mechanism: mechanism, salt: Array(salt.prefix(shape.saltLength)), iterations: shape.iterations,
                                    storedKey: storedKey, serverKey: serverKey)
    }
}
