import Testing

@testable import RampartTLS

@Suite struct PrincipalMappingTests {
    @Test func kafkaDocumentationExample() throws {
        // The example of Kafka's security documentation, rule for rule.
        let rules = try PrincipalMappingRules(parsing: """
            RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,
            RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,
            RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,
            DEFAULT
            """)
        #expect(rules.rules.count == 4)
        #expect(rules.map("CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown") == "serviceuser")
        #expect(rules.map("CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown") == "adminuser@admin")
        #expect(rules.map("O=Example,CN=Bob.Smith") == "bob.smith")
        #expect(rules.map("OU=nobody") == "OU=nobody")
    }

    @Test func issueExampleMapsAlice() throws {
        let rules = try PrincipalMappingRules(parsing: "RULE:^CN=([^,]+),OU=eng,O=Example$/$1/")
        #expect(rules.map("CN=alice,OU=eng,O=Example") == "alice")
        // Without DEFAULT a DN that matches no rule has no principal.
        #expect(rules.map("CN=mallory,OU=ops,O=Example") == nil)
    }

    @Test func emptyAndDefault() throws {
        #expect(try PrincipalMappingRules(parsing: "").map("CN=x") == "CN=x")
        #expect(try PrincipalMappingRules(parsing: " DEFAULT ").map("CN=x") == "CN=x")
        #expect(PrincipalMappingRules.default.map("CN=a,O=b") == "CN=a,O=b")
    }

    @Test func uppercaseAndEscapes() throws {
        // `\/` is a slash inside the pattern; `\$` a literal dollar in the replacement; `$2` of a
        // one-group pattern stays literal, as Kafka escapes references to missing groups.
        let rules = try PrincipalMappingRules(parsing: #"RULE:^CN=(.*)\/ops$/\$$1-$2/U"#)
        #expect(rules.map("CN=svc/ops") == "$SVC-$2")
        #expect(rules.description == #"RULE:^CN=(.*)\/ops$/\$$1-$2/U"#)
    }

    @Test func patternMustMatchTheWholeDN() throws {
        let rules = try PrincipalMappingRules(parsing: "RULE:CN=(\\w+)/$1/")
        #expect(rules.map("CN=alice") == "alice")
        #expect(rules.map("CN=alice,O=Example") == nil)
    }

    @Test(arguments: [
        "RULE:^CN=(.*)$/$1",          // replacement not ended by '/'
        "RULE:/x/",                   // empty pattern
        "CN=alice",                   // not a rule
        "RULE:^CN=(.*)$/$1/X",        // unknown flag
        "RULE:^CN=((.*$/$1/",         // pattern does not compile
        "DEFAULT RULE:a/b/",          // no separator
    ])
    func badRulesAreRefusedWithTheirText(value: String) throws {
        let error = #expect(throws: PrincipalMappingRules.ParseError.self) { try PrincipalMappingRules(parsing: value) }
        #expect(error?.description.hasPrefix("ssl.principal.mapping.rules: ") == true)
    }
}
