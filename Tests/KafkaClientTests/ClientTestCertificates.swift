import Foundation
import RampartTestSupport

/// Certificates for the client's TLS tests, created once per test process with the `openssl` command
/// line in a temporary directory (never committed), EC P-256:
///
/// - `ca` and, for "unknown CA" cases, `other-ca`;
/// - broker key stores (private key + certificate, mode 0600) signed by `ca`: `broker` valid for
///   `localhost` and `127.0.0.1`, `broker-localhost` for `localhost` only, `broker-elsewhere` for
///   `kafka.example.com` only;
/// - client certificates: `alice` from `ca` (also as a key store and with an encrypted key, password
///   `s3cret`), `mallory` from `other-ca`.
struct ClientTestCertificates: Sendable {
    let directory: String

    var ca: String { path("ca.pem") }
    var otherCA: String { path("other-ca.pem") }
    /// A key store for a broker certificate with SANs DNS:localhost and IP:127.0.0.1.
    var brokerKeystore: String { path("broker-keystore.pem") }
    /// A key store for a broker certificate with SAN DNS:localhost only.
    var localhostOnlyKeystore: String { path("broker-localhost-keystore.pem") }
    /// A key store for a broker certificate with SAN DNS:kafka.example.com only.
    var elsewhereKeystore: String { path("broker-elsewhere-keystore.pem") }
    var aliceCertificate: String { path("alice.pem") }
    var aliceKey: String { path("alice.key") }
    var aliceEncryptedKey: String { path("alice-enc.key") }
    var aliceKeystore: String { path("alice-keystore.pem") }
    var malloryCertificate: String { path("mallory.pem") }
    var malloryKey: String { path("mallory.key") }

    static let keyPassword = "s3cret"

    func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// Created once per test process.
    static let shared: ClientTestCertificates = {
        do {
            return try generate()
        } catch {
            fatalError("cannot generate test certificates: \(error)")
        }
    }()

    private static func generate() throws -> ClientTestCertificates {
        let certs = try OpenSSLTestDirectory(prefix: "rampart-client-tls", extensionSections: """
            [server_both]
            basicConstraints = CA:FALSE
            subjectAltName = DNS:localhost,IP:127.0.0.1
            extendedKeyUsage = serverAuth
            [server_localhost]
            basicConstraints = CA:FALSE
            subjectAltName = DNS:localhost
            extendedKeyUsage = serverAuth
            [server_elsewhere]
            basicConstraints = CA:FALSE
            subjectAltName = DNS:kafka.example.com
            extendedKeyUsage = serverAuth
            """)
        try certs.makeCA("ca", subject: "/CN=Rampart Client Test CA")
        try certs.makeCA("other-ca", subject: "/CN=Other Test CA")
        try certs.issue("broker", subject: "/CN=localhost", ca: "ca", extensions: "server_both")
        try certs.issue("broker-localhost", subject: "/CN=localhost", ca: "ca", extensions: "server_localhost")
        try certs.issue("broker-elsewhere", subject: "/CN=kafka.example.com", ca: "ca", extensions: "server_elsewhere")
        try certs.issue("alice", subject: "/O=Example/OU=eng/CN=alice", ca: "ca", extensions: "client")
        try certs.issue("mallory", subject: "/CN=mallory", ca: "other-ca", extensions: "client")
        for name in ["broker", "broker-localhost", "broker-elsewhere", "alice"] { try certs.keystore(name) }
        try certs.encryptKey("alice.key", password: keyPassword, output: "alice-enc.key")
        return ClientTestCertificates(directory: certs.path)
    }
}
