import RampartMetadata
import RampartSASL

extension StoredSCRAMCredential {
    /// The stored form of a credential.
    public init(_ credential: SCRAMCredential) {
        self.init(salt: credential.base64Salt, iterations: credential.iterations,
                  storedKey: credential.base64StoredKey, serverKey: credential.base64ServerKey)
    }

    /// The credential; throws saying what is wrong when the stored value is damaged.
    public func credential(for mechanism: SCRAMMechanism) throws(SCRAMCredentialError) -> SCRAMCredential {
        try SCRAMCredential(mechanism: mechanism, base64Salt: salt, iterations: iterations,
                            base64StoredKey: storedKey, base64ServerKey: serverKey)
    }
}

extension ClusterMetadata {
    /// The SCRAM credential of `user` for `mechanism`, if stored and intact.
    public func scramCredential(user: String, mechanism: SCRAMMechanism) -> SCRAMCredential? {
        try? scramCredentials[user]?[mechanism.name]?.credential(for: mechanism)
    }
}

extension Broker {
    /// The credentials over the metadata as it is now. Each authentication takes a snapshot when it
    /// starts, so a changed or deleted credential applies to the next connection. Unknown users get
    /// decoys under the stored decoy key (see `ensureSCRAMDecoyKey`), shaped like the stored credentials. A damaged stored credential
    /// serves no login (the user fails like an unknown one) and is logged as an error, so the operator
    /// learns why the user cannot log in.
    public func scramCredentialSnapshot() async -> SCRAMCredentials {
        let image = await metadata.current()
        let credentials = image.scramCredentials
        let logger = self.logger
        let key = image.scramDecoyKey.flatMap(SCRAMDecoys.init(base64Key:)) ?? scramDecoys
        let decoys = key.shaped(like: credentials.values.lazy.flatMap { byMechanism in
            byMechanism.compactMap { name, stored in
                SCRAMMechanism(name: name).map { ($0, SCRAMDecoys.Shape(iterations: stored.iterations, saltLength: stored.saltLength)) }
            }
        })
        return SCRAMCredentials(decoys: decoys) { user, mechanism in
            guard let stored = credentials[user]?[mechanism.name] else { return nil }
            do {
                return try stored.credential(for: mechanism)
            } catch {
                logger.error("stored SCRAM credential is damaged and serves no login; set it again (rampart user update, or AlterUserScramCredentials)",
                             metadata: ["user": "\(user)", "mechanism": "\(mechanism.name)", "error": "\(error)"])
                return nil
            }
        }
    }
}

extension Broker {
    /// Stores a decoy key in the metadata unless one is there, so unknown users' decoys stay the same
    /// across restarts.
    public func ensureSCRAMDecoyKey() async throws {
        guard await metadata.current().scramDecoyKey == nil else { return }
        _ = try await metadata.update { image in
            if image.scramDecoyKey == nil { image.scramDecoyKey = SCRAMDecoys.newBase64Key() }
        }
    }
}

extension StoredSCRAMCredential {
    /// The length of the salt in bytes, from its base64 form without decoding it.
    var saltLength: Int {
        let padding = salt.utf8.reversed().prefix { $0 == UInt8(ascii: "=") }.count
        return salt.utf8.count / 4 * 3 - padding
    }
}
