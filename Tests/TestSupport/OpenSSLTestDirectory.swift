import Foundation

/// A temporary directory (never committed) where tests make certificates with the `openssl` command
/// line: EC P-256 keys, CAs, certificates they sign, key stores, CRLs. The RampartTLS and KafkaClient
/// test targets each build their own set on it (`TestCertificates`, `ClientTestCertificates`).
public struct OpenSSLTestDirectory: Sendable {
    /// The directory's path.
    public let path: String

    /// Creates `<tmp>/<prefix>-<uuid>` with an `openssl.cnf` holding `extensionSections` (the leaf
    /// certificates' extension sections) after the common ones: `[ca]` for `openssl ca` (database
    /// `index.txt`, `crlnumber`, CRLs valid 2 days), `[v3_ca]` for CAs and `[client]` (clientAuth).
    public init(prefix: String, extensionSections: String) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
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
            [client]
            basicConstraints = CA:FALSE
            extendedKeyUsage = clientAuth

            """
        try (config + extensionSections).write(toFile: "\(path)/openssl.cnf", atomically: true, encoding: .utf8)
    }

    private static let newECKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

    /// A self-signed CA valid 2 days: `<name>.key`, `<name>.pem`.
    public func makeCA(_ name: String, subject: String) throws {
        try run(["req", "-x509"] + Self.newECKey + ["-keyout", "\(name).key", "-out", "\(name).pem", "-days", "2",
            "-subj", subject, "-config", "openssl.cnf", "-extensions", "v3_ca"])
    }

    /// A certificate signed by CA `ca` with the extension section `extensions`, valid `days` (negative:
    /// expired): `<name>.key` (mode 0600), `<name>.pem`.
    public func issue(_ name: String, subject: String, ca: String, extensions: String, days: Int = 2) throws {
        try run(["req"] + Self.newECKey + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject,
            "-config", "openssl.cnf"])
        try run(["x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key",
            "-CAcreateserial", "-out", "\(name).pem", "-days", "\(days)", "-extfile", "openssl.cnf",
            "-extensions", extensions])
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: "\(path)/\(name).key")
    }

    /// `<name>-keystore.pem` (mode 0600): the private key followed by the certificate.
    public func keystore(_ name: String) throws {
        let key = try String(contentsOfFile: "\(path)/\(name).key", encoding: .utf8)
        let certificate = try String(contentsOfFile: "\(path)/\(name).pem", encoding: .utf8)
        let keystore = "\(path)/\(name)-keystore.pem"
        try (key + certificate).write(toFile: keystore, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keystore)
    }

    /// `<output>`: `<key>` encrypted with AES-256 under `password`.
    public func encryptKey(_ key: String, password: String, output: String) throws {
        try run(["pkey", "-in", key, "-aes256", "-passout", "pass:\(password)", "-out", output])
    }

    /// Runs `openssl arguments…` in the directory; throws `OpenSSLCommandError` with its stderr when it fails.
    public func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: path)
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw OpenSSLCommandError(command: "openssl " + arguments.joined(separator: " "),
                                      output: String(decoding: stderr, as: UTF8.self))
        }
    }
}

/// An `openssl` command that failed while making test certificates.
public struct OpenSSLCommandError: Error {
    /// The command line.
    public let command: String
    /// What it wrote on stderr.
    public let output: String
}
