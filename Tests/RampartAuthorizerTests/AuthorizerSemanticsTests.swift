import Testing
@testable import RampartAuthorizer

/// Kafka's authorization rules, one row each: the ACLs, the question, the expected answer and reason.
@Suite struct AuthorizerSemanticsTests {
    struct Row: CustomTestStringConvertible, Sendable {
        var name: String
        var acls: [AclBinding]
        var config = AuthorizerConfig()
        var principal = user("alice")
        var host = "10.0.0.1"
        var operation: AclOperation
        var type: AclResourceType = .topic
        var resource = "orders"
        var allowed: Bool
        /// The expected reason, when it matters.
        var reason: AuthorizationDecision.Reason?
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        // Default deny and allow.everyone.if.no.acl.found.
        Row(name: "no ACL at all: denied by default", acls: [], operation: .read, allowed: false, reason: .noAclFound),
        Row(name: "no ACL on the resource, allow.everyone: allowed", acls: [acl(.allow, "User:bob", .read, .topic, "other")],
            config: AuthorizerConfig(allowEveryoneIfNoAclFound: true), operation: .read, allowed: true, reason: .noAclFoundAllowEveryone),
        Row(name: "an ACL for someone else on the resource: allow.everyone does not apply",
            acls: [acl(.allow, "User:bob", .read, .topic, "orders")],
            config: AuthorizerConfig(allowEveryoneIfNoAclFound: true), operation: .read, allowed: false, reason: .noMatchingAllow),
        Row(name: "a prefixed ACL counts as an ACL on the resource for allow.everyone",
            acls: [acl(.allow, "User:bob", .read, .topic, "ord", .prefixed)],
            config: AuthorizerConfig(allowEveryoneIfNoAclFound: true), operation: .read, allowed: false, reason: .noMatchingAllow),
        Row(name: "an ACL on another resource type leaves allow.everyone in force",
            acls: [acl(.allow, "User:bob", .read, .group, "orders")],
            config: AuthorizerConfig(allowEveryoneIfNoAclFound: true), operation: .read, allowed: true),
        // Resource patterns.
        Row(name: "literal name matches itself", acls: [acl(.allow, "User:alice", .read, .topic, "orders")], operation: .read,
            allowed: true, reason: .allowedByAcl(AclRuleID(index: 0))),
        Row(name: "literal name does not match another name", acls: [acl(.allow, "User:alice", .read, .topic, "orders")],
            operation: .read, resource: "orders2", allowed: false, reason: .noAclFound),
        Row(name: "literal is not a prefix", acls: [acl(.allow, "User:alice", .read, .topic, "ord")], operation: .read, allowed: false),
        Row(name: "literal * matches every name", acls: [acl(.allow, "User:alice", .read, .topic, "*")], operation: .read,
            resource: "anything", allowed: true),
        Row(name: "prefixed matches names starting with it", acls: [acl(.allow, "User:alice", .read, .topic, "orders.", .prefixed)],
            operation: .read, resource: "orders.eu", allowed: true),
        Row(name: "prefixed matches the prefix itself", acls: [acl(.allow, "User:alice", .read, .topic, "orders", .prefixed)],
            operation: .read, resource: "orders", allowed: true),
        Row(name: "prefixed does not match a shorter name", acls: [acl(.allow, "User:alice", .read, .topic, "orders.", .prefixed)],
            operation: .read, resource: "orders", allowed: false),
        Row(name: "prefixed * is the character *, not a wildcard", acls: [acl(.allow, "User:alice", .read, .topic, "*", .prefixed)],
            operation: .read, resource: "orders", allowed: false),
        Row(name: "several prefixes: the longer one matching is enough",
            acls: [acl(.allow, "User:alice", .read, .topic, "a.", .prefixed), acl(.allow, "User:alice", .read, .topic, "orders.eu.", .prefixed)],
            operation: .read, resource: "orders.eu.paris", allowed: true, reason: .allowedByAcl(AclRuleID(index: 1))),
        Row(name: "a topic ACL does not apply to a group of the same name", acls: [acl(.allow, "User:alice", .read, .topic, "orders")],
            operation: .read, type: .group, allowed: false, reason: .noAclFound),
        Row(name: "cluster resource", acls: [acl(.allow, "User:alice", .create, .cluster, "kafka-cluster")], operation: .create,
            type: .cluster, resource: "kafka-cluster", allowed: true),
        Row(name: "transactional id", acls: [acl(.allow, "User:alice", .write, .transactionalId, "tx-", .prefixed)], operation: .write,
            type: .transactionalId, resource: "tx-1", allowed: true),
        Row(name: "delegation token", acls: [acl(.allow, "User:alice", .describe, .delegationToken, "*")], operation: .describe,
            type: .delegationToken, resource: "token-1", allowed: true),
        Row(name: "user resource", acls: [acl(.allow, "User:alice", .createTokens, .user, "bob")], operation: .createTokens,
            type: .user, resource: "bob", allowed: true),
        // Principals.
        Row(name: "another principal's ACL does not apply", acls: [acl(.allow, "User:bob", .read, .topic, "orders")], operation: .read,
            allowed: false, reason: .noMatchingAllow),
        Row(name: "User:* matches every principal", acls: [acl(.allow, "User:*", .read, .topic, "orders")], operation: .read, allowed: true),
        Row(name: "User:* matches a principal of another type", acls: [acl(.allow, "User:*", .read, .topic, "orders")],
            principal: KafkaPrincipal(type: "Service", name: "x"), operation: .read, allowed: true),
        Row(name: "principal names are case-sensitive", acls: [acl(.allow, "User:Alice", .read, .topic, "orders")], operation: .read,
            allowed: false),
        Row(name: "principal types must match", acls: [acl(.allow, "Group:alice", .read, .topic, "orders")], operation: .read,
            allowed: false),
        Row(name: "a DN principal", acls: [acl(.allow, "User:CN=alice,O=Example", .read, .topic, "orders")],
            principal: user("CN=alice,O=Example"), operation: .read, allowed: true),
        // Hosts.
        Row(name: "host * matches any client address", acls: [acl(.allow, "User:alice", .read, .topic, "orders")], operation: .read,
            allowed: true),
        Row(name: "an exact host matches that address", acls: [acl(.allow, "User:alice", .read, .topic, "orders", host: "10.0.0.1")],
            operation: .read, allowed: true),
        Row(name: "an exact host does not match another address", acls: [acl(.allow, "User:alice", .read, .topic, "orders", host: "10.0.0.2")],
            operation: .read, allowed: false, reason: .noMatchingAllow),
        Row(name: "a DENY from one host leaves other hosts allowed",
            acls: [acl(.allow, "User:alice", .read, .topic, "orders"), acl(.deny, "User:alice", .read, .topic, "orders", host: "10.0.0.9")],
            operation: .read, allowed: true),
        Row(name: "a DENY from the client's host denies",
            acls: [acl(.allow, "User:alice", .read, .topic, "orders"), acl(.deny, "User:alice", .read, .topic, "orders", host: "10.0.0.1")],
            operation: .read, allowed: false, reason: .deniedByAcl(AclRuleID(index: 1))),
        // Operations and implications.
        Row(name: "All grants every operation", acls: [acl(.allow, "User:alice", .all, .topic, "orders")], operation: .alterConfigs, allowed: true),
        Row(name: "one operation does not grant another", acls: [acl(.allow, "User:alice", .write, .topic, "orders")], operation: .read,
            allowed: false, reason: .noMatchingAllow),
        Row(name: "ALLOW Read implies Describe", acls: [acl(.allow, "User:alice", .read, .topic, "orders")], operation: .describe, allowed: true),
        Row(name: "ALLOW Write implies Describe", acls: [acl(.allow, "User:alice", .write, .topic, "orders")], operation: .describe, allowed: true),
        Row(name: "ALLOW Delete implies Describe", acls: [acl(.allow, "User:alice", .delete, .topic, "orders")], operation: .describe, allowed: true),
        Row(name: "ALLOW Alter implies Describe", acls: [acl(.allow, "User:alice", .alter, .topic, "orders")], operation: .describe, allowed: true),
        Row(name: "ALLOW AlterConfigs implies DescribeConfigs", acls: [acl(.allow, "User:alice", .alterConfigs, .topic, "orders")],
            operation: .describeConfigs, allowed: true),
        Row(name: "ALLOW Create does not imply Describe", acls: [acl(.allow, "User:alice", .create, .topic, "orders")], operation: .describe,
            allowed: false),
        Row(name: "ALLOW Describe does not imply Read", acls: [acl(.allow, "User:alice", .describe, .topic, "orders")], operation: .read,
            allowed: false),
        Row(name: "ALLOW Alter does not imply AlterConfigs", acls: [acl(.allow, "User:alice", .alter, .topic, "orders")],
            operation: .alterConfigs, allowed: false),
        Row(name: "ALLOW AlterConfigs does not imply Describe", acls: [acl(.allow, "User:alice", .alterConfigs, .topic, "orders")],
            operation: .describe, allowed: false),
        Row(name: "ALLOW DescribeConfigs does not imply Describe", acls: [acl(.allow, "User:alice", .describeConfigs, .topic, "orders")],
            operation: .describe, allowed: false),
        Row(name: "DENY Read does not imply DENY Describe",
            acls: [acl(.allow, "User:alice", .describe, .topic, "orders"), acl(.deny, "User:alice", .read, .topic, "orders")],
            operation: .describe, allowed: true),
        Row(name: "DENY AlterConfigs does not deny DescribeConfigs",
            acls: [acl(.allow, "User:alice", .all, .topic, "orders"), acl(.deny, "User:alice", .alterConfigs, .topic, "orders")],
            operation: .describeConfigs, allowed: true),
        // DENY wins.
        Row(name: "DENY beats ALLOW of the same operation",
            acls: [acl(.allow, "User:alice", .read, .topic, "orders"), acl(.deny, "User:alice", .read, .topic, "orders")],
            operation: .read, allowed: false, reason: .deniedByAcl(AclRuleID(index: 1))),
        Row(name: "DENY All beats ALLOW Read",
            acls: [acl(.allow, "User:alice", .read, .topic, "orders"), acl(.deny, "User:alice", .all, .topic, "orders")],
            operation: .read, allowed: false),
        Row(name: "DENY Write leaves ALLOW All's Read",
            acls: [acl(.allow, "User:alice", .all, .topic, "orders"), acl(.deny, "User:alice", .write, .topic, "orders")],
            operation: .read, allowed: true),
        Row(name: "DENY on a prefix beats a literal ALLOW",
            acls: [acl(.allow, "User:alice", .read, .topic, "orders"), acl(.deny, "User:alice", .read, .topic, "ord", .prefixed)],
            operation: .read, allowed: false),
        Row(name: "DENY on * beats a literal ALLOW",
            acls: [acl(.allow, "User:alice", .read, .topic, "orders"), acl(.deny, "User:alice", .read, .topic, "*")],
            operation: .read, allowed: false),
        Row(name: "DENY for User:* beats ALLOW for the principal",
            acls: [acl(.allow, "User:alice", .read, .topic, "orders"), acl(.deny, "User:*", .read, .topic, "orders")],
            operation: .read, allowed: false),
        Row(name: "a literal DENY on another name does not apply",
            acls: [acl(.allow, "User:alice", .read, .topic, "ord", .prefixed), acl(.deny, "User:alice", .read, .topic, "ordinal")],
            operation: .read, allowed: true),
        // Super users and the switch.
        Row(name: "a super user bypasses a DENY", acls: [acl(.deny, "User:alice", .all, .topic, "*")],
            config: AuthorizerConfig(superUsers: [user("alice")]), operation: .write, allowed: true, reason: .superUser),
        Row(name: "a super user needs no ACL", acls: [], config: AuthorizerConfig(superUsers: [user("bob"), user("alice")]),
            operation: .alter, type: .cluster, resource: "kafka-cluster", allowed: true, reason: .superUser),
        Row(name: "super users match type and name", acls: [], config: AuthorizerConfig(superUsers: [KafkaPrincipal(type: "Admin", name: "alice")]),
            operation: .read, allowed: false),
        Row(name: "disabled: everything is allowed", acls: [acl(.deny, "User:*", .all, .topic, "*")],
            config: AuthorizerConfig(enabled: false), operation: .write, allowed: true, reason: .authorizerDisabled),
    ]

