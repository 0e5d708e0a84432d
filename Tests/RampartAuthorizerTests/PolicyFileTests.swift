import Foundation
import Testing
@testable import RampartAuthorizer

@Suite struct PolicyFileTests {
    static let good = """
    version: 1
    acls:
      - principal: User:alice        # or principals: [User:alice, User:bob]
        host: "*"
        permission: allow
        operations: [Write, Describe]
        resource: {type: topic, name: "orders.", pattern: prefixed}
      - principals: [User:bob, "User:CN=carol,O=Example"]
        permission: DENY
        operations: read
        resource:
          type: group
          name: payments
      - principal: User:ops
        host: 10.1.2.3
        permission: allow
        operations: [IdempotentWrite, describe_configs, ALL]
        resource: {type: cluster}
      - principal: "User:*"
        permission: allow
        operations: [Write]
        resource: {type: transactional-id, name: "tx-", pattern: PREFIXED}
      - principal: User:alice
        permission: allow
        operations: [DescribeTokens]
        resource: {type: user, name: "*"}
      - principal: User:alice
        permission: allow
        operations: [Describe]
        resource: {type: delegation-token, name: "t1"}
    """

    @Test func theIssueShapeParses() throws {
        let bindings = try PolicyFile.parse(Self.good, file: "p.yaml")
        #expect(bindings.count == 2 + 2 + 3 + 1 + 1 + 1)
        #expect(bindings[0] == AclBinding(pattern: ResourcePattern(.topic, "orders.", .prefixed),
                                          entry: AccessControlEntry(principal: user("alice"), host: "*", operation: .write, permission: .allow),
                                          source: .file(path: "p.yaml", line: 3)))
        #expect(bindings[1].entry.operation == .describe)
        #expect(bindings[2].entry.principal == user("bob"))
        #expect(bindings[3].entry.principal == user("CN=carol,O=Example"))
        #expect(bindings[3].entry.permission == .deny)
        #expect(bindings[3].pattern == ResourcePattern(.group, "payments", .literal))
        #expect(bindings[3].source == .file(path: "p.yaml", line: 8))
        #expect(bindings[4].pattern == .cluster)
        #expect(bindings[4].entry.host == "10.1.2.3")
        #expect(bindings[4...6].map(\.entry.operation) == [.idempotentWrite, .describeConfigs, .all])
        #expect(bindings[7].entry.principal.isWildcard)
        #expect(bindings[7].pattern == ResourcePattern(.transactionalId, "tx-", .prefixed))
        #expect(bindings[8].pattern.resourceType == .user)
        #expect(bindings[9].pattern.resourceType == .delegationToken)
    }

    @Test func emptyFilesAndEmptyListsDeclareNothing() throws {
        #expect(try PolicyFile.parse("", file: "e.yaml").isEmpty)
        #expect(try PolicyFile.parse("# only a comment\n", file: "e.yaml").isEmpty)
        #expect(try PolicyFile.parse("version: 1\n", file: "e.yaml").isEmpty)
        #expect(try PolicyFile.parse("version: 1\nacls: []\n", file: "e.yaml").isEmpty)
        #expect(try PolicyFile.parse("version: 1\nacls:\n", file: "e.yaml").isEmpty)
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        var name: String
        var yaml: String
        var line: Int
        var reason: String
        var testDescription: String { name }
    }

    static let entry = "  - principal: User:alice\n    permission: allow\n    operations: [Read]\n"

    static let bad: [Bad] = [
        Bad(name: "not YAML", yaml: "version: 1\nacls: [\n  - x\n", line: 3, reason: "not valid YAML"),
        Bad(name: "bare * host", yaml: "version: 1\nacls:\n  - principal: User:a\n    host: *\n", line: 4, reason: "quote it"),
        Bad(name: "duplicate key", yaml: "version: 1\nacls:\n  - principal: User:a\n    principal: User:b\n", line: 3, reason: "twice"),
        Bad(name: "top level is a list", yaml: "- a\n- b\n", line: 1, reason: "must be a mapping"),
        Bad(name: "no version", yaml: "acls: []\n", line: 1, reason: "missing 'version: 1'"),
        Bad(name: "wrong version", yaml: "version: 2\nacls: []\n", line: 1, reason: "unsupported policy version '2'"),
        Bad(name: "unknown top-level key", yaml: "version: 1\nacl: []\n", line: 2, reason: "unknown key 'acl'"),
        Bad(name: "acls not a list", yaml: "version: 1\nacls: {a: b}\n", line: 2, reason: "must be a list"),
        Bad(name: "misspelt entry key", yaml: "version: 1\nacls:\n" + entry + "    permision: deny\n    resource: {type: topic, name: t}\n",
            line: 6, reason: "unknown key 'permision'"),
        Bad(name: "no principal", yaml: "version: 1\nacls:\n  - permission: allow\n    operations: [Read]\n    resource: {type: topic, name: t}\n",
            line: 3, reason: "names no principal"),
        Bad(name: "principal and principals", yaml: "version: 1\nacls:\n" + entry + "    principals: [User:b]\n    resource: {type: topic, name: t}\n",
            line: 3, reason: "not both"),
        Bad(name: "principal without type", yaml: "version: 1\nacls:\n  - principal: alice\n    permission: allow\n    operations: [Read]\n    resource: {type: topic, name: t}\n",
            line: 3, reason: "not of the form Type:name"),
        Bad(name: "empty principals", yaml: "version: 1\nacls:\n  - principals: []\n    permission: allow\n    operations: [Read]\n    resource: {type: topic, name: t}\n",
            line: 3, reason: "'principals' is empty"),
        Bad(name: "bad principal in a list", yaml: "version: 1\nacls:\n  - principals:\n      - User:a\n      - bob\n    permission: allow\n    operations: [Read]\n    resource: {type: topic, name: t}\n",
            line: 5, reason: "'bob'"),
        Bad(name: "bad permission", yaml: "version: 1\nacls:\n  - principal: User:a\n    permission: maybe\n    operations: [Read]\n    resource: {type: topic, name: t}\n",
            line: 4, reason: "permission 'maybe' is not allow or deny"),
        Bad(name: "no permission", yaml: "version: 1\nacls:\n  - principal: User:a\n    operations: [Read]\n    resource: {type: topic, name: t}\n",
            line: 3, reason: "no 'permission'"),
        Bad(name: "unknown operation", yaml: "version: 1\nacls:\n  - principal: User:a\n    permission: allow\n    operations:\n      - Read\n      - Fly\n    resource: {type: topic, name: t}\n",
            line: 7, reason: "unknown operation 'Fly'"),
        Bad(name: "no operations", yaml: "version: 1\nacls:\n  - principal: User:a\n    permission: allow\n    resource: {type: topic, name: t}\n",
            line: 3, reason: "no 'operations'"),
        Bad(name: "empty operations", yaml: "version: 1\nacls:\n  - principal: User:a\n    permission: allow\n    operations: []\n    resource: {type: topic, name: t}\n",
            line: 5, reason: "'operations' is empty"),
        Bad(name: "operation not valid for the type", yaml: "version: 1\nacls:\n  - principal: User:a\n    permission: allow\n    operations:\n      - Read\n      - Write\n    resource: {type: group, name: g}\n",
            line: 7, reason: "operation Write does not apply to group"),
        Bad(name: "no resource", yaml: "version: 1\nacls:\n" + entry, line: 3, reason: "no 'resource'"),
        Bad(name: "unknown resource type", yaml: "version: 1\nacls:\n" + entry + "    resource: {type: broker, name: b}\n",
            line: 6, reason: "unknown resource type 'broker'"),
        Bad(name: "resource without type", yaml: "version: 1\nacls:\n" + entry + "    resource: {name: b}\n", line: 6, reason: "no 'type'"),
        Bad(name: "resource without name", yaml: "version: 1\nacls:\n" + entry + "    resource:\n      type: topic\n", line: 7, reason: "has no 'name'"),
        Bad(name: "empty resource name", yaml: "version: 1\nacls:\n" + entry + "    resource: {type: topic, name: \"\"}\n", line: 6, reason: "name is empty"),
        Bad(name: "bad pattern", yaml: "version: 1\nacls:\n" + entry + "    resource: {type: topic, name: t, pattern: glob}\n", line: 6,
            reason: "pattern 'glob' is not literal or prefixed"),
        Bad(name: "cluster with another name", yaml: "version: 1\nacls:\n  - principal: User:a\n    permission: allow\n    operations: [Create]\n    resource: {type: cluster, name: c1}\n",
            line: 6, reason: "cluster resource is named 'kafka-cluster'"),
        Bad(name: "prefixed cluster", yaml: "version: 1\nacls:\n  - principal: User:a\n    permission: allow\n    operations: [Create]\n    resource: {type: cluster, pattern: prefixed}\n",
            line: 6, reason: "cannot be prefixed"),
        Bad(name: "empty host", yaml: "version: 1\nacls:\n" + entry + "    host: \"\"\n    resource: {type: topic, name: t}\n", line: 6, reason: "host"),
        Bad(name: "host list", yaml: "version: 1\nacls:\n" + entry + "    host: \"10.0.0.1, 10.0.0.2\"\n    resource: {type: topic, name: t}\n",
            line: 6, reason: "not one address"),
        Bad(name: "null value", yaml: "version: 1\nacls:\n  - principal:\n    permission: allow\n    operations: [Read]\n    resource: {type: topic, name: t}\n",
            line: 3, reason: "'principal' has no value"),
        Bad(name: "entry not a mapping", yaml: "version: 1\nacls:\n  - just a string\n", line: 3, reason: "must be a mapping"),
    ]

    @Test(arguments: bad)
    func badFilesNameTheLineAndTheReason(_ bad: Bad) {
        #expect {
            try PolicyFile.parse(bad.yaml, file: "policies/bad.yaml")
        } throws: { error in
            guard let error = error as? PolicyError else { return false }
            let ok = error.file == "policies/bad.yaml" && error.line == bad.line && error.reason.contains(bad.reason)
                && error.description.hasPrefix("policies/bad.yaml:\(bad.line):")
            if !ok { Issue.record("got \(error)") }
            return ok
        }
    }

    // MARK: - Paths and reloads

    final class TempDir {
        let path: String
        init() throws {
            path = NSTemporaryDirectory() + "rampart-policy-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func write(_ name: String, _ text: String) throws {
            // Write then rename, as an operator's deployment should.
            let temporary = path + "/.tmp-\(UUID().uuidString)"
            try text.write(toFile: temporary, atomically: false, encoding: .utf8)
            _ = rename(temporary, path + "/" + name)
        }
        func file(_ name: String) -> String { path + "/" + name }
    }

    static func allow(_ principal: String, topic: String) -> String {
        "version: 1\nacls:\n  - principal: \(principal)\n    permission: allow\n    operations: [Read]\n    resource: {type: topic, name: \(topic)}\n"
    }

    @Test func aDirectoryIsEveryYamlFileInNameOrder() throws {
        let dir = try TempDir()
        try dir.write("b.yml", Self.allow("User:bob", topic: "t2"))
        try dir.write("a.yaml", Self.allow("User:alice", topic: "t1"))
        try dir.write("notes.txt", "not a policy")
        try dir.write(".hidden.yaml", "garbage: [")
        try FileManager.default.createDirectory(atPath: dir.file("sub"), withIntermediateDirectories: true)
        try Self.allow("User:carol", topic: "t3").write(toFile: dir.file("sub/c.yaml"), atomically: true, encoding: .utf8)
        #expect(try PolicyPath.files(at: dir.path) == [dir.file("a.yaml"), dir.file("b.yml")])
        let bindings = try PolicyPath.load(dir.path)
        #expect(bindings.map(\.entry.principal) == [user("alice"), user("bob")])
        #expect(bindings[0].source == .file(path: dir.file("a.yaml"), line: 3))
        #expect(try PolicyPath.load(dir.file("a.yaml")).count == 1)
    }

    @Test func oneBadFileRefusesTheWholeDirectory() throws {
        let dir = try TempDir()
        try dir.write("a.yaml", Self.allow("User:alice", topic: "t1"))
        try dir.write("b.yaml", "version: 1\nacls:\n  - principal: User:bob\n    permission: allow\n")
        #expect {
            try PolicyPath.load(dir.path)
        } throws: { error in
            (error as? PolicyError)?.file == dir.file("b.yaml") && (error as? PolicyError)?.line == 3
        }
        #expect(throws: PolicyError.self) { try PolicyPath.load(dir.file("missing.yaml")) }
        #expect(throws: PolicyError.self) { try PolicyPath.load(dir.file("missing-dir")) }
    }

    @Test func watcherAppliesStableChangesAndKeepsThePolicyOnBadOnes() throws {
        let dir = try TempDir()
        try dir.write("a.yaml", Self.allow("User:alice", topic: "t1"))
        let authorizer = Authorizer(config: AuthorizerConfig())
        let watcher = try PolicyWatcher(path: dir.path, authorizer: authorizer)
        func allowed(_ name: String, _ topic: String) -> Bool {
            authorizer.snapshot.authorize(user(name), host: "h", operation: .read, .topic, topic).isAllowed
        }
        #expect(allowed("alice", "t1"))
        #expect(watcher.poll() == .unchanged)

        // A valid change: seen once (pending), applied when still the same at the next poll.
        try dir.write("a.yaml", Self.allow("User:alice", topic: "t9"))
        #expect(watcher.poll() == .pending)
        #expect(allowed("alice", "t1"))
        #expect(watcher.poll() == .reloaded(aclCount: 1))
        #expect(allowed("alice", "t9") && !allowed("alice", "t1"))

        // An invalid change is refused, counted, and the previous policy stays in force.
        try dir.write("a.yaml", "version: 1\nacls:\n  - principal: alice\n")
        #expect(watcher.poll() == .pending)
        guard case .failed(let error) = watcher.poll() else { Issue.record("the bad file was not refused"); return }
        #expect(error.file == dir.file("a.yaml") && error.line == 3)
        #expect(allowed("alice", "t9"))
        #expect(watcher.reloadCounts == (1, 1))
        // Not retried (nor logged again) until the files change.
        #expect(watcher.poll() == .unchanged)

        // A new file in the directory is a change; fixing the bad file applies both.
        try dir.write("a.yaml", Self.allow("User:alice", topic: "t2"))
        try dir.write("b.yaml", Self.allow("User:bob", topic: "t3"))
        #expect(watcher.poll() == .pending)
        #expect(watcher.poll() == .reloaded(aclCount: 2))
        #expect(allowed("alice", "t2") && allowed("bob", "t3"))

        // Removing a file removes its ACLs; force (SIGHUP) applies at once.
        try FileManager.default.removeItem(atPath: dir.file("b.yaml"))
        #expect(watcher.poll(force: true) == .reloaded(aclCount: 1))
        #expect(!allowed("bob", "t3"))
        #expect(watcher.reloadCounts == (3, 1))
    }

    @Test func watcherRefusesABadPolicyAtStartUp() throws {
        let dir = try TempDir()
        try dir.write("a.yaml", "version: 1\nacls:\n  - principal: User:alice\n    permission: perhaps\n")
        #expect(throws: PolicyError.self) { try PolicyWatcher(path: dir.path, authorizer: Authorizer(config: AuthorizerConfig())) }
    }

    /// The files shipped in `policies/` are valid: the default grants nothing, the example parses.
    @Test func repositoryPoliciesAreValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let policies = root.appendingPathComponent("policies").path
        #expect(try PolicyPath.load(policies).isEmpty)
        let example = try PolicyPath.load(policies + "/examples")
        #expect(example.count > 5)
        let snapshot = AclSnapshot(config: AuthorizerConfig(), fileBindings: example)
        #expect(snapshot.authorize(user("orders-service"), host: "h", operation: .write, .topic, "orders.eu").isAllowed)
        #expect(snapshot.authorize(user("billing"), host: "h", operation: .describe, .topic, "orders.eu").isAllowed)
        #expect(!snapshot.authorize(user("billing"), host: "h", operation: .read, .topic, "orders.audit").isAllowed)
        #expect(!snapshot.authorize(user("billing"), host: "h", operation: .write, .topic, "orders.eu").isAllowed)
    }
}
