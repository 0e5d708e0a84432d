import Testing
@testable import RampartAuthorizer

/// Random ACL sets over a small universe (names that share prefixes, a few principals, hosts and
/// operations), seeded so every run checks the same cases.
@Suite struct AuthorizerPropertyTests {
    static let principals = [user("alice"), user("bob"), KafkaPrincipal(type: "Svc", name: "alice")]
    static let aclPrincipals = ["User:alice", "User:bob", "User:*", "Svc:alice"]
    static let hosts = ["10.0.0.1", "10.0.0.2"]
    static let aclHosts = ["*", "*", "10.0.0.1", "10.0.0.2"]
    static let names = ["a", "ab", "abc", "a.b", "b", "ba", "bab", "*", "abd"]
    static let types: [AclResourceType] = [.topic, .group, .cluster]

    struct Universe {
        var random: SeededGenerator

        mutating func binding(_ permission: AclPermissionType? = nil) -> AclBinding {
            let type = AuthorizerPropertyTests.types.randomElement(using: &random)!
            let pattern: ResourcePattern = type == .cluster
                ? .cluster
                : ResourcePattern(type, AuthorizerPropertyTests.names.randomElement(using: &random)!,
                                  Bool.random(using: &random) ? .literal : .prefixed)
            let operations = type.supportedOperations + [.all]
            return AclBinding(pattern: pattern, entry: AccessControlEntry(
                principal: try! KafkaPrincipal(parsing: AuthorizerPropertyTests.aclPrincipals.randomElement(using: &random)!),
                host: AuthorizerPropertyTests.aclHosts.randomElement(using: &random)!,
                operation: operations.randomElement(using: &random)!,
                permission: permission ?? (Int.random(in: 0..<3, using: &random) == 0 ? .deny : .allow)))
        }

        mutating func bindings() -> [AclBinding] {
            (0..<Int.random(in: 0...12, using: &random)).map { _ in binding() }
        }

        mutating func query() -> (KafkaPrincipal, String, AclOperation, AclResourceType, String) {
            let type = AuthorizerPropertyTests.types.randomElement(using: &random)!
            let name = type == .cluster ? ResourcePattern.clusterName
                : (AuthorizerPropertyTests.names + ["abcd", "c", "a.bc"]).randomElement(using: &random)!
            return (AuthorizerPropertyTests.principals.randomElement(using: &random)!, AuthorizerPropertyTests.hosts.randomElement(using: &random)!,
                    type.supportedOperations.randomElement(using: &random)!, type, name)
        }
    }

    static let configs = [AuthorizerConfig(), AuthorizerConfig(allowEveryoneIfNoAclFound: true)]

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func snapshotAgreesWithTheReferenceRules(seed: UInt64) {
        var universe = Universe(random: SeededGenerator(seed: seed))
        for round in 0..<300 {
            let config = Self.configs[round % 2]
            let acls = universe.bindings()
            let snapshot = AclSnapshot(config: config, dynamicBindings: acls)
            for _ in 0..<20 {
                let (principal, host, operation, type, name) = universe.query()
                let decision = snapshot.authorize(principal, host: host, operation: operation, type, name)
                let expected = ReferenceAuthorizer.isAllowed(config, acls, principal, host, operation, type, name)
                #expect(decision.isAllowed == expected, "seed \(seed) round \(round): \(principal) \(operation) \(type):\(name) from \(host) with \(acls)")
                // The rule a decision names really matches the request.
                if let rule = snapshot.matchedBinding(decision) {
                    #expect(ReferenceAuthorizer.matches(rule, principal, host, operation, type, name))
                    #expect((rule.entry.permission == .allow) == decision.isAllowed)
                }
            }
        }
    }

    @Test(arguments: [11, 12, 13] as [UInt64])
    func denyAlwaysWins(seed: UInt64) {
        var universe = Universe(random: SeededGenerator(seed: seed))
        for _ in 0..<1000 {
            let config = Self.configs.randomElement(using: &universe.random)!
            let acls = universe.bindings()
            let (principal, host, operation, type, name) = universe.query()
            let snapshot = AclSnapshot(config: config, dynamicBindings: acls)
            if acls.contains(where: { $0.entry.permission == .deny && ReferenceAuthorizer.matches($0, principal, host, operation, type, name) }) {
                let decision = snapshot.authorize(principal, host: host, operation: operation, type, name)
                #expect(!decision.isAllowed)
                guard case .deniedByAcl = decision.reason else { Issue.record("denied for \(decision.reason), not by the DENY"); continue }
            }
        }
    }

