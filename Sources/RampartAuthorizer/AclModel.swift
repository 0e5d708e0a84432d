/// Kafka's ACL resource types, with their wire codes (`ResourceType` in the ACL APIs).
public enum AclResourceType: Int8, Sendable, CaseIterable, CustomStringConvertible {
    case topic = 2
    case group = 3
    case cluster = 4
    case transactionalId = 5
    case delegationToken = 6
    case user = 7

    /// Kafka's name (`kafka-acls` output, DescribeAcls): `Topic`, `TransactionalId`, …
    public var kafkaName: String {
        switch self {
        case .topic: "Topic"
        case .group: "Group"
        case .cluster: "Cluster"
        case .transactionalId: "TransactionalId"
        case .delegationToken: "DelegationToken"
        case .user: "User"
        }
    }

    /// The name in policy files: `topic`, `group`, `cluster`, `transactional-id`, `delegation-token`, `user`.
    public var policyName: String {
        switch self {
        case .topic: "topic"
        case .group: "group"
        case .cluster: "cluster"
        case .transactionalId: "transactional-id"
        case .delegationToken: "delegation-token"
        case .user: "user"
        }
    }

    /// Parses a policy name or Kafka's name, case-insensitively (`transactional-id`, `TransactionalId`,
    /// `TRANSACTIONAL_ID`).
    public init?(name: String) {
        let key = normalisedName(name)
        guard let found = Self.allCases.first(where: { normalisedName($0.kafkaName) == key }) else { return nil }
        self = found
    }

    /// The operations an ACL on this resource type may name besides `All` (Kafka's
    /// `AclEntry.supportedOperations`); `authorizedOperations` reports these.
    public var supportedOperations: [AclOperation] {
        switch self {
        case .topic: [.read, .write, .create, .describe, .delete, .alter, .describeConfigs, .alterConfigs]
        case .group: [.read, .describe, .delete]
        case .cluster: [.create, .clusterAction, .describeConfigs, .alterConfigs, .idempotentWrite, .alter, .describe]
        case .transactionalId: [.describe, .write]
        case .delegationToken: [.describe]
        case .user: [.createTokens, .describeTokens]
        }
    }

    /// A dense index 0..<6 for per-type tables.
    var slot: Int { Int(rawValue) - 2 }

    public var description: String { kafkaName }
}

/// Kafka's ACL operations with their wire codes (`AclOperation`). `All` in an ACL matches every
/// operation.
public enum AclOperation: Int8, Sendable, CaseIterable, CustomStringConvertible {
    case all = 2
    case read = 3
    case write = 4
    case create = 5
    case delete = 6
    case alter = 7
    case describe = 8
    case clusterAction = 9
    case describeConfigs = 10
    case alterConfigs = 11
    case idempotentWrite = 12
    case createTokens = 13
    case describeTokens = 14

    /// Kafka's name as `kafka-acls` prints it: `Read`, `IdempotentWrite`, …
    public var kafkaName: String {
        switch self {
        case .all: "All"
        case .read: "Read"
        case .write: "Write"
        case .create: "Create"
        case .delete: "Delete"
        case .alter: "Alter"
        case .describe: "Describe"
        case .clusterAction: "ClusterAction"
        case .describeConfigs: "DescribeConfigs"
        case .alterConfigs: "AlterConfigs"
        case .idempotentWrite: "IdempotentWrite"
        case .createTokens: "CreateTokens"
        case .describeTokens: "DescribeTokens"
        }
    }

    /// Parses an operation name case-insensitively, with or without `_`/`-` (`Read`, `READ`,
    /// `idempotent-write`, `IDEMPOTENT_WRITE`).
    public init?(name: String) {
        let key = normalisedName(name)
        guard let found = Self.allCases.first(where: { normalisedName($0.kafkaName) == key }) else { return nil }
        self = found
    }

    /// The operations an ALLOW of this operation grants (itself, plus Kafka's implied ones: Read, Write,
    /// Delete and Alter imply Describe; AlterConfigs implies DescribeConfigs; All grants everything).
    /// A DENY never implies anything: it covers only itself (or everything, for All).
    public var allowedOperations: [AclOperation] {
        switch self {
        case .all: AclOperation.allCases
        case .read, .write, .delete, .alter: [self, .describe]
        case .alterConfigs: [self, .describeConfigs]
        default: [self]
        }
    }

    /// This operation as a bit (1 << code), the encoding of Kafka's `authorizedOperations` fields.
    public var bit: Int32 { 1 << Int32(rawValue) }

    public var description: String { kafkaName }
}

/// ALLOW or DENY, with Kafka's wire codes (`AclPermissionType`).
public enum AclPermissionType: Int8, Sendable, CaseIterable, CustomStringConvertible {
    case deny = 2
    case allow = 3

    public var kafkaName: String { self == .allow ? "Allow" : "Deny" }
    public var description: String { kafkaName }
}

