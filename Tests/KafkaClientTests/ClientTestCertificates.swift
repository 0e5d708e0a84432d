import Foundation

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
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("rampart-client-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let config = """
            [req]
            distinguished_name = dn
            [dn]
            [v3_ca]
            basicConstraints = critical,CA:TRUE
            keyUsage = critical,keyCertSign,cRLSign
            subjectKeyIdentifier = hash
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
        func issue(_ name: String, _ subject: String, ca: String, extensions: String) throws {
            try run(["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject,
                "-config", "openssl.cnf"], in: dir)
            try run(["x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key",
                "-CAcreateserial", "-out", "\(name).pem", "-days", "2", "-extfile", "openssl.cnf",
                "-extensions", extensions], in: dir)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: "\(dir)/\(name).key")
        }
        func keystore(_ name: String) throws {
            let key = try String(contentsOfFile: "\(dir)/\(name).key", encoding: .utf8)
            let certificate = try String(contentsOfFile: "\(dir)/\(name).pem", encoding: .utf8)
            let path = "\(dir)/\(name)-keystore.pem"
            try (key + certificate).write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        }
        try makeCA("ca", "/CN=Rampart Client Test CA")
        try makeCA("other-ca", "/CN=Other Test CA")
        try issue("broker", "/CN=localhost", ca: "ca", extensions: "server_both")
        try issue("broker-localhost", "/CN=localhost", ca: "ca", extensions: "server_localhost")
        try issue("broker-elsewhere", "/CN=kafka.example.com", ca: "ca", extensions: "server_elsewhere")
        try issue("alice", "/O=Example/OU=eng/CN=alice", ca: "ca", extensions: "client")
        try issue("mallory", "/CN=mallory", ca: "other-ca", extensions: "client")
        for name in ["broker", "broker-localhost", "broker-elsewhere", "alice"] { try keystore(name) }
        try run(["pkey", "-in", "alice.key", "-aes256", "-passout", "pass:\(keyPassword)", "-out", "alice-enc.key"], in: dir)
        return ClientTestCertificates(directory: dir)
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
            throw ClientCertificateError(command: "openssl " + arguments.joined(separator: " "),
                                         output: String(decoding: stderr, as: UTF8.self))
        }
    }
}

struct ClientCertificateError: Error {
    let command: String
    let output: String
}
