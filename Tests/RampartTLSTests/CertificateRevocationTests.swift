import Foundation
import Testing

@testable import RampartTLS

@Suite struct CertificateRevocationTests {
    @Test func revokeAndCRLListTheSerial() throws {
        let authority = try CertificateAuthority.create(in: try temporaryCADirectory())
        let alice = try issueClient(authority, "alice")
        let bob = try issueClient(authority, "bob")
        // Serials as people type them: lower case, colons.
        let typed = stride(from: 0, to: alice.record.serial.count, by: 2).map { offset -> String in
            let start = alice.record.serial.index(alice.record.serial.startIndex, offsetBy: offset)
            return String(alice.record.serial[start..<alice.record.serial.index(start, offsetBy: 2)])
        }.joined(separator: ":").lowercased()
        let revoked = try authority.revoke(serial: typed, reason: .keyCompromise)
        #expect(revoked.serial == alice.record.serial)
        #expect(revoked.status() == .revoked)

        let now = Date()
        let first = try authority.writeRevocationList(validForDays: 7, now: now)
        #expect(first.number == 1)
        #expect(first.revoked.map(\.serial) == [alice.record.serial])
        #expect(first.revoked.first?.reason == .keyCompromise)
        #expect(abs((first.nextUpdate ?? now).timeIntervalSince(now) - 7 * 86_400) < 2)

        let loaded = try RevocationList.load(authority.revocationListPath, verifiedBy: authority.certificatePath)
        #expect(loaded == first)
        #expect(loaded.issuer == authority.certificate.subject)
        #expect(loaded.contains(serial: alice.record.serial))
        #expect(!loaded.contains(serial: bob.record.serial))

        // X509_verify_cert with the CRL: alice is refused, bob still verifies.
        let error = try #require(throws: CertificateError.self) {
            try CertificateVerifier.verify(certificatePath: alice.certificatePath, trustRootsPath: authority.certificatePath,
                                           revocationListPath: authority.revocationListPath, purpose: .client)
        }
        #expect(error.kind == .verificationFailed)
        #expect(error.message.contains("certificate revoked"))
        try CertificateVerifier.verify(certificatePath: bob.certificatePath, trustRootsPath: authority.certificatePath,
                                       revocationListPath: authority.revocationListPath, purpose: .client)

        // The openssl command line reads the same CRL.
        let text = try openssl(["crl", "-in", authority.revocationListPath, "-noout", "-text"]).output
        #expect(text.contains("Serial Number: \(alice.record.serial)"))
        #expect(text.contains("Key Compromise"))
        #expect(text.contains("Version 2"))
        let cli = try openssl(["verify", "-CAfile", authority.certificatePath, "-crl_check", "-CRLfile",
                               authority.revocationListPath, alice.certificatePath])
        #expect(cli.status != 0)
        #expect(cli.output.contains("certificate revoked"))

        // Revoking by file; every CRL gets the next number.
        try authority.revoke(certificateAt: bob.certificatePath)
        let second = try authority.writeRevocationList()
        #expect(second.number == 2)
        #expect(Set(second.revoked.map(\.serial)) == [alice.record.serial, bob.record.serial])
        #expect(second.revoked.first { $0.serial == bob.record.serial }?.reason == .unspecified)
        #expect(try authority.records().allSatisfy { $0.revokedAt != nil })
    }

    @Test func revokeRefusesUnknownRevokedAndForeignCertificates() throws {
        let authority = try CertificateAuthority.create(in: try temporaryCADirectory())
        let alice = try issueClient(authority, "alice")
        let unknown = try #require(throws: CertificateError.self) { try authority.revoke(serial: "0x1234") }
        #expect(unknown.kind == .unknownSerial)
        #expect(unknown.message.contains("1234"))
        #expect(try #require(throws: CertificateError.self) { try authority.revoke(serial: "not-hex") }.kind == .invalidArgument)

        try authority.revoke(serial: alice.record.serial)
        let again = try #require(throws: CertificateError.self) { try authority.revoke(certificateAt: alice.certificatePath) }
        #expect(again.kind == .alreadyRevoked)

        let other = try CertificateAuthority.create(in: try temporaryCADirectory())
        let mallory = try issueClient(other, "mallory")
        let foreign = try #require(throws: CertificateError.self) { try authority.revoke(certificateAt: mallory.certificatePath) }
        #expect(foreign.kind == .invalidFile)
        #expect(foreign.message.contains("was not issued by the CA"))
        #expect(throws: CertificateError.self) { try authority.revoke(certificateAt: authority.certificatePath) }
        // A CRL from another CA is refused when its signer is checked.
        try other.writeRevocationList()
        #expect(throws: CertificateError.self) {
            try RevocationList.load(other.revocationListPath, verifiedBy: authority.certificatePath)
        }
    }

    @Test func revokingACertificateMissingFromTheDatabaseAddsIt() throws {
        let authority = try CertificateAuthority.create(in: try temporaryCADirectory())
        let alice = try issueClient(authority, "alice")
        // The database lost the record (restored from an older backup).
        let url = URL(fileURLWithPath: authority.databasePath)
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        json["certificates"] = [Any]()
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        #expect(try authority.records().isEmpty)
        #expect(throws: CertificateError.self) { try authority.revoke(serial: alice.record.serial) }

        let record = try authority.revoke(certificateAt: alice.certificatePath, reason: .superseded)
        #expect(record.name == "alice")
        #expect(record.serial == alice.record.serial)
        #expect(record.subject == "CN=alice")
        #expect(try authority.records() == [record])
        #expect(try authority.writeRevocationList().contains(serial: alice.record.serial))
    }

    @Test func expiredCertificatesFailAndLeaveTheCRL() throws {
        let authority = try CertificateAuthority.create(in: try temporaryCADirectory())
        let expired = try authority.issue(CertificateRequest(
            subject: SubjectName(commonName: "old"), usages: [.clientAuth], days: 1,
            validFrom: Date().addingTimeInterval(-3 * 86_400)
        ))
        #expect(expired.record.status() == .expired)
        let error = try #require(throws: CertificateError.self) {
            try CertificateVerifier.verify(certificatePath: expired.certificatePath, trustRootsPath: authority.certificatePath)
        }
        #expect(error.message.contains("expired"))
        try authority.revoke(serial: expired.record.serial)
        #expect(try authority.writeRevocationList().revoked.isEmpty)
    }
}

