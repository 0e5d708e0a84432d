import KafkaClient
import RampartAuthorizer

/// `rampart policy explain --bootstrap-server`: a running broker's view of one resource, evaluated here
/// with the broker's own code (`AclSnapshot`). The ACLs come from DescribeAcls with a MATCH filter on
/// the resource (every LITERAL, wildcard and PREFIXED ACL that applies to it, from policy files and
/// dynamic alike); `super.users`, `allow.everyone.if.no.acl.found` and the authorizer switches from
/// DescribeConfigs of the broker. DescribeAcls carries no origin, so a deciding ACL is named as the
/// broker's (`AclSource.broker`), not by file:line.
enum OnlineExplain {
    /// The broker settings besides the ACLs that decide (read with DescribeConfigs).
    static let settingKeys = ["super.users", "allow.everyone.if.no.acl.found", "rampart.authorizer.enabled", "rampart.authorizer.mode"]

    /// The snapshot to explain with, and notes on what it could not know or what differs from the broker.
    static func snapshot(cluster: KafkaCluster, bootstrap: String, _ type: AclResourceType, _ name: String,
                         superUsers: [KafkaPrincipal]?) async throws -> (snapshot: AclSnapshot, notes: [String]) {
        let admin = KafkaAdmin(cluster: cluster)
        var notes: [String] = []
        let described = try await admin.describeAcls(AclFilterDescription(resourceType: type.rawValue, resourceName: name, patternType: 2))
        var bindings: [AclBinding] = []
        for acl in described {
            guard let resourceType = AclResourceType(rawValue: acl.resourceType), let patternType = AclPatternType(rawValue: acl.patternType),
                  let operation = AclOperation(rawValue: acl.operation), let permission = AclPermissionType(rawValue: acl.permission),
                  let principal = try? KafkaPrincipal(parsing: acl.principal)
            else {
                notes.append("ignored an ACL the broker described with codes this client does not know: \(acl)")
                continue
            }
            bindings.append(AclBinding(pattern: ResourcePattern(resourceType, acl.resourceName, patternType),
                                       entry: AccessControlEntry(principal: principal, host: acl.host, operation: operation, permission: permission),
                                       source: .broker(bootstrap)))
        }

        var config = AuthorizerConfig()
        do {
            let metadata = try await cluster.currentSnapshot()
            let node = metadata.brokers[metadata.controllerId] != nil ? metadata.controllerId : (metadata.brokers.keys.min() ?? metadata.controllerId)
            let entries = try await admin.describeConfigs(.broker(node), keys: settingKeys)
            var values: [String: String] = [:]
            for entry in entries { if let value = entry.value { values[entry.name] = value } }
            config.superUsers = try AuthorizerConfig.parseSuperUsers(values["super.users"] ?? "")
            config.allowEveryoneIfNoAclFound = values["allow.everyone.if.no.acl.found"]?.lowercased() == "true"
            config.enabled = values["rampart.authorizer.enabled"]?.lowercased() != "false"
            config.shadow = values["rampart.authorizer.mode"]?.lowercased() == "shadow"
        } catch {
            notes.append("the broker's super.users and authorizer settings are unknown (DescribeConfigs of the broker needs DescribeConfigs on the Cluster: \(error)); evaluated as if no principal were a super user, with Kafka's defaults")
        }
        if let superUsers {
            config.superUsers = superUsers
            notes.append("super.users as given with --super-users, not the broker's")
        }
        if config.shadow {
            notes.append("the broker runs rampart.authorizer.mode=shadow: a DENIED request is audited but served")
        }
        return (AclSnapshot(config: config, dynamicBindings: bindings), notes)
    }

    /// The note for a decision made by an ACL: where to find its file:line.
    static let originNote = "DescribeAcls does not say whether an ACL comes from a policy file or was created dynamically; `rampart policy explain --policy DIR` on the broker's policy files names the file and line, `rampart acl list` lists the ACLs"
}
