import ArgumentParser
import Foundation
import KafkaClient
import RampartAuthorizer

/// `rampart acl add|remove|list`: kafka-acls over CreateAcls, DeleteAcls and DescribeAcls, with its
/// flags and its `--producer`/`--consumer` convenience sets.
struct AclCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acl",
        abstract: "Add, remove and list dynamic ACLs (like kafka-acls); policy-file ACLs are listed too.",
        subcommands: [Add.self, Remove.self, List.self]
    )

    /// The resources and entries, as kafka-acls names them.
    struct AclOptions: ParsableArguments {
        @Option(name: .customLong("allow-principal"), help: "A principal (User:name) to allow (repeatable).") var allowPrincipals: [String] = []
        @Option(name: .customLong("deny-principal"), help: "A principal (User:name) to deny (repeatable).") var denyPrincipals: [String] = []
        @Option(name: .customLong("allow-host"), help: "A host the allowed principals may connect from (repeatable; default *).") var allowHosts: [String] = []
        @Option(name: .customLong("deny-host"), help: "A host the denied principals are denied from (repeatable; default *).") var denyHosts: [String] = []
        @Option(name: .customLong("operation"), help: "An operation: Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, CreateTokens, DescribeTokens, All (repeatable; default All).")
        var operations: [String] = []
        @Option(name: .customLong("topic"), help: "A topic (repeatable; * for every topic).") var topics: [String] = []
        @Option(name: .customLong("group"), help: "A consumer group (repeatable; * for every group).") var groups: [String] = []
        @Flag(name: .customLong("cluster"), help: "The cluster resource.") var cluster = false
        @Option(name: .customLong("transactional-id"), help: "A transactional id (repeatable; * for every one).") var transactionalIds: [String] = []
        @Option(name: .customLong("resource-pattern-type"), help: "LITERAL or PREFIXED (add); also ANY or MATCH (remove, list). Default LITERAL (list: ANY).")
        var resourcePatternType: String?
        @Flag(name: .customLong("producer"), help: "Convenience: Write, Describe, Create on the topics (and Write, Describe on --transactional-id; IdempotentWrite on the cluster with --idempotent).")
        var producer = false
        @Flag(name: .customLong("idempotent"), help: "With --producer: also IdempotentWrite on the cluster.") var idempotent = false
        @Flag(name: .customLong("consumer"), help: "Convenience: Read, Describe on the topics and Read on the groups (needs --group).") var consumer = false

        /// The resource type code and name of every resource named.
        func resources() -> [(type: AclResourceType, name: String)] {
            topics.map { (.topic, $0) } + groups.map { (.group, $0) } + transactionalIds.map { (.transactionalId, $0) }
                + (cluster ? [(.cluster, ResourcePattern.clusterName)] : [])
        }

        func parsedOperations() throws -> [AclOperation] {
            try operations.map { name in
                guard let op = AclOperation(name: name) else { throw ValidationError("--operation \(name) is not an ACL operation") }
                return op
            }
        }

        /// The pattern type code: LITERAL 3, PREFIXED 4, and for filters ANY 1, MATCH 2.
        func patternCode(filter: Bool, default fallback: Int8) throws -> Int8 {
            guard let resourcePatternType else { return fallback }
            switch resourcePatternType.uppercased() {
            case "LITERAL": return 3
            case "PREFIXED": return 4
            case "ANY" where filter: return 1
            case "MATCH" where filter: return 2
            default: throw ValidationError("--resource-pattern-type \(resourcePatternType) is not valid here (LITERAL, PREFIXED\(filter ? ", ANY, MATCH" : ""))")
            }
        }

        /// (resource, operations) pairs: the convenience sets or `--operation` on every resource.
        func operationsByResource() throws -> [(type: AclResourceType, name: String, operations: [AclOperation])] {
            if producer || consumer {
                if !operations.isEmpty { throw ValidationError("--operation cannot be combined with --producer or --consumer") }
                var result: [(AclResourceType, String, [AclOperation])] = []
                if producer {
                    if topics.isEmpty { throw ValidationError("--producer needs --topic") }
                    result += topics.map { (.topic, $0, [.write, .describe, .create]) }
                    result += transactionalIds.map { (.transactionalId, $0, [.write, .describe]) }
                    if idempotent { result.append((.cluster, ResourcePattern.clusterName, [.idempotentWrite])) }
                }
                if consumer {
                    if topics.isEmpty || groups.isEmpty { throw ValidationError("--consumer needs --topic and --group") }
                    result += topics.map { (.topic, $0, [.read, .describe]) }
                    result += groups.map { (.group, $0, [.read]) }
                }
                return result
            }
            let ops = try parsedOperations()
            return resources().map { ($0.type, $0.name, ops.isEmpty ? [.all] : ops) }
        }

        /// Every (principal, host, permission) the flags name.
        func entries() -> [(principal: String, host: String, permission: AclPermissionType)] {
            let allowHosts = self.allowHosts.isEmpty ? [AccessControlEntry.anyHost] : self.allowHosts
            let denyHosts = self.denyHosts.isEmpty ? [AccessControlEntry.anyHost] : self.denyHosts
            return allowPrincipals.flatMap { p in allowHosts.map { (p, $0, AclPermissionType.allow) } }
                + denyPrincipals.flatMap { p in denyHosts.map { (p, $0, AclPermissionType.deny) } }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add ACLs (kafka-acls --add).")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var acl: AclOptions

        func run() async throws {
            let pattern = try acl.patternCode(filter: false, default: AclPatternType.literal.rawValue)
            let entries = acl.entries()
            if entries.isEmpty { throw ValidationError("give --allow-principal or --deny-principal") }
            let byResource = try acl.operationsByResource()
            if byResource.isEmpty { throw ValidationError("give a resource: --topic, --group, --cluster or --transactional-id") }
            var acls: [AclDescription] = []
            for resource in byResource {
                let resourcePattern = resource.type == .cluster ? AclPatternType.literal.rawValue : pattern
                for entry in entries {
                    for op in resource.operations {
                        acls.append(AclDescription(resourceType: resource.type.rawValue, resourceName: resource.name, patternType: resourcePattern,
                                                   principal: entry.principal, host: entry.host, operation: op.rawValue,
                                                   permission: entry.permission.rawValue))
                    }
                }
            }
            try await runClientCommand(connection) { cluster in
                try await KafkaAdmin(cluster: cluster).createAcls(acls)
                for (pattern, group) in groupedByPattern(acls) {
                    print("Adding ACLs for resource `\(pattern)`: ")
                    for acl in group { print(" \t\(entryText(acl))") }
                    print("")
                }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove ACLs (kafka-acls --remove); without principals, every ACL on the resources.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var acl: AclOptions
        @Flag(name: .customLong("force"), help: "Do not ask for confirmation.") var force = false

        func run() async throws {
            let pattern = try acl.patternCode(filter: true, default: AclPatternType.literal.rawValue)
            let byResource = try acl.operationsByResource()
            if byResource.isEmpty { throw ValidationError("give a resource: --topic, --group, --cluster or --transactional-id") }
            let entries = acl.entries()
            var filters: [AclFilterDescription] = []
            for resource in byResource {
                let resourcePattern = resource.type == .cluster ? AclPatternType.literal.rawValue : pattern
                let base = AclFilterDescription(resourceType: resource.type.rawValue, resourceName: resource.name, patternType: resourcePattern)
                if entries.isEmpty && acl.operations.isEmpty && !acl.producer && !acl.consumer {
                    filters.append(base)
                    continue
                }
                for entry in entries.isEmpty ? [(principal: nil, host: nil, permission: nil)] : entries.map({ ($0.principal, $0.host, $0.permission) }) as [(principal: String?, host: String?, permission: AclPermissionType?)] {
                    for op in resource.operations {
                        var filter = base
                        filter.principal = entry.principal
                        filter.host = entry.host
                        filter.permission = entry.permission?.rawValue ?? 1
                        filter.operation = op.rawValue
                        filters.append(filter)
                    }
                }
            }
            if !force {
                print("Are you sure you want to remove ACLs matching \(filters.count) filter\(filters.count == 1 ? "" : "s") on \(byResource.map { "\($0.type.kafkaName):\($0.name)" }.joined(separator: ", "))? (y/n)")
                guard readLine()?.lowercased().hasPrefix("y") == true else {
                    print("Nothing removed.")
                    return
                }
            }
            try await runClientCommand(connection) { cluster in
                let results = try await KafkaAdmin(cluster: cluster).deleteAcls(filters)
                let deleted = results.flatMap(\.deleted)
                for (pattern, group) in groupedByPattern(deleted) {
                    print("Removed ACLs for resource `\(pattern)`: ")
                    for acl in group { print(" \t\(entryText(acl))") }
                    print("")
                }
                let refused = results.flatMap(\.refused)
                for refusal in refused { printError("not removed: \(refusal.reason)") }
                if !refused.isEmpty { throw ExitCode(1) }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List ACLs (kafka-acls --list): those on the resources given, or all.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var acl: AclOptions
        @Option(name: .customLong("principal"), help: "Only ACLs of this principal.") var principal: String?

        func run() async throws {
            let pattern = try acl.patternCode(filter: true, default: 1)
            let resources = acl.resources()
            let filters = resources.isEmpty
                ? [AclFilterDescription(principal: principal)]
                : resources.map { AclFilterDescription(resourceType: $0.type.rawValue, resourceName: $0.name,
                                                       patternType: $0.type == .cluster ? 1 : pattern, principal: principal) }
            try await runClientCommand(connection) { cluster in
                let admin = KafkaAdmin(cluster: cluster)
                var all: [AclDescription] = []
                for filter in filters {
                    for acl in try await admin.describeAcls(filter) where !all.contains(acl) { all.append(acl) }
                }
                for (pattern, group) in groupedByPattern(all) {
                    print("Current ACLs for resource `\(pattern)`: ")
                    for acl in group { print(" \t\(entryText(acl))") }
                    print("")
                }
            }
        }
    }
}

/// `ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)`, as kafka-acls prints it.
private func patternText(_ acl: AclDescription) -> String {
    let type = AclResourceType(rawValue: acl.resourceType)?.kafkaName ?? "UNKNOWN(\(acl.resourceType))"
    let pattern = AclPatternType(rawValue: acl.patternType)?.kafkaName ?? "UNKNOWN(\(acl.patternType))"
    return "ResourcePattern(resourceType=\(snake(type)), name=\(acl.resourceName), patternType=\(pattern))"
}

/// `(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)`.
private func entryText(_ acl: AclDescription) -> String {
    let op = AclOperation(rawValue: acl.operation)?.kafkaName ?? "UNKNOWN(\(acl.operation))"
    let permission = AclPermissionType(rawValue: acl.permission)?.kafkaName ?? "UNKNOWN(\(acl.permission))"
    return "(principal=\(acl.principal), host=\(acl.host), operation=\(snake(op)), permissionType=\(permission.uppercased()))"
}

/// `TransactionalId` → `TRANSACTIONAL_ID`, as Kafka's enum names.
private func snake(_ name: String) -> String {
    var out = ""
    for (i, c) in name.enumerated() {
        if c.isUppercase && i > 0 { out.append("_") }
        out.append(c)
    }
    return out.uppercased()
}

private func groupedByPattern(_ acls: [AclDescription]) -> [(String, [AclDescription])] {
    var order: [String] = []
    var groups: [String: [AclDescription]] = [:]
    for acl in acls {
        let key = patternText(acl)
        if groups[key] == nil { order.append(key) }
        groups[key, default: []].append(acl)
    }
    return order.map { ($0, groups[$0]!) }
}
