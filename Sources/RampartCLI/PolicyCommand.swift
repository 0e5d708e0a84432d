import ArgumentParser
import Foundation
import RampartAuthorizer

/// `rampart policy`: offline tools for ACL policy files (`rampart.acl.policy.path`).
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check ACL policy files and explain decisions, offline.",
        subcommands: [Check.self, Explain.self, Test.self, Diff.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a policy file or directory (as the broker loads it) and lint it.",
            discussion: """
                Exit status 1 when the policy does not load (file:line: reason). Warnings (file:line: warning: …) \
                flag rules that are valid but suspicious: a PREFIXED '*', duplicate rules, principal case mismatches \
                (user:alice, User:Alice next to User:alice), hosts that are not addresses, an ALLOW that a DENY always \
                overrides. With --strict, warnings also make the exit status 1.
                """)
        @Argument(help: "A policy file, or a directory of *.yaml/*.yml files.") var path: String
        @Flag(help: "Fail (exit status 1) on warnings too.") var strict = false

        func run() async throws {
            let bindings: [AclBinding]
            do {
                bindings = try PolicyPath.load(path)
            } catch {
                printError("\(error)")
                throw ExitCode(1)
            }
            let warnings = PolicyLint.warnings(bindings)
            for warning in warnings { print(warning) }
            let files = (try? PolicyPath.files(at: path).count) ?? 0
            let fingerprint = AclSnapshot(config: AuthorizerConfig(), fileBindings: bindings).fingerprint
            print("\(path): \(bindings.count) ACL\(bindings.count == 1 ? "" : "s") in \(files) file\(files == 1 ? "" : "s"), \(warnings.count) warning\(warnings.count == 1 ? "" : "s"), fingerprint \(fingerprint)")
            if strict && !warnings.isEmpty { throw ExitCode(1) }
        }
    }

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Whether a principal may perform an operation on a resource under a policy, and which rule decides.")
        @Option(help: "The principal, e.g. User:alice.") var principal: String
        @Option(help: "The operation: Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, CreateTokens, DescribeTokens.")
        var operation: String
        @Option(help: "A topic.") var topic: String?
        @Option(help: "A consumer group.") var group: String?
        @Flag(help: "The cluster.") var cluster = false
        @Option(name: .customLong("transactional-id"), help: "A transactional id.") var transactionalId: String?
        @Option(help: "The client's address (default: any address an ACL with host \"*\" covers).") var host: String = "0.0.0.0"
        @Option(help: "The policy file or directory.") var policy: String
        @Option(name: .customLong("super-users"), help: "super.users, as in server.properties (;-separated).") var superUsers: String = ""

        func run() async throws {
            let resources: [(AclResourceType, String)] = [topic.map { (.topic, $0) }, group.map { (.group, $0) },
                                                          cluster ? (.cluster, ResourcePattern.clusterName) : nil,
                                                          transactionalId.map { (.transactionalId, $0) }].compactMap { $0 }
            guard resources.count == 1, let (type, name) = resources.first else {
                throw ValidationError("give exactly one of --topic, --group, --cluster, --transactional-id")
            }
            guard let op = AclOperation(name: operation), op != .all else {
                throw ValidationError("--operation \(operation) is not an operation a request checks")
            }
            let who: KafkaPrincipal
            let config: AuthorizerConfig
            do {
                who = try KafkaPrincipal(parsing: principal)
                config = AuthorizerConfig(superUsers: try AuthorizerConfig.parseSuperUsers(superUsers))
            } catch {
                throw ValidationError("\(error)")
            }
            let bindings: [AclBinding]
            do {
                bindings = try PolicyPath.load(policy)
            } catch {
                printError("\(error)")
                throw ExitCode(1)
            }
            let explanation = AclSnapshot(config: config, fileBindings: bindings).explain(who, host: host, operation: op, type, name)
            print(explanation)
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run assertions {principal, operation, resource, host, expect} against a policy; exit 1 on any mismatch.")
        @Argument(help: "The fixtures file (YAML: policy, super-users, tests).") var fixtures: String
        @Option(help: "The policy file or directory (default: the fixtures' `policy`).") var policy: String?

        func run() async throws {
            let suite: PolicyFixtures
            let bindings: [AclBinding]
            let config: AuthorizerConfig
            do {
                suite = try PolicyFixtures(file: fixtures)
                guard let path = policy ?? suite.policy else { throw ValidationError("no policy: give --policy or `policy:` in \(fixtures)") }
                bindings = try PolicyPath.load(path)
                config = AuthorizerConfig(superUsers: try AuthorizerConfig.parseSuperUsers(suite.superUsers.joined(separator: ";")))
            } catch let error as ValidationError {
                throw error
            } catch {
                printError("\(error)")
                throw ExitCode(1)
            }
            let snapshot = AclSnapshot(config: config, fileBindings: bindings)
            var failures = 0
            for (index, test) in suite.cases.enumerated() {
                let (explanation, failure) = PolicyFixtures.check(test, against: snapshot)
                let what = explanation.map(\.description) ?? "\(test.principal) \(test.operation) \(test.resource.type) '\(test.resource.name ?? "")'"
                if let failure {
                    failures += 1
                    print("FAIL test \(index + 1): \(failure): \(what)")
                } else {
                    print("ok   test \(index + 1): \(what)")
                }
            }
            print("\(suite.cases.count - failures) passed, \(failures) failed")
            if failures > 0 { throw ExitCode(1) }
        }
    }

    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What changing a policy from OLD to NEW grants and revokes (rules added and removed, by permission).",
            discussion: "A rule is a resource pattern with principal, host, operation and permission; moving it between files or lines is not a change.")
        @Argument(help: "The policy in force (file or directory).") var old: String
        @Argument(help: "The proposed policy (file or directory).") var new: String

        func run() async throws {
            let before: [AclBinding], after: [AclBinding]
            do {
                before = try PolicyPath.load(old)
                after = try PolicyPath.load(new)
            } catch {
                printError("\(error)")
                throw ExitCode(1)
            }
            let oldRules = Set(before.map(\.rule)), newRules = Set(after.map(\.rule))
            let added = Self.unique(after.filter { !oldRules.contains($0.rule) })
            let removed = Self.unique(before.filter { !newRules.contains($0.rule) })
            func show(_ title: String, _ bindings: [AclBinding]) {
                guard !bindings.isEmpty else { return }
                print(title)
                for binding in bindings { print("  \(binding.summary)") }
            }
            show("grants (ALLOW added):", added.filter { $0.entry.permission == .allow })
            show("revokes (ALLOW removed):", removed.filter { $0.entry.permission == .allow })
            show("revokes (DENY added):", added.filter { $0.entry.permission == .deny })
            show("grants back (DENY removed):", removed.filter { $0.entry.permission == .deny })
            if added.isEmpty && removed.isEmpty { print("no change in what the policy grants") }
            print("\(added.count) rule\(added.count == 1 ? "" : "s") added, \(removed.count) removed")
        }

        private static func unique(_ bindings: [AclBinding]) -> [AclBinding] {
            var seen = Set<AclRuleKey>()
            return bindings.filter { seen.insert($0.rule).inserted }
        }
    }
}
