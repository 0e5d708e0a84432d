import Foundation
import NIOCore
import Testing

@testable import RampartTLS

/// A fresh CA directory under the temporary directory.
func temporaryCADirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-ca-\(UUID().uuidString)").path
    return path + "/certs"  // a missing parent too: create makes both
}

/// Runs the `openssl` command line (an independent check of what the Swift code wrote).
func openssl(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["openssl"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}

func fileMode(_ path: String) throws -> Int {
    try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
}

func issueBroker(_ authority: CertificateAuthority, force: Bool = false) throws -> IssuedCertificate {
    try authority.issue(CertificateRequest(
        subject: SubjectName(commonName: "broker"),
        subjectAlternativeNames: [try SubjectAlternativeName(parsing: "localhost"), try SubjectAlternativeName(parsing: "127.0.0.1")],
        usages: [.serverAuth, .clientAuth], force: force
    ))
}

func issueClient(_ authority: CertificateAuthority, _ name: String, ou: [String] = [], o: String? = nil) throws -> IssuedCertificate {
    try authority.issue(CertificateRequest(
        subject: SubjectName(commonName: name, organizationalUnits: ou, organization: o), usages: [.clientAuth]
    ))
}

@Suite struct CertificateAuthorityTests {
    @Test func createsASelfSignedCA() throws {
        let dir = try temporaryCADirectory()
        let now = Date()
        let authority = try CertificateAuthority.create(
            in: dir, options: AuthorityOptions(subject: SubjectName(commonName: "Test CA", organization: "Example")), now: now)
        let info = authority.certificate
        #expect(info.subject == "CN=Test CA,O=Example")
        #expect(info.issuer == info.subject)
        #expect(info.isCertificateAuthority)
        #expect(info.keyType == .ecP256)
        #expect(info.serial.count >= 30)  // 128 random bits
        #expect(abs(info.notAfter.timeIntervalSince(now) - 3650 * 86_400) < 2)
        #expect(try fileMode(authority.keyPath) == 0o600)
        #expect(try fileMode(authority.certificatePath) == 0o644)
        #expect(try fileMode(dir) == 0o700)
        #expect(try authority.records().isEmpty)

        let text = try openssl(["x509", "-in", authority.certificatePath, "-noout", "-text"]).output
        #expect(text.contains("CA:TRUE"))
        #expect(text.contains("Certificate Sign, CRL Sign"))
        #expect(text.contains("X509v3 Subject Key Identifier"))
        #expect(text.contains("ecdsa-with-SHA256"))
        #expect(try openssl(["pkey", "-in", authority.keyPath, "-noout"]).status == 0)
        #expect(try String(contentsOfFile: authority.keyPath, encoding: .utf8).hasPrefix("-----BEGIN PRIVATE KEY-----"))
    }

    @Test func issuedServerCertificateVerifiesWithItsSANs() throws {
        let authority = try CertificateAuthority.create(in: try temporaryCADirectory())
        let issued = try issueBroker(authority)
        let info = try #require(try CertificateInfo.load(issued.certificatePath).first)
        #expect(info.subjectAlternativeNames == [.dns("localhost"), .ipAddress("127.0.0.1")])
        #expect(info.extendedKeyUsages == [.serverAuth, .clientAuth])
        #expect(!info.isCertificateAuthority)
        #expect(info.issuer == authority.certificate.subject)
        #expect(info.serial == issued.record.serial)
        #expect(abs(info.notAfter.timeIntervalSinceNow - 365 * 86_400) < 5)
        // The .crt holds the leaf then the CA; the .pem the same after the key.
        #expect(try CertificateInfo.load(issued.certificatePath).map(\.serial) == [info.serial, authority.certificate.serial])
        #expect(try CertificateInfo.load(issued.bundlePath).map(\.serial) == [info.serial, authority.certificate.serial])

        for host in ["localhost", "127.0.0.1"] {
            try CertificateVerifier.verify(certificatePath: issued.certificatePath, trustRootsPath: authority.certificatePath,
                                           hostname: host, purpose: .server)
        }
        let wrongHost = try #require(throws: CertificateError.self) {
            try CertificateVerifier.verify(certificatePath: issued.certificatePath, trustRootsPath: authority.certificatePath,
                                           hostname: "example.com")
        }
        #expect(wrongHost.kind == .verificationFailed)
        #expect(wrongHost.message.contains("mismatch"))

        // The openssl command line agrees.
        let cli = try openssl(["verify", "-CAfile", authority.certificatePath, "-purpose", "sslserver",
                               "-verify_hostname", "localhost", "-verify_ip", "127.0.0.1", issued.certificatePath])
        #expect(cli.status == 0, "\(cli.output)")
        let text = try openssl(["x509", "-in", issued.certificatePath, "-noout", "-text"]).output
        #expect(text.contains("DNS:localhost, IP Address:127.0.0.1"))
        #expect(text.contains("CA:FALSE"))
        #expect(text.contains("X509v3 Authority Key Identifier"))
    }

    @Test func serverCertificateWithoutSANGetsItsCN() throws {
        let authority = try CertificateAuthority.create(in: try temporaryCADirectory())
        let issued = try authority.issue(CertificateRequest(subject: SubjectName(commonName: "broker1.example.com"), usages: [.serverAuth]))
        #expect(issued.record.subjectAlternativeNames == [.dns("broker1.example.com")])
        #expect(issued.keyPath.hasSuffix("/broker1.example.com.key"))
        let client = try issueClient(authority, "carol")
        #expect(client.record.subjectAlternativeNames.isEmpty)
        #expect(throws: CertificateError.self) {
            try CertificateVerifier.verify(certificatePath: client.certificatePath, trustRootsPath: authority.certificatePath, purpose: .server)
        }
        try CertificateVerifier.verify(certificatePath: client.certificatePath, trustRootsPath: authority.certificatePath, purpose: .client)
    }

    @Test func keyFilesAreOwnerOnly() throws {
        let authority = try CertificateAuthority.create(in: try temporaryCADirectory())
        let issued = try issueClient(authority, "alice")
        #expect(try fileMode(issued.keyPath) == 0o600)
        #expect(try fileMode(issued.bundlePath) == 0o600)
        #expect(try fileMode(issued.certificatePath) == 0o644)
        // No temporary files are left behind.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: authority.directory).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty)
    }

    @Test(arguments: ["localhost", "127.0.0.1"])
    func issuedBundleServesATLSHandshake(hostname: String) throws {
        let authority = try CertificateAuthority.create(in: try temporaryCADirectory())
        let broker = try issueBroker(authority)
        let alice = try issueClient(authority, "alice", ou: ["eng"], o: "Example")
        let server = try TLSContext(configuration: TLSConfiguration(
            role: .server, certificateChainPath: broker.bundlePath, privateKeyPath: broker.bundlePath,
            trustRootsPath: authority.certificatePath, clientAuthentication: .required
        ))
        let client = try TLSContext(configuration: TLSConfiguration(
            role: .client, certificateChainPath: alice.bundlePath, privateKeyPath: alice.bundlePath,
            trustRootsPath: authority.certificatePath, hostnameToVerify: hostname
        ))
        let pair = try ChannelPair(client: client, server: server)
        let (clientResult, serverResult) = try pair.handshake()
        #expect(clientResult?.peerSubject == "CN=broker")
        #expect(serverResult?.peerSubject == "CN=alice,OU=eng,O=Example")
        #expect(pair.clientRecorder.errors.isEmpty && pair.serverRecorder.errors.isEmpty)
    }

    @Test func rsaKeysWork() throws {
        let authority = try CertificateAuthority.create(
            in: try temporaryCADirectory(), options: AuthorityOptions(keyType: .rsa(bits: 2048)))
        #expect(authority.certificate.keyType == .rsa(bits: 2048))
        let broker = try authority.issue(CertificateRequest(
            subject: SubjectName(commonName: "localhost"), usages: [.serverAuth], keyType: .rsa(bits: 2048)))
        #expect(try CertificateInfo.load(broker.certificatePath).first?.keyType == .rsa(bits: 2048))
        let text = try openssl(["x509", "-in", broker.certificatePath, "-noout", "-text"]).output
        #expect(text.contains("Digital Signature, Key Encipherment"))
        #expect(text.contains("sha256WithRSAEncryption"))
        let server = try TLSContext(configuration: TLSConfiguration(
            role: .server, certificateChainPath: broker.bundlePath, privateKeyPath: broker.bundlePath))
        let client = try TLSContext(configuration: TLSConfiguration(
            role: .client, trustRootsPath: authority.certificatePath, enabledProtocols: [.tlsv1_2], hostnameToVerify: "localhost"))
        #expect(try ChannelPair(client: client, server: server).handshake().client != nil)
    }

    @Test func databaseRecordsIssuedCertificatesAcrossOpens() throws {
        let dir = try temporaryCADirectory()
        let authority = try CertificateAuthority.create(in: dir)
        let broker = try issueBroker(authority)
        let alice = try issueClient(authority, "alice")
        let reopened = try CertificateAuthority.open(dir)
        #expect(try reopened.records() == [broker.record, alice.record])
        #expect(try CertificateAuthority.records(in: dir).map(\.name) == ["broker", "alice"])
        #expect(broker.record.status() == .valid)
        #expect(broker.record.usages == [.serverAuth, .clientAuth])
    }

    @Test func concurrentIssuesAllReachTheDatabase() async throws {
        let dir = try temporaryCADirectory()
        try CertificateAuthority.create(in: dir)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<6 {
                group.addTask {
                    _ = try issueClient(try CertificateAuthority.open(dir), "user\(index)")
                }
            }
            try await group.waitForAll()
        }
        #expect(Set(try CertificateAuthority.records(in: dir).map(\.name)) == Set((0..<6).map { "user\($0)" }))
    }
}
