import Testing
@testable import RampartAuthorizer

/// `rampart policy check`'s lints, and the ACL filters of DescribeAcls/DeleteAcls.
@Suite struct PolicyLintTests {
    static let policy = """
    version: 1
    acls:
      - principal: User:alice
        permission: allow
        operations: [Read]
        resource: {type: topic, name: "*", pattern: prefixed}
      - principal: User:alice
        permission: allow
        operations: [Write]
        resource: {type: topic, name: orders}
      - principal: User:alice
        permission: allow
        operations: [Write]
        resource: {type: topic, name: orders}
      - principal: user:bob
        permission: allow
        operations: [Read]
        resource: {type: group, name: g}
      - principal: User:Alice
        permission: allow
        operations: [Read]
        resource: {type: group, name: g}
      - principal: User:carol
        host: broker.example.com
        permission: allow
        operations: [Read]
        resource: {type: group, name: g}
      - principal: "User:*"
        permission: deny
        operations: [All]
        resource: {type: topic, name: "ord", pattern: prefixed}
      - principal: User:dave
        permission: allow
        operations: [Read]
        resource: {type: topic, name: "other"}
    """

    @Test func lintsFindEachProblemAtItsLine() throws {
        let warnings = PolicyLint.warnings(try PolicyFile.parse(Self.policy, file: "p.yaml"))
        let lines = warnings.map { w -> String in
            guard case .file(_, let line) = w.source else { return "?" }
            let kind = w.message.contains("never applies") ? "dead-allow" : w.message.contains("PREFIXED '*'") ? "prefixed-star"
                : w.message.contains("duplicate") ? "duplicate" : w.message.contains("case-sensitive") ? "case"
                : w.message.contains("not an IP") ? "host" : "other"
            return "\(line) \(kind)"
        }
        #expect(lines.sorted() == ["3 prefixed-star", "7 dead-allow", "11 duplicate", "11 dead-allow", "15 case", "19 case", "23 host"].sorted())
        #expect(warnings.first { $0.message.contains("never applies") }?.message.contains("p.yaml:28") == true)
    }

    @Test func denyCoverage() {
        func b(_ perm: AclPermissionType, _ op: AclOperation, _ name: String, _ pattern: AclPatternType = .literal,
               principal: KafkaPrincipal = KafkaPrincipal(name: "a"), host: String = "*") -> AclBinding {
            AclBinding(pattern: ResourcePattern(.topic, name, pattern), entry: AccessControlEntry(principal: principal, host: host, operation: op, permission: perm))
        }
        #expect(PolicyLint.covers(b(.deny, .read, "*"), b(.allow, .read, "x", .prefixed)))
        #expect(PolicyLint.covers(b(.deny, .all, "x"), b(.allow, .write, "x")))
        #expect(!PolicyLint.covers(b(.deny, .read, "x"), b(.allow, .write, "x")))
        #expect(!PolicyLint.covers(b(.deny, .read, "x"), b(.allow, .read, "x", .prefixed)))
        #expect(!PolicyLint.covers(b(.deny, .read, "x", host: "10.0.0.1"), b(.allow, .read, "x")))
        #expect(!PolicyLint.covers(b(.deny, .read, "x", principal: KafkaPrincipal(name: "b")), b(.allow, .read, "x")))
        #expect(PolicyLint.covers(b(.deny, .read, "x", principal: .wildcard), b(.allow, .read, "x", host: "10.0.0.1")))
        #expect(!PolicyLint.covers(b(.deny, .read, "ab", .prefixed), b(.allow, .read, "a", .prefixed)))
    }

    @Test func filtersMatchAsKafka() throws {
        let literal = ResourcePattern(.topic, "orders.eu")
        let wildcard = ResourcePattern(.topic, "*")
        let prefixed = ResourcePattern(.topic, "orders.", .prefixed)
        let match = AclBindingFilter(resourceType: .topic, resourceName: "orders.eu", patternType: .match)
        #expect([literal, wildcard, prefixed].allSatisfy(match.matches))
        #expect(!match.matches(ResourcePattern(.group, "orders.eu")))
        #expect(!match.matches(ResourcePattern(.topic, "orders.e.", .prefixed)))
        let any = AclBindingFilter(resourceName: "orders.", patternType: .any)
        #expect(any.matches(prefixed) && !any.matches(literal))
        #expect(AclBindingFilter(patternType: .literal).matches(wildcard))
        #expect(!AclBindingFilter(patternType: .literal).matches(prefixed))
        #expect(throws: AclValidationError.self) { try AclBindingFilter(resourceType: 0, resourceName: nil, patternType: 1, principal: nil, host: nil, operation: 1, permission: 1) }
        #expect(throws: AclValidationError.self) { try AclBindingFilter(resourceType: 1, resourceName: nil, patternType: 0, principal: nil, host: nil, operation: 1, permission: 1) }
        #expect(throws: AclValidationError.self) { try AclBinding(resourceType: 2, resourceName: "*", patternType: 4, principal: "User:a", host: "*", operation: 3, permission: 3) }
    }
}
