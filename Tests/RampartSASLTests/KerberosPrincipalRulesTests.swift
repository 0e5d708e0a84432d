import RampartSASL
import Testing

/// `sasl.kerberos.principal.to.local.rules` with Kafka's semantics (`KerberosShortNamer`).
@Suite struct KerberosPrincipalRulesTests {
    func shortName(_ rules: String, _ principal: String, realm: String = "RAMPART.TEST") throws -> String {
        try KerberosPrincipalRules(rules, defaultRealm: realm).shortName(principal)
    }

    @Test func defaultMapsTheDefaultRealmOnly() throws {
        #expect(try shortName("DEFAULT", "alice@RAMPART.TEST") == "alice")
        #expect(try shortName("DEFAULT", "kafka/broker1.example.com@RAMPART.TEST") == "kafka")
        #expect(throws: SASLError.self) { try shortName("DEFAULT", "alice@OTHER.REALM") }
        #expect(try shortName("DEFAULT", "alice") == "alice")
    }

    @Test func kafkasDocumentedExamples() throws {
        // security.html: RULE:[1:$1@$0](.*@MYDOMAIN.COM)s/@.*//,DEFAULT
        let rules = "RULE:[1:$1@$0](.*@MYDOMAIN.COM)s/@.*//,DEFAULT"
        #expect(try shortName(rules, "alice@MYDOMAIN.COM") == "alice")
        #expect(try shortName(rules, "bob@RAMPART.TEST") == "bob")
        #expect(throws: SASLError.self) { try shortName(rules, "carol@ELSEWHERE.ORG") }
        // Lower-casing and host principals.
        #expect(try shortName("RULE:[1:$1@$0](.*@MYDOMAIN.COM)s/@.*///L,DEFAULT", "Alice@MYDOMAIN.COM") == "alice")
        #expect(try shortName("RULE:[2:$1@$0](.*@MYDOMAIN.COM)s/@.*///U", "kafka/host@MYDOMAIN.COM") == "KAFKA")
        #expect(try shortName("RULE:[2:$1-$2]s/\\./_/g", "svc/a.b.c@X") == "svc-a_b_c")
        #expect(try shortName("RULE:[2:$1-$2]s/\\./_/", "svc/a.b.c@X") == "svc-a_b.c")
        // Groups in the replacement.
        #expect(try shortName("RULE:[1:$1@$0](.*@CORP)s/^(.*)@CORP$/corp-$1/", "dave@CORP") == "corp-dave")
        // A rule for one component does not apply to two.
        #expect(throws: SASLError.self) { try shortName("RULE:[1:$1]", "kafka/host@RAMPART.TEST") }
    }

    @Test func badRulesAndResultsAreErrors() throws {
        for text in ["", "RULES:[1:$1]", "RULE:[x:$1]", "RULE:[1:$1", "RULE:[1:$1](.*", "RULE:[1:$1]s/a/b", "RULE:[1:$1]([)"] {
            #expect(throws: SASLError.self, "\(text)") { try KerberosPrincipalRules(text, defaultRealm: "R") }
        }
        // A result still holding '@' or '/' is refused, as Kafka does.
        #expect(throws: SASLError.self) { try shortName("RULE:[1:$1@$0]", "alice@RAMPART.TEST") }
        #expect(throws: SASLError.self) { try shortName("RULE:[1:$3]", "alice@RAMPART.TEST") }
    }
}