    @Test(arguments: rows)
    func rule(_ row: Row) {
        let snapshot = AclSnapshot(config: row.config, dynamicBindings: row.acls)
        let decision = snapshot.authorize(row.principal, host: row.host, operation: row.operation, row.type, row.resource)
        #expect(decision.isAllowed == row.allowed)
        if let reason = row.reason { #expect(decision.reason == reason) }
        // The compiled snapshot agrees with the plain reading of the rules.
        #expect(ReferenceAuthorizer.isAllowed(row.config, row.acls, row.principal, row.host, row.operation, row.type, row.resource) == row.allowed)
    }

    @Test func denyIsReportedBeforeAnyAllowAndLiteralBeforePrefixed() {
        let acls = [
            acl(.allow, "User:alice", .read, .topic, "orders"),
            acl(.deny, "User:alice", .read, .topic, "or", .prefixed),
            acl(.deny, "User:alice", .read, .topic, "orders"),
        ]
        let decision = AclSnapshot(config: AuthorizerConfig(), dynamicBindings: acls)
            .authorize(user("alice"), host: "h", operation: .read, .topic, "orders")
        #expect(decision.reason == .deniedByAcl(AclRuleID(index: 2)))
    }

    @Test func fileAclsComeFirstAndKeepTheirSource() {
        let file = acl(.allow, "User:alice", .read, .topic, "orders", line: 12)
        let dynamic = acl(.deny, "User:alice", .write, .topic, "orders")
        let snapshot = AclSnapshot(config: AuthorizerConfig(), fileBindings: [file], dynamicBindings: [dynamic])
        #expect(snapshot.fileBindingCount == 1)
        let read = snapshot.explain(user("alice"), host: "h", operation: .read, .topic, "orders")
        #expect(read.matchedRule?.source == .file(path: "test.yaml", line: 12))
        #expect(read.description.hasPrefix("ALLOWED"))
        #expect(read.description.contains("test.yaml:12"))
        let write = snapshot.explain(user("alice"), host: "h", operation: .write, .topic, "orders")
        #expect(write.matchedRule?.source == .dynamic)
        #expect(write.description.contains("DENIED"))
        #expect(write.description.contains("dynamic ACL"))
        let none = snapshot.explain(user("bob"), host: "h", operation: .read, .topic, "payments")
        #expect(none.description.contains("no ACL on the resource: default deny"))
    }

    // MARK: - authorizeByResourceType (idempotent producers)

    struct ByTypeRow: CustomTestStringConvertible, Sendable {
        var name: String
        var acls: [AclBinding]
        var config = AuthorizerConfig()
        var allowed: Bool
        var testDescription: String { name }
    }

    static let byTypeRows: [ByTypeRow] = [
        ByTypeRow(name: "no ACL: denied", acls: [], allowed: false),
        ByTypeRow(name: "no ACL, allow.everyone: allowed", acls: [], config: AuthorizerConfig(allowEveryoneIfNoAclFound: true), allowed: true),
        ByTypeRow(name: "super user", acls: [], config: AuthorizerConfig(superUsers: [user("alice")]), allowed: true),
        ByTypeRow(name: "Write on one literal topic", acls: [acl(.allow, "User:alice", .write, .topic, "t1")], allowed: true),
        ByTypeRow(name: "Write on a prefix", acls: [acl(.allow, "User:alice", .write, .topic, "t", .prefixed)], allowed: true),
        ByTypeRow(name: "All on a topic", acls: [acl(.allow, "User:alice", .all, .topic, "t1")], allowed: true),
        ByTypeRow(name: "Write for User:*", acls: [acl(.allow, "User:*", .write, .topic, "t1")], allowed: true),
        ByTypeRow(name: "Read is not Write", acls: [acl(.allow, "User:alice", .read, .topic, "t1")], allowed: false),
        ByTypeRow(name: "Write from another host", acls: [acl(.allow, "User:alice", .write, .topic, "t1", host: "10.9.9.9")], allowed: false),
        ByTypeRow(name: "Write on a group is not on a topic", acls: [acl(.allow, "User:alice", .write, .transactionalId, "t1")], allowed: false),
        ByTypeRow(name: "literal ALLOW dominated by the same literal DENY",
                  acls: [acl(.allow, "User:alice", .write, .topic, "t1"), acl(.deny, "User:alice", .write, .topic, "t1")], allowed: false),
        ByTypeRow(name: "literal ALLOW dominated by a prefixed DENY",
                  acls: [acl(.allow, "User:alice", .write, .topic, "t1"), acl(.deny, "User:alice", .write, .topic, "t", .prefixed)], allowed: false),
        ByTypeRow(name: "prefixed ALLOW dominated by a shorter prefixed DENY",
                  acls: [acl(.allow, "User:alice", .write, .topic, "t1.", .prefixed), acl(.deny, "User:alice", .write, .topic, "t", .prefixed)],
                  allowed: false),
        ByTypeRow(name: "prefixed ALLOW not dominated by a longer prefixed DENY",
                  acls: [acl(.allow, "User:alice", .write, .topic, "t", .prefixed), acl(.deny, "User:alice", .write, .topic, "t1", .prefixed)],
                  allowed: true),
        ByTypeRow(name: "a DENY on * denies everything",
                  acls: [acl(.allow, "User:alice", .write, .topic, "t1"), acl(.deny, "User:*", .all, .topic, "*")], allowed: false),
        ByTypeRow(name: "an ALLOW on * allows", acls: [acl(.allow, "User:alice", .write, .topic, "*")], allowed: true),
        ByTypeRow(name: "one undominated ALLOW among dominated ones",
                  acls: [acl(.allow, "User:alice", .write, .topic, "t1"), acl(.deny, "User:alice", .write, .topic, "t1"),
                         acl(.allow, "User:alice", .write, .topic, "u1")], allowed: true),
    ]

    @Test(arguments: byTypeRows)
    func byResourceType(_ row: ByTypeRow) {
        let snapshot = AclSnapshot(config: row.config, dynamicBindings: row.acls)
        #expect(snapshot.authorizeByResourceType(user("alice"), host: "10.0.0.1", operation: .write, .topic).isAllowed == row.allowed)
    }

    // MARK: - Authorized operations

    @Test func authorizedOperationsIncludeImpliedOnes() {
        let snapshot = AclSnapshot(config: AuthorizerConfig(), dynamicBindings: [
            acl(.allow, "User:alice", .read, .group, "g"), acl(.allow, "User:alice", .alterConfigs, .topic, "t"),
            acl(.allow, "User:bob", .all, .cluster, "kafka-cluster"),
        ])
        #expect(snapshot.authorizedOperations(user("alice"), host: "h", .group, "g") == [.read, .describe])
        #expect(snapshot.authorizedOperations(user("alice"), host: "h", .topic, "t") == [.describeConfigs, .alterConfigs])
        #expect(snapshot.authorizedOperations(user("bob"), host: "h", .cluster, "kafka-cluster") == AclResourceType.cluster.supportedOperations)
        #expect(snapshot.authorizedOperationBits(user("alice"), host: "h", .group, "g") == (1 << 3) | (1 << 8))
        #expect(snapshot.authorizedOperationBits(user("carol"), host: "h", .group, "g") == 0)
    }

    // MARK: - Model

    @Test func principalsParseAsKafkaDoes() throws {
        #expect(try KafkaPrincipal(parsing: "User:alice") == user("alice"))
        #expect(try KafkaPrincipal(parsing: "User:CN=a:b,O=x") == user("CN=a:b,O=x"))
        #expect(try KafkaPrincipal(parsing: "User:*").isWildcard)
        #expect(throws: AclValidationError.self) { try KafkaPrincipal(parsing: "alice") }
        #expect(throws: AclValidationError.self) { try KafkaPrincipal(parsing: ":alice") }
        #expect(throws: AclValidationError.self) { try KafkaPrincipal(parsing: "User:") }
        #expect(try AuthorizerConfig.parseSuperUsers(" User:admin ; User:CN=ops,O=x;;") == [user("admin"), user("CN=ops,O=x")])
        #expect(throws: AclValidationError.self) { try AuthorizerConfig.parseSuperUsers("User:admin;admin") }
    }

    @Test func namesParseForgivingly() {
        #expect(AclOperation(name: "IdempotentWrite") == .idempotentWrite)
        #expect(AclOperation(name: "IDEMPOTENT_WRITE") == .idempotentWrite)
        #expect(AclOperation(name: "describe-configs") == .describeConfigs)
        #expect(AclOperation(name: "all") == .all)
        #expect(AclOperation(name: "Any") == nil)
        #expect(AclResourceType(name: "transactional-id") == .transactionalId)
        #expect(AclResourceType(name: "TransactionalId") == .transactionalId)
        #expect(AclResourceType(name: "DELEGATION_TOKEN") == .delegationToken)
        #expect(AclResourceType(name: "broker") == nil)
        #expect(AclOperation.allCases.map(\.rawValue) == Array(2...14))
        #expect(AclResourceType.allCases.map(\.rawValue) == Array(2...7))
    }

    @Test func bindingValidation() {
        #expect(acl(.allow, "User:a", .read, .topic, "t").validationProblem() == nil)
        #expect(acl(.allow, "User:a", .all, .user, "u").validationProblem() == nil)
        #expect(acl(.allow, "User:a", .read, .cluster, "kafka-cluster").validationProblem()?.contains("does not apply to cluster") == true)
        #expect(acl(.allow, "User:a", .create, .cluster, "other").validationProblem()?.contains("kafka-cluster") == true)
        #expect(acl(.allow, "User:a", .create, .cluster, "kafka-cluster", .prefixed).validationProblem() != nil)
        #expect(acl(.allow, "User:a", .idempotentWrite, .topic, "t").validationProblem() != nil)
        #expect(acl(.allow, "User:a", .write, .group, "g").validationProblem() != nil)
        #expect(acl(.allow, "User:a", .read, .topic, "").validationProblem()?.contains("empty") == true)
        #expect(acl(.allow, "User:a", .read, .topic, "t", host: "").validationProblem() != nil)
    }

    // MARK: - Snapshots and swaps

    @Test func authorizerSwapsSnapshotsAndMergesSources() {
        let authorizer = Authorizer(config: AuthorizerConfig())
        let before = authorizer.snapshot
        #expect(!before.authorize(user("alice"), host: "h", operation: .read, .topic, "t").isAllowed)
        authorizer.replaceFileBindings([acl(.allow, "User:alice", .read, .topic, "t", line: 3)])
        authorizer.replaceDynamicBindings([acl(.allow, "User:bob", .read, .topic, "t")])
        let after = authorizer.snapshot
        #expect(after.authorize(user("alice"), host: "h", operation: .read, .topic, "t").isAllowed)
        #expect(after.authorize(user("bob"), host: "h", operation: .read, .topic, "t").isAllowed)
        #expect(after.generation > before.generation)
        #expect(after.fingerprint != before.fingerprint)
        // A snapshot already taken does not change.
        #expect(!before.authorize(user("alice"), host: "h", operation: .read, .topic, "t").isAllowed)
        // Replacing the file ACLs keeps the dynamic ones.
        authorizer.replaceFileBindings([])
        #expect(!authorizer.snapshot.authorize(user("alice"), host: "h", operation: .read, .topic, "t").isAllowed)
        #expect(authorizer.snapshot.authorize(user("bob"), host: "h", operation: .read, .topic, "t").isAllowed)
        authorizer.replaceConfig(AuthorizerConfig(superUsers: [user("alice")]))
        #expect(authorizer.snapshot.authorize(user("alice"), host: "h", operation: .read, .topic, "t").reason == .superUser)
    }

    @Test func fingerprintIsStableAndOrderIndependent() {
        let a = acl(.allow, "User:alice", .read, .topic, "t")
        let b = acl(.deny, "User:bob", .write, .group, "g", .prefixed)
        let one = AclSnapshot(config: AuthorizerConfig(), dynamicBindings: [a, b])
        let two = AclSnapshot(config: AuthorizerConfig(), dynamicBindings: [b, a])
        #expect(one.fingerprint == two.fingerprint)
        #expect(one.fingerprint.count == 16)
        #expect(AclSnapshot(config: AuthorizerConfig(superUsers: [user("x")]), dynamicBindings: [a, b]).fingerprint != one.fingerprint)
    }

    @Test func denialsAreCountedAndHandedToTheSink() {
        final class Sink: AuthorizationAuditSink, @unchecked Sendable {
            var events: [AuthorizationEvent] = []
            func record(_ event: AuthorizationEvent) { events.append(event) }
        }
        let authorizer = Authorizer(config: AuthorizerConfig())
        let sink = Sink()
        authorizer.setAuditSink(sink)
        let event = AuthorizationEvent(timeMs: 1, principal: user("a"), clientHost: "h", listener: "L", apiKey: 0, apiName: "Produce",
                                       operation: .write, resourceType: .topic, resourceName: "t",
                                       decision: AuthorizationDecision(.noAclFound), matchedRule: nil, policyFingerprint: "f")
        authorizer.recordDenial(event)
        authorizer.recordDenial(event)
        #expect(authorizer.deniedCount == 2)
        #expect(sink.events.count == 2)
        #expect(sink.events.first?.apiName == "Produce")
    }
}
