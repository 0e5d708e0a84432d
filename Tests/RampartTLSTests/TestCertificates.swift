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
        func issue(_ name: String, _ subject: String, ca: String, extensions: String) throws {
            try run(["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject,
                "-config", "openssl.cnf"], in: dir)
            try run(["x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key",
                "-CAcreateserial", "-out", "\(name).pem", "-days", "2", "-extfile", "openssl.cnf",
                "-extensions", extensions], in: dir)
        }
        try makeCA("ca", "/CN=Rampart Test CA")
        try makeCA("other-ca", "/CN=Other Test CA")
        try issue("server", "/CN=localhost", ca: "ca", extensions: "server")
        try issue("alice", "/O=Example/OU=eng/CN=alice", ca: "ca", extensions: "client")
        try issue("mallory", "/CN=mallory", ca: "other-ca", extensions: "client")
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