/// How an ACL's resource name matches, with Kafka's wire codes (`PatternType`): LITERAL (the exact
/// name, or every name when it is `*`) or PREFIXED (every name that starts with it).
public enum AclPatternType: Int8, Sendable, CaseIterable, CustomStringConvertible {
    case literal = 3
    case prefixed = 4

    public var kafkaName: String { self == .literal ? "LITERAL" : "PREFIXED" }
    public var description: String { kafkaName }
}

/// The resources an ACL applies to: a type, a name and how the name matches.
public struct ResourcePattern: Hashable, Sendable, CustomStringConvertible {
    public var resourceType: AclResourceType
    public var name: String
    public var patternType: AclPatternType

    public init(_ resourceType: AclResourceType, _ name: String, _ patternType: AclPatternType = .literal) {
        self.resourceType = resourceType
        self.name = name
        self.patternType = patternType
    }

    /// The name of the one Cluster resource.
    public static let clusterName = "kafka-cluster"
    /// A LITERAL name that matches every resource of its type.
    public static let wildcardName = "*"

    /// The Cluster resource.
    public static let cluster = ResourcePattern(.cluster, clusterName)

    /// Whether this pattern covers the resource `name` of the same type.
    public func matches(_ name: String) -> Bool {
        switch patternType {
        case .literal: self.name == Self.wildcardName || self.name == name
        case .prefixed: name.utf8.starts(with: self.name.utf8)
        }
    }

    public var description: String { "\(resourceType.kafkaName):\(patternType.kafkaName):\(name)" }
}

/// Who may or may not do what from where: Kafka's `AccessControlEntry`.
public struct AccessControlEntry: Hashable, Sendable, CustomStringConvertible {
    public var principal: KafkaPrincipal
    /// A client address (exact), or `*` for any host.
    public var host: String
    public var operation: AclOperation
    public var permission: AclPermissionType

    public init(principal: KafkaPrincipal, host: String = AccessControlEntry.anyHost, operation: AclOperation, permission: AclPermissionType) {
        self.principal = principal
        self.host = host
        self.operation = operation
        self.permission = permission
    }

    /// The host of an ACL that applies from any address.
    public static let anyHost = "*"

    public var description: String {
        "(principal=\(principal), host=\(host), operation=\(operation.kafkaName), permissionType=\(permission.kafkaName))"
    }
}

/// Where an ACL comes from: a policy file (file and line, for explain and audit) or the metadata store
/// (created over CreateAcls or `rampart acl add`).
public enum AclSource: Hashable, Sendable, CustomStringConvertible {
    case file(path: String, line: Int)
    case dynamic

    public var description: String {
        switch self {
        case .file(let path, let line): "\(path):\(line)"
        case .dynamic: "dynamic ACL"
        }
    }
}

/// One ACL: a resource pattern, an entry, and where it was defined.
public struct AclBinding: Hashable, Sendable, CustomStringConvertible {
    public var pattern: ResourcePattern
    public var entry: AccessControlEntry
    public var source: AclSource

    public init(pattern: ResourcePattern, entry: AccessControlEntry, source: AclSource = .dynamic) {
        self.pattern = pattern
        self.entry = entry
        self.source = source
    }

    /// Kafka's rules for a binding: names and hosts are not empty, the Cluster resource is LITERAL
    /// `kafka-cluster`, and the operation is one the resource type supports (or All). Returns what is
    /// wrong, or nil.
    public func validationProblem() -> String? {
        if pattern.name.isEmpty { return "the \(pattern.resourceType.policyName) name is empty" }
        if entry.host.isEmpty { return "the host is empty (use \"*\" for any host)" }
        if entry.principal.type.isEmpty || entry.principal.name.isEmpty { return "principal '\(entry.principal)' is not of the form Type:name" }
        if pattern.resourceType == .cluster && (pattern.name != ResourcePattern.clusterName || pattern.patternType != .literal) {
            return "the cluster resource is the literal name '\(ResourcePattern.clusterName)', not \(pattern.patternType.kafkaName.lowercased()) '\(pattern.name)'"
        }
        if entry.operation != .all && !pattern.resourceType.supportedOperations.contains(entry.operation) {
            let supported = (pattern.resourceType.supportedOperations.map(\.kafkaName) + ["All"]).joined(separator: ", ")
            return "operation \(entry.operation.kafkaName) does not apply to \(pattern.resourceType.policyName) resources (valid: \(supported))"
        }
        return nil
    }

    public var description: String { "\(pattern) \(entry) from \(source)" }

    /// The ACL in words, as the audit log's `rule` and `rampart policy diff` print it:
    /// `ALLOW Read for User:alice from * on Topic:LITERAL:orders (policies/a.yaml:3)`.
    public var summary: String {
        "\(entry.permission.kafkaName.uppercased()) \(entry.operation.kafkaName) for \(entry.principal) from \(entry.host) on \(pattern) (\(source))"
    }
}

/// Lower-cased without `_`, `-` and spaces, for forgiving name matching.
func normalisedName(_ name: String) -> String {
    String(name.lowercased().unicodeScalars.filter { $0 != "_" && $0 != "-" && $0 != " " })
}
