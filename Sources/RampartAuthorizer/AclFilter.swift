/// Kafka's `AclBindingFilter`, as DescribeAcls and DeleteAcls carry it: every field is either a value
/// to match exactly or "any". The resource pattern type adds MATCH (every pattern that applies to the
/// named resource: the LITERAL name, the LITERAL `*`, and every PREFIXED prefix of it) and ANY (any
/// pattern type, the name matched exactly).
public struct AclBindingFilter: Hashable, Sendable, CustomStringConvertible {
    /// Kafka's `PatternType` filter values (wire codes).
    public enum PatternFilter: Int8, Sendable, Hashable {
        case any = 1
        case match = 2
        case literal = 3
        case prefixed = 4
    }

    /// nil: any resource type.
    public var resourceType: AclResourceType?
    /// nil: any name.
    public var resourceName: String?
    public var patternType: PatternFilter
    /// nil: any principal (compared as the text `Type:name`).
    public var principal: String?
    /// nil: any host.
    public var host: String?
    /// nil: any operation.
    public var operation: AclOperation?
    /// nil: any permission.
    public var permission: AclPermissionType?

    public init(resourceType: AclResourceType? = nil, resourceName: String? = nil, patternType: PatternFilter = .any,
                principal: String? = nil, host: String? = nil, operation: AclOperation? = nil, permission: AclPermissionType? = nil) {
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.patternType = patternType
        self.principal = principal
        self.host = host
        self.operation = operation
        self.permission = permission
    }

    /// A filter from the wire codes of DescribeAcls/DeleteAcls (1 = ANY for the enumerations, a null
    /// string = any). Codes that are UNKNOWN (0) or not defined are refused, as Kafka refuses them
    /// (INVALID_REQUEST), with what was wrong.
    public init(resourceType: Int8, resourceName: String?, patternType: Int8, principal: String?, host: String?,
                operation: Int8, permission: Int8) throws(AclValidationError) {
        var filter = AclBindingFilter()
        if resourceType != 1 {
            guard let type = AclResourceType(rawValue: resourceType) else {
                throw AclValidationError("resource type \(resourceType) is not a resource type (ANY 1, Topic 2, Group 3, Cluster 4, TransactionalId 5, DelegationToken 6, User 7)")
            }
            filter.resourceType = type
        }
        guard let pattern = PatternFilter(rawValue: patternType) else {
            throw AclValidationError("pattern type \(patternType) is not a pattern type filter (ANY 1, MATCH 2, LITERAL 3, PREFIXED 4)")
        }
        filter.patternType = pattern
        filter.resourceName = resourceName
        filter.principal = principal
        filter.host = host
        if operation != 1 {
            guard let op = AclOperation(rawValue: operation) else {
                throw AclValidationError("operation \(operation) is not an ACL operation (ANY 1, All 2 … DescribeTokens 14)")
            }
            filter.operation = op
        }
        if permission != 1 {
            guard let perm = AclPermissionType(rawValue: permission) else {
                throw AclValidationError("permission type \(permission) is not a permission type (ANY 1, DENY 2, ALLOW 3)")
            }
            filter.permission = perm
        }
        self = filter
    }

    /// Whether the filter's resource part matches `pattern`.
    public func matches(_ pattern: ResourcePattern) -> Bool {
        if let resourceType, resourceType != pattern.resourceType { return false }
        switch patternType {
        case .match:
            // Every pattern that applies to the named resource: the authorizer's own matching.
            return resourceName.map(pattern.matches) ?? true
        case .literal, .prefixed:
            guard pattern.patternType.rawValue == patternType.rawValue else { return false }
            return resourceName.map { $0 == pattern.name } ?? true
        case .any:
            return resourceName.map { $0 == pattern.name } ?? true
        }
    }

    /// Whether the filter's entry part matches `entry`.
    public func matches(_ entry: AccessControlEntry) -> Bool {
        if let principal, principal != entry.principal.description { return false }
        if let host, host != entry.host { return false }
        if let operation, operation != entry.operation { return false }
        if let permission, permission != entry.permission { return false }
        return true
    }

    /// Whether the filter matches the binding.
    public func matches(_ binding: AclBinding) -> Bool { matches(binding.pattern) && matches(binding.entry) }

    public var description: String {
        "(resourceType=\(resourceType?.kafkaName ?? "ANY"), name=\(resourceName ?? "<any>"), patternType=\(patternType), "
            + "principal=\(principal ?? "<any>"), host=\(host ?? "<any>"), operation=\(operation?.kafkaName ?? "ANY"), "
            + "permissionType=\(permission?.kafkaName ?? "ANY"))"
    }
}

extension AclBinding {
    /// A binding from the wire codes of CreateAcls, validated as Kafka validates a new ACL: known
    /// resource, pattern (LITERAL or PREFIXED, never ANY/MATCH), operation and permission types (not
    /// UNKNOWN or ANY), a `Type:name` principal, a non-empty name and host, the Cluster resource named
    /// `kafka-cluster`, an operation the resource type supports, and no PREFIXED `*` (a PREFIXED `*`
    /// would only match names starting with an asterisk; the LITERAL `*` means every resource).
    public init(resourceType: Int8, resourceName: String, patternType: Int8, principal: String, host: String,
                operation: Int8, permission: Int8, source: AclSource = .dynamic) throws(AclValidationError) {
        guard let type = AclResourceType(rawValue: resourceType) else {
            throw AclValidationError("resource type \(resourceType) is invalid for an ACL (Topic 2, Group 3, Cluster 4, TransactionalId 5, DelegationToken 6, User 7)")
        }
        guard let pattern = AclPatternType(rawValue: patternType) else {
            throw AclValidationError("pattern type \(patternType) is invalid for an ACL (LITERAL 3 or PREFIXED 4)")
        }
        guard let op = AclOperation(rawValue: operation) else {
            throw AclValidationError("operation \(operation) is invalid for an ACL (All 2 … DescribeTokens 14)")
        }
        guard let perm = AclPermissionType(rawValue: permission) else {
            throw AclValidationError("permission type \(permission) is invalid for an ACL (DENY 2 or ALLOW 3)")
        }
        let parsed = try KafkaPrincipal(parsing: principal)
        if pattern == .prefixed && resourceName == ResourcePattern.wildcardName {
            throw AclValidationError("a PREFIXED '*' matches only names that start with '*'; use the LITERAL name '*' for every \(type.policyName)")
        }
        let binding = AclBinding(pattern: ResourcePattern(type, resourceName, pattern),
                                 entry: AccessControlEntry(principal: parsed, host: host, operation: op, permission: perm), source: source)
        if let problem = binding.validationProblem() { throw AclValidationError(problem) }
        self = binding
    }

    /// The same ACL without its source: two bindings are the same ACL when their patterns and entries
    /// are equal, wherever they were defined.
    public var rule: AclRuleKey { AclRuleKey(pattern: pattern, entry: entry) }
}

/// An ACL's identity (pattern and entry), without where it was defined.
public struct AclRuleKey: Hashable, Sendable {
    public var pattern: ResourcePattern
    public var entry: AccessControlEntry
}
