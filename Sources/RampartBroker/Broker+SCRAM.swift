import RampartMetadata
import RampartSASL

extension StoredSCRAMCredential {
    /// The stored form of a credential.
    public init(_ credential: SCRAMCredential) {
        self.init(salt: credential.base64Salt, iterations: credential.iterations,
                  storedKey: credential.base64StoredKey, serverKey: credential.base64ServerKey)
    }

    /// The credential, or nil when the stored value is damaged (a damaged credential serves no login).
    public func credential(for mechanism: SCRAMMechanism) -> SCRAMCredential? {
        try? SCRAMCredential(mechanism: mechanism, base64Salt: salt, iterations: iterations,
                             base64StoredKey: storedKey, base64ServerKey: serverKey)
    }
}

extension ClusterMetadata {
    /// The SCRAM credential of `user` for `mechanism`, if stored and intact.
    public func scramCredential(user: String, mechanism: SCRAMMechanism) -> SCRAMCredential? {
        scramCredentials[user]?[mechanism.name]?.credential(for: mechanism)
    }
}

extension Broker {
    /// A credential lookup over the metadata as it is now. Each authentication takes one when it
    /// starts, so a changed or deleted credential applies to the next connection.
    public func scramCredentialSnapshot() async -> SCRAMCredentialLookup {
        let credentials = await metadata.current().scramCredentials
        return { user, mechanism in credentials[user]?[mechanism.name]?.credential(for: mechanism) }
    }
}
