import Testing
@testable import RampartSASL

@Suite("SCRAM credentials (RFC 5803)")
struct SCRAMCredentialTests {
    @Test(arguments: SCRAMMechanism.allCases)
    func authPasswordRoundTrip(mechanism: SCRAMMechanism) throws {
        let credential = try SCRAMCredential.generate(password: SASLPassword("pw"), mechanism: mechanism, iterations: 8192)
        let text = credential.authPassword
        #expect(text.hasPrefix("\(mechanism.name)$8192:"))
        #expect(try SCRAMCredential(authPassword: text) == credential)
        #expect(credential.salt.count == 32)
        #expect(credential.storedKey.count == mechanism.digestSize && credential.serverKey.count == mechanism.digestSize)
        #expect(credential.matches(password: SASLPassword("pw")))
        #expect(!credential.matches(password: SASLPassword("pW")))
    }

    /// RFC 7677's user: the keys that its example exchange implies.
    @Test func knownKeys() throws {
        let salt = try #require(Base64.decode("W22ZaJ0SNY7soEsUEjb6gQ=="))
        let credential = try SCRAMCredential.generate(password: SASLPassword("pencil"), mechanism: .sha256, iterations: 4096, salt: salt)
        #expect(credential.authPassword == "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=")
    }

    @Test func fewerThan4096IterationsAreRefused() throws {
        #expect(throws: SCRAMCredentialError.self) {
            _ = try SCRAMCredential.generate(password: SASLPassword("pw"), mechanism: .sha256, iterations: 4095)
        }
        #expect(throws: SCRAMCredentialError.self) {
            _ = try SCRAMCredential.generate(password: SASLPassword("pw"), mechanism: .sha512, iterations: 16385)
        }
        let weak = "SCRAM-SHA-256$1000:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
        #expect(throws: SCRAMCredentialError.self) { _ = try SCRAMCredential(authPassword: weak) }
    }

    @Test func emptyPasswordIsRefused() {
        #expect(throws: SCRAMCredentialError.self) { _ = try SCRAMCredential.generate(password: SASLPassword(""), mechanism: .sha256) }
    }

    @Test(arguments: [
        "", "SCRAM-SHA-256", "SCRAM-SHA-1$4096:c2FsdA==$AAAA:AAAA", "SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA",
        "SCRAM-SHA-256$x096:c2FsdA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:c2FsdA=$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:c2FsdA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
        "SCRAM-SHA-256$+4096:c2FsdA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
    ])
    func malformedValuesAreRefused(text: String) {
        #expect(throws: SCRAMCredentialError.self) { _ = try SCRAMCredential(authPassword: text) }
    }

    @Test func descriptionsRedactSecrets() throws {
        let password = SASLPassword("hunter2")
        let credential = try SCRAMCredential.generate(password: password, mechanism: .sha512)
        let key = Base64.encode(credential.storedKey)
        var dumped = ""
        dump(credential, to: &dumped)
        dump(password, to: &dumped)
        for text in ["\(password)", String(reflecting: password), "\(credential)", String(reflecting: credential), dumped] {
            #expect(!text.contains("hunter2"))
            #expect(!text.contains(key))
            #expect(!text.contains(Base64.encode(credential.salt)))
        }
        #expect("\(credential)" == "SCRAMCredential(SCRAM-SHA-512, iterations: 4096)")
    }

    @Test func decoysAreStableAndMatchNothing() {
        let decoys = SCRAMDecoys()
        let a = decoys.decoy(for: "ghost", mechanism: .sha256)
        #expect(a == decoys.decoy(for: "ghost", mechanism: .sha256))
        #expect(a != decoys.decoy(for: "ghost2", mechanism: .sha256))
        #expect(a.iterations == 4096)
        #expect(!a.matches(password: SASLPassword("ghost")))
    }

    /// Decoys take the most common shape of the stored credentials of their mechanism, so an unknown
    /// user's iteration count and salt length are those of real users; another key makes other decoys.
    @Test func decoysAreShapedLikeTheStoredCredentials() {
        let decoys = SCRAMDecoys()
        let shaped = decoys.shaped(like: [
            (.sha512, SCRAMDecoys.Shape(iterations: 8192, saltLength: 16)),
            (.sha512, SCRAMDecoys.Shape(iterations: 8192, saltLength: 16)),
            (.sha512, SCRAMDecoys.Shape(iterations: 4096, saltLength: 32)),
            (.sha256, SCRAMDecoys.Shape(iterations: 10000, saltLength: 40)),
        ])
        let sha512 = shaped.decoy(for: "ghost", mechanism: .sha512)
        #expect(sha512.iterations == 8192 && sha512.salt.count == 16)
        let sha256 = shaped.decoy(for: "ghost", mechanism: .sha256)
        #expect(sha256.iterations == 10000 && sha256.salt.count == 40)
        // The key stays: the same name under the same shape gets the same salt.
        #expect(Array(decoys.decoy(for: "ghost", mechanism: .sha512).salt.prefix(16)) == sha512.salt)
        // No stored credential of a mechanism: the generated shape.
        let none = decoys.shaped(like: [(.sha256, SCRAMDecoys.Shape(iterations: 10000, saltLength: 40))])
        #expect(none.shape(of: .sha512) == .generated)
        #expect(SCRAMDecoys().decoy(for: "ghost", mechanism: .sha512) != decoys.decoy(for: "ghost", mechanism: .sha512))
    }

    @Test func base64() {
        for length in 0..<10 {
            let bytes = (0..<length).map { UInt8($0 * 37 & 0xFF) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("pencil".utf8)) == "cGVuY2ls")
        for bad in ["a", "abc", "ab=c", "a===", "ab$=", "QQ=A", "QR==", "QUF=QUFB"] {
            #expect(Base64.decode(bad) == nil, "\(bad)")
        }
    }
}
