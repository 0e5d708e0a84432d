import Foundation
import RampartTestSupport

/// Certificates created at test time with the `openssl` command line in a temporary directory
/// (never committed): a CA, a server certificate for localhost/127.0.0.1, a client certificate for
/// `CN=alice,OU=eng,O=Example`, and a second CA with its own client certificate.
struct TestCertificates: Sendable {
    let directory: String
    var caCertificate: String { "\(directory)/ca.pem" }
    var serverCertificate: String { "\(directory)/server.pem" }
    var serverKey: String { "\(directory)/server.key" }
    var serverKeyEncrypted: String { "\(directory)/server-enc.key" }
    var clientCertificate: String { "\(directory)/alice.pem" }
    var clientKey: String { "\(directory)/alice.key" }
    var otherCACertificate: String { "\(directory)/other-ca.pem" }
    var otherClientCertificate: String { "\(directory)/mallory.pem" }
    var otherClientKey: String { "\(directory)/mallory.key" }
    /// Signed by the CA but expired yesterday.
    var expiredClientCertificate: String { "\(directory)/old.pem" }
    var expiredClientKey: String { "\(directory)/old.key" }
    /// Signed by the CA and revoked in `crl`.
    var revokedClientCertificate: String { "\(directory)/revoked.pem" }
    var revokedClientKey: String { "\(directory)/revoked.key" }
    /// The CA's CRL (PEM), revoking `revoked.pem`; next update in 2 days.
    var crl: String { "\(directory)/crl.pem" }
    /// A CRL revoking nothing whose next update is in one hour.
    var shortCRL: String { "\(directory)/crl-1h.pem" }
    /// A CRL of the same CA revoking nothing.
    var emptyCRL: String { "\(directory)/crl-empty.pem" }

    /// Created once per test process.
    static let shared: TestCertificates = {
        do {
            return try TestCertificates.generate()
        } catch {
            fatalError("cannot generate test certificates: \(error)")
        }
    }()

    private static func generate() throws -> TestCertificates {
        let certs = try OpenSSLTestDirectory(prefix: "rampart-tls-tests", extensionSections: """
            [server]
            basicConstraints = CA:FALSE
            subjectAltName = DNS:localhost,IP:127.0.0.1
            extendedKeyUsage = serverAuth
            """)
        let dir = certs.path
        try certs.makeCA("ca", subject: "/CN=Rampart Test CA")
        try certs.makeCA("other-ca", subject: "/CN=Other Test CA")
        try certs.issue("server", subject: "/CN=localhost", ca: "ca", extensions: "server")
        try certs.issue("alice", subject: "/O=Example/OU=eng/CN=alice", ca: "ca", extensions: "client")
        try certs.issue("mallory", subject: "/CN=mallory", ca: "other-ca", extensions: "client")
        try certs.issue("old", subject: "/CN=old", ca: "ca", extensions: "client", days: -1)
        try certs.issue("revoked", subject: "/CN=revoked", ca: "ca", extensions: "client")
        _ = FileManager.default.createFile(atPath: "\(dir)/index.txt", contents: Data())
        try "01\n".write(toFile: "\(dir)/crlnumber", atomically: true, encoding: .utf8)
        try certs.run(["ca", "-config", "openssl.cnf", "-gencrl", "-out", "crl-empty.pem"])
        try certs.run(["ca", "-config", "openssl.cnf", "-gencrl", "-crlhours", "1", "-out", "crl-1h.pem"])
        try certs.run(["ca", "-config", "openssl.cnf", "-revoke", "revoked.pem"])
        try certs.run(["ca", "-config", "openssl.cnf", "-gencrl", "-out", "crl.pem"])
        try certs.encryptKey("server.key", password: "s3cret", output: "server-enc.key")
        return TestCertificates(directory: dir)
    }
}