@Suite struct CertificateSafetyTests {
    @Test func refusesToOverwriteKeysUnlessForced() throws {
        let dir = try temporaryCADirectory()
        let authority = try CertificateAuthority.create(in: dir)
        let caKey = try Data(contentsOf: URL(fileURLWithPath: authority.keyPath))
        let again = try #require(throws: CertificateError.self) { try CertificateAuthority.create(in: dir) }
        #expect(again.kind == .fileExists)
        #expect(again.message.contains("--force"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: authority.keyPath)) == caKey)

        let first = try issueBroker(authority)
        let key = try Data(contentsOf: URL(fileURLWithPath: first.keyPath))
        let refused = try #require(throws: CertificateError.self) { try issueBroker(authority) }
        #expect(refused.kind == .fileExists)
        #expect(refused.message.contains("broker.key"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: first.keyPath)) == key)
        #expect(try authority.records().count == 1)

        let replaced = try issueBroker(authority, force: true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: first.keyPath)) != key)
        #expect(try fileMode(replaced.keyPath) == 0o600)
        #expect(replaced.record.serial != first.record.serial)

        // A key file alone (another tool's) also stops the issue.
        _ = FileManager.default.createFile(atPath: "\(dir)/carol.key", contents: Data("mine".utf8))
        #expect(try #require(throws: CertificateError.self) { try issueClient(authority, "carol") }.kind == .fileExists)
        #expect(try String(contentsOfFile: "\(dir)/carol.key", encoding: .utf8) == "mine")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/carol.crt"))

        let forced = try CertificateAuthority.create(in: dir, options: AuthorityOptions(force: true))
        #expect(forced.certificate.serial != authority.certificate.serial)
        #expect(try forced.records().isEmpty)
        // The old CA's instance no longer matches the directory's database.
        #expect(throws: CertificateError.self) { try authority.records() }
    }

    @Test func encryptedKeysNeedTheirPassword() throws {
        let dir = try temporaryCADirectory()
        let password = TLSConfiguration.KeyPassword("ca-secret")
        try CertificateAuthority.create(in: dir, options: AuthorityOptions(keyPassword: password))
        #expect(try String(contentsOfFile: "\(dir)/ca.key", encoding: .utf8).hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----"))
        let missing = try #require(throws: CertificateError.self) { try CertificateAuthority.open(dir) }
        #expect(missing.kind == .invalidFile)
        #expect(missing.message.contains("no password was given"))
        let wrong = try #require(throws: CertificateError.self) {
            try CertificateAuthority.open(dir, keyPassword: TLSConfiguration.KeyPassword("guess-me"))
        }
        #expect(wrong.message.contains("password is wrong"))
        #expect(!wrong.description.contains("guess-me"))

        let authority = try CertificateAuthority.open(dir, keyPassword: password)
        let broker = try authority.issue(CertificateRequest(
            subject: SubjectName(commonName: "localhost"), usages: [.serverAuth], keyPassword: TLSConfiguration.KeyPassword("key-secret")))
        #expect(try fileMode(broker.bundlePath) == 0o600)
        _ = try TLSContext(configuration: TLSConfiguration(
            role: .server, certificateChainPath: broker.bundlePath, privateKeyPath: broker.bundlePath,
            privateKeyPassword: TLSConfiguration.KeyPassword("key-secret")))
        #expect(throws: TLSError.self) {
            try TLSContext(configuration: TLSConfiguration(role: .server, certificateChainPath: broker.bundlePath, privateKeyPath: broker.bundlePath))
        }
    }

    @Test func badRequestsNameWhatIsWrong() throws {
        let dir = try temporaryCADirectory()
        let missing = try #require(throws: CertificateError.self) { try CertificateAuthority.open(dir) }
        #expect(missing.kind == .noAuthority)
        #expect(missing.message.contains("no CA in \(dir)"))
        #expect(try #require(throws: CertificateError.self) { try CertificateAuthority.records(in: dir) }.kind == .noAuthority)
        #expect(throws: CertificateError.self) { try CertificateAuthority.create(in: dir, options: AuthorityOptions(days: 0)) }
        #expect(!FileManager.default.fileExists(atPath: dir))

        let authority = try CertificateAuthority.create(in: dir)
        func failure(_ request: CertificateRequest) throws -> String {
            let error = try #require(throws: CertificateError.self) { try authority.issue(request) }
            #expect(error.kind == .invalidArgument)
            return error.message
        }
        let alice = SubjectName(commonName: "alice")
        #expect(try failure(CertificateRequest(subject: alice, usages: [.clientAuth], days: 0)).contains("--days 0"))
        #expect(try failure(CertificateRequest(subject: alice, usages: [.clientAuth], days: -5)).contains("--days -5"))
        #expect(try failure(CertificateRequest(subject: alice, usages: [.clientAuth], days: 3651)).contains("outlive the CA"))
        #expect(try failure(CertificateRequest(subject: alice, usages: [])).contains("--server, --client"))
        #expect(try failure(CertificateRequest(subject: SubjectName(commonName: "My Broker"), name: "mine", usages: [.serverAuth]))
            .contains("give --san"))
        #expect(try failure(CertificateRequest(subject: SubjectName(commonName: "a b"), usages: [.clientAuth])).contains("--name"))
        #expect(try failure(CertificateRequest(subject: alice, name: "../x", usages: [.clientAuth])).contains("--name '../x'"))
        #expect(try failure(CertificateRequest(subject: SubjectName(commonName: "ca"), usages: [.clientAuth])).contains("CA's own files"))
        #expect(try failure(CertificateRequest(subject: SubjectName(commonName: ""), name: "x", usages: [.clientAuth])).contains("--cn is empty"))
        #expect(try failure(CertificateRequest(subject: SubjectName(commonName: String(repeating: "x", count: 65)), name: "x", usages: [.clientAuth]))
            .contains("longer than 64"))
        #expect(try failure(CertificateRequest(subject: SubjectName(commonName: "x", organizationalUnits: ["a\nb"]), usages: [.clientAuth]))
            .contains("--ou contains a control character"))
        #expect(try authority.records().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["ca.crt", "ca.key", "index.json"])
    }

    @Test(arguments: [
        ("localhost", SubjectAlternativeName.dns("localhost")),
        ("DNS:Broker-1.Example.COM", .dns("broker-1.example.com")),
        ("*.kafka.example.com", .dns("*.kafka.example.com")),
        ("127.0.0.1", .ipAddress("127.0.0.1")),
        ("IP:10.0.0.7", .ipAddress("10.0.0.7")),
        ("::1", .ipAddress("::1")),
        ("[2001:DB8::0:1]", .ipAddress("2001:db8::1")),
    ])
    func subjectAlternativeNamesParse(text: String, expected: SubjectAlternativeName) throws {
        #expect(try SubjectAlternativeName(parsing: text) == expected)
    }

    @Test(arguments: ["", "bad,name", "a..b", "-a.com", "a-.com", "under_score.com", "*.com", "a.*.com", "1.2.3",
                      "IP:300.1.1.1", "IP:localhost", "DNS:", "x.com:9092", "host name", String(repeating: "a", count: 64) + ".com"])
    func badSubjectAlternativeNamesAreRefused(text: String) throws {
        let error = try #require(throws: CertificateError.self) { try SubjectAlternativeName(parsing: text) }
        #expect(error.kind == .invalidArgument)
        #expect(error.message.hasPrefix("bad SAN '\(text)'"))
    }

    @Test func keyTypesAndSerialsParse() throws {
        #expect(try KeyType(name: "ec") == .ecP256)
        #expect(try KeyType(name: "rsa") == .rsa(bits: 3072))
        #expect(try KeyType(name: "RSA", rsaBits: 2048) == .rsa(bits: 2048))
        #expect(throws: CertificateError.self) { try KeyType(name: "rsa", rsaBits: 1024) }
        #expect(throws: CertificateError.self) { try KeyType(name: "dsa") }
        #expect(throws: CertificateError.self) { try KeyType(name: "ec", rsaBits: 2048) }
        #expect(normalizedSerial("0x1f2a") == "1F2A")
        #expect(normalizedSerial("01:f2:a0") == "01F2A0")
        #expect(normalizedSerial("0001F2A") == "1F2A")
        #expect(normalizedSerial("abc") == "0ABC")
        #expect(normalizedSerial("xyz") == nil)
        #expect(normalizedSerial("") == nil)
    }
}
