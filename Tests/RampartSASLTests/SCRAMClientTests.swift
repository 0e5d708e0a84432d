import Testing
@testable import RampartSASL

@Suite("SCRAM client")
struct SCRAMClientTests {
    /// RFC 7677 §3's SCRAM-SHA-256 example: user "user", password "pencil".
    @Test func rfc7677KnownAnswer() throws {
        let client = SCRAMClient(mechanism: .sha256, username: "user", password: SASLPassword("pencil"), nonce: "rOprNGfwEbeRWgbNEkqO")
        #expect(String(decoding: try client.initialResponse(), as: UTF8.self) == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        let final = try #require(try client.evaluate(challenge: Array(serverFirst.utf8)))
        #expect(String(decoding: final, as: UTF8.self)
            == "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        #expect(try client.evaluate(challenge: Array("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8)) == nil)
    }

    @Test func aForgedServerSignatureIsRefused() throws {
        let client = SCRAMClient(mechanism: .sha256, username: "user", password: SASLPassword("pencil"), nonce: "rOprNGfwEbeRWgbNEkqO")
        _ = try client.initialResponse()
        _ = try client.evaluate(challenge: Array("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096".utf8))
        #expect(throws: SASLClientError.self) {
            _ = try client.evaluate(challenge: Array("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8))
        }
    }

    @Test(arguments: [
        "r=abcSERVER,s=c2FsdA==,i=1000",        // downgrade
        "r=abcSERVER,s=c2FsdA==,i=100000000",   // CPU burn
        "r=zzzSERVER,s=c2FsdA==,i=4096",        // nonce does not extend ours
        "r=abc,s=c2FsdA==,i=4096",              // nonce not extended at all
        "r=abcSERVER,s=***,i=4096",             // bad salt
        "m=ext,r=abcSERVER,s=c2FsdA==,i=4096",  // mandatory extension
        "e=unknown-user",
        "garbage",
    ])
    func suspiciousServerFirstIsRefused(serverFirst: String) throws {
        let client = SCRAMClient(mechanism: .sha256, username: "u", password: SASLPassword("p"), nonce: "abc")
        _ = try client.initialResponse()
        #expect(throws: SASLClientError.self) { _ = try client.evaluate(challenge: Array(serverFirst.utf8)) }
    }

    @Test func userNamesAreEscaped() throws {
        let client = SCRAMClient(mechanism: .sha512, username: "a,b=c", password: SASLPassword("p"), authorizationID: "a,b=c", nonce: "n")
        #expect(String(decoding: try client.initialResponse(), as: UTF8.self) == "n,a=a=2Cb=3Dc,n=a=2Cb=3Dc,r=n")
    }

    @Test func plainMessage() throws {
        let client = PLAINClient(username: "alice", password: SASLPassword("pw"))
        #expect(try client.initialResponse() == [0] + Array("alice".utf8) + [0] + Array("pw".utf8))
        #expect(try client.evaluate(challenge: []) == nil)
    }
}
