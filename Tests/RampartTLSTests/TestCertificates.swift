import Foundation

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
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("rampart-tls-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let config = """
            [ca]
            default_ca = testca
            [testca]
            database = index.txt
            certificate = ca.pem
            private_key = ca.key
            default_md = sha256
            default_crl_days = 2
            crlnumber = crlnumber
            [req]
            distinguished_name = dn
            [dn]
            [v3_ca]
            basicConstraints = critical,CA:TRUE
            keyUsage = critical,keyCertSign,cRLSign
            subjectKeyIdentifier = hash
            [server]
            basicConstraints = CA:FALSE
            subjectAltName = DNS:localhost,IP:127.0.0.1
            extendedKeyUsage = serverAuth
            [client]
            basicConstraints = CA:FALSE
            extendedKeyUsage = clientAuth
            """
        try config.write(toFile: "\(dir)/openssl.cnf", atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        func makeCA(_ name: String, _ subject: String) throws {
            try run(["req", "-x509"] + ec + ["-keyout", "\(name).key", "-out", "\(name).pem", "-days", "2",
                "-subj", subject, "-config", "openssl.cnf", "-extensions", "v3_ca"], in: dir)
        }
        func issue(_ name: String, _ subject: String, ca: String, extensions: String, days: String = "2") throws {
            try run(["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject,
                "-config", "openssl.cnf"], in: dir)
            try run(["x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key",
                "-CAcreateserial", "-out", "\(name).pem", "-days", days, "-extfile", "openssl.cnf",
                "-extensions", extensions], in: dir)
        }
        try makeCA("ca", "/CN=Rampart Test CA")
        try makeCA("other-ca", "/CN=Other Test CA")
        try issue("server", "/CN=localhost", ca: "ca", extensions: "server")
        try issue("alice", "/O=Example/OU=eng/CN=alice", ca: "ca", extensions: "client")
        try issue("mallory", "/CN=mallory", ca: "other-ca", extensions: "client")
        try issue("old", "/CN=old", ca: "ca", extensions: "client", days: "-1")
        try issue("revoked", "/CN=revoked", ca: "ca", extensions: "client")
        _ = FileManager.default.createFile(atPath: "\(dir)/index.txt", contents: Data())
        try "01\n".write(toFile: "\(dir)/crlnumber", atomically: true, encoding: .utf8)
        try run(["ca", "-config", "openssl.cnf", "-gencrl", "-out", "crl-empty.pem"], in: dir)
        try run(["ca", "-config", "openssl.cnf", "-gencrl", "-crlhours", "1", "-out", "crl-1h.pem"], in: dir)
        try run(["ca", "-config", "openssl.cnf", "-revoke", "revoked.pem"], in: dir)
        try run(["ca", "-config", "openssl.cnf", "-gencrl", "-out", "crl.pem"], in: dir)
        try run(["pkey", "-in", "server.key", "-aes256", "-passout", "pass:s3cret", "-out", "server-enc.key"], in: dir)
        return TestCertificates(directory: dir)
    }

    private static func run(_ arguments: [String], in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CertificateGenerationError(
                command: "openssl " + arguments.joined(separator: " "),
                output: String(decoding: stderr, as: UTF8.self)
            )
        }
    }
}

struct CertificateGenerationError: Error {
    let command: String
    let output: String
}