    /// With Kafka's default (allow.everyone.if.no.acl.found=false) access only grows with ALLOWs. (With
    /// allow.everyone=true it does not: the first ACL on a resource ends "everyone" — Kafka's rule, and
    /// `firstAclOnAResourceEndsAllowEveryone` shows it.)
    @Test(arguments: [21, 22, 23] as [UInt64])
    func addingAnAllowNeverRemovesAccess(seed: UInt64) {
        var universe = Universe(random: SeededGenerator(seed: seed))
        for _ in 0..<300 {
            let acls = universe.bindings()
            let extra = universe.binding(.allow)
            let before = AclSnapshot(config: AuthorizerConfig(), dynamicBindings: acls)
            let after = AclSnapshot(config: AuthorizerConfig(), dynamicBindings: acls + [extra])
            for _ in 0..<20 {
                let (principal, host, operation, type, name) = universe.query()
                if before.authorize(principal, host: host, operation: operation, type, name).isAllowed {
                    #expect(after.authorize(principal, host: host, operation: operation, type, name).isAllowed,
                            "adding \(extra) removed \(principal) \(operation) \(type):\(name)")
                }
            }
        }
    }

    @Test(arguments: [31, 32, 33] as [UInt64])
    func addingADenyNeverAddsAccess(seed: UInt64) {
        var universe = Universe(random: SeededGenerator(seed: seed))
        for round in 0..<300 {
            let config = Self.configs[round % 2]
            let acls = universe.bindings()
            let extra = universe.binding(.deny)
            let before = AclSnapshot(config: config, dynamicBindings: acls)
            let after = AclSnapshot(config: config, dynamicBindings: acls + [extra])
            for _ in 0..<20 {
                let (principal, host, operation, type, name) = universe.query()
                if !before.authorize(principal, host: host, operation: operation, type, name).isAllowed {
                    #expect(!after.authorize(principal, host: host, operation: operation, type, name).isAllowed,
                            "adding \(extra) granted \(principal) \(operation) \(type):\(name)")
                }
            }
        }
    }

    @Test func firstAclOnAResourceEndsAllowEveryone() {
        let config = AuthorizerConfig(allowEveryoneIfNoAclFound: true)
        let before = AclSnapshot(config: config)
        let after = AclSnapshot(config: config, dynamicBindings: [acl(.allow, "User:bob", .read, .topic, "t")])
        #expect(before.authorize(user("alice"), host: "h", operation: .read, .topic, "t").isAllowed)
        #expect(!after.authorize(user("alice"), host: "h", operation: .read, .topic, "t").isAllowed)
    }

    /// The trie and the dictionary index agree with a linear scan on many patterns at once.
    @Test func largeSnapshotsAgreeWithTheReference() {
        var random = SeededGenerator(seed: 99)
        let alphabet = Array("ab.-")
        func name(_ length: Int) -> String { String((0..<length).map { _ in alphabet.randomElement(using: &random)! }) }
        var acls: [AclBinding] = []
        for _ in 0..<2000 {
            acls.append(acl(Int.random(in: 0..<5, using: &random) == 0 ? .deny : .allow, ["User:alice", "User:bob", "User:*"].randomElement(using: &random)!,
                            [.read, .write, .describe, .all].randomElement(using: &random)!, .topic, name(Int.random(in: 1...6, using: &random)),
                            Bool.random(using: &random) ? .literal : .prefixed))
        }
        let snapshot = AclSnapshot(config: AuthorizerConfig(), dynamicBindings: acls)
        for _ in 0..<2000 {
            let principal = [user("alice"), user("bob"), user("carol")].randomElement(using: &random)!
            let operation = [AclOperation.read, .write, .describe, .delete].randomElement(using: &random)!
            let resource = name(Int.random(in: 1...8, using: &random))
            #expect(snapshot.authorize(principal, host: "h", operation: operation, .topic, resource).isAllowed
                    == ReferenceAuthorizer.isAllowed(AuthorizerConfig(), acls, principal, "h", operation, .topic, resource))
        }
    }

    /// A resource named by many ACLs is looked up by principal; the answers stay Kafka's.
    @Test func manyPrincipalsOnOneResource() {
        var random = SeededGenerator(seed: 7)
        var acls: [AclBinding] = []
        for i in 0..<500 {
            acls.append(acl(i % 7 == 0 ? .deny : .allow, "User:u\(i % 120)", [.read, .write, .all].randomElement(using: &random)!, .topic,
                            ["*", "t", "t."].randomElement(using: &random)!, i % 3 == 2 ? .prefixed : .literal,
                            host: i % 11 == 0 ? "10.0.0.1" : "*"))
        }
        acls.append(acl(.allow, "User:*", .describe, .topic, "t"))
        acls.append(acl(.deny, "User:*", .write, .topic, "t.x"))
        for config in [AuthorizerConfig(), AuthorizerConfig(allowEveryoneIfNoAclFound: true)] {
            let snapshot = AclSnapshot(config: config, dynamicBindings: acls)
            for _ in 0..<3000 {
                let principal = user("u\(Int.random(in: 0..<150, using: &random))")
                let host = ["10.0.0.1", "10.0.0.2"].randomElement(using: &random)!
                let operation = [AclOperation.read, .write, .describe, .delete].randomElement(using: &random)!
                let name = ["t", "t.x", "t.y", "u", "tt"].randomElement(using: &random)!
                #expect(snapshot.authorize(principal, host: host, operation: operation, .topic, name).isAllowed
                        == ReferenceAuthorizer.isAllowed(config, acls, principal, host, operation, .topic, name))
            }
        }
    }
}
