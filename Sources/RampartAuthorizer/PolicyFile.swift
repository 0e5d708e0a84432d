import Yams

/// Why a policy file was refused: the file, the line (and column) of the offending node when known,
/// and the reason. A refused file is never partly applied.
public struct PolicyError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    public var line: Int?
    public var column: Int?
    public var reason: String

    public init(file: String, line: Int? = nil, column: Int? = nil, reason: String) {
        self.file = file
        self.line = line
        self.column = column
        self.reason = reason
    }

    /// `file:line:column: reason`, or `file: reason` when no position is known.
    public var description: String {
        guard let line else { return "\(file): \(reason)" }
        return "\(file):\(line)\(column.map { ":\($0)" } ?? ""): \(reason)"
    }
}

/// A policy file: YAML declaring ACLs.
///
/// ```yaml
/// version: 1
/// acls:
///   - principal: User:alice            # or principals: [User:alice, User:bob]
///     host: "*"                        # optional, default "*"
///     permission: allow                # allow | deny
///     operations: [Write, Describe]
///     resource: {type: topic, name: "orders.", pattern: prefixed}   # pattern defaults to literal
/// ```
/// Resource types: topic, group, cluster (name optional, always `kafka-cluster`), transactional-id,
/// delegation-token, user. Operations are Kafka's (Read, Write, Create, Delete, Alter, Describe,
/// ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, CreateTokens, DescribeTokens, All),
/// case-insensitive. Unknown keys are errors (a misspelt key must not silently drop a rule). An
/// empty file (or one of comments only) declares no ACLs.
public enum PolicyFile {
    /// The `version` this build reads.
    public static let version = 1

    /// Parses and validates one policy document; `file` names it in errors and in the ACLs' sources.
    /// Each principal × operation of an entry becomes one ACL whose source is the entry's line.
    public static func parse(_ text: String, file: String) throws(PolicyError) -> [AclBinding] {
        let reader = PolicyReader(file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw reader.yamlError(error)
        } catch {
            throw PolicyError(file: file, reason: "not valid YAML: \(error)")
        }
        guard let root else { return [] }
        return try reader.document(root)
    }
}

/// Walks the YAML tree of one file, turning problems into `PolicyError`s at the node's position.
private struct PolicyReader {
    let file: String

    func failure(_ node: Node?, _ reason: String) -> PolicyError {
        PolicyError(file: file, line: node?.mark?.line, column: node?.mark?.column, reason: reason)
    }

    func yamlError(_ error: YamlError) -> PolicyError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            var reason = "not valid YAML: \(context.map { "\($0.text) " } ?? "")\(problem)"
            if reason.contains("alias") || reason.contains("anchor") {
                reason += " (a bare * starts a YAML alias: quote it, e.g. host: \"*\")"
            }
            return PolicyError(file: file, line: mark.line, column: mark.column, reason: reason)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return PolicyError(file: file, line: context.mark.line, column: context.mark.column,
                               reason: "key given twice in one mapping: \(duplicates.sorted().joined(separator: ", "))")
        default:
            return PolicyError(file: file, reason: "not valid YAML: \(error)")
        }
    }

    func document(_ root: Node) throws(PolicyError) -> [AclBinding] {
        let fields = try mapping(root, "the policy file", allowed: ["version", "acls"])
        guard let versionNode = fields["version"] else {
            throw failure(root, "missing 'version: \(PolicyFile.version)' at the top of the file")
        }
        let version = try scalar(versionNode, "version")
        guard version == "\(PolicyFile.version)" else {
            throw failure(versionNode, "unsupported policy version '\(version)' (this broker reads version \(PolicyFile.version))")
        }
        guard let acls = fields["acls"] else { return [] }
        if isNull(acls) { return [] }
        guard case .sequence(let items) = acls else { throw failure(acls, "'acls' must be a list of ACL entries") }
        var bindings: [AclBinding] = []
        for item in items { bindings += try entry(item) }
        return bindings
    }

    /// One entry of `acls`.
    func entry(_ node: Node) throws(PolicyError) -> [AclBinding] {
        let fields = try mapping(node, "an ACL entry", allowed: ["principal", "principals", "host", "permission", "operations", "resource"])
        let line = node.mark?.line ?? 0

        var principals: [KafkaPrincipal] = []
        switch (fields["principal"], fields["principals"]) {
        case (nil, nil): throw failure(node, "the entry names no principal (principal: User:<name>, or principals: [...])")
        case (.some, .some): throw failure(node, "give either 'principal' or 'principals', not both")
        case (let one?, nil): principals = [try principal(one)]
        case (nil, let many?):
            let list = try scalars(many, "principals")
            guard !list.isEmpty else { throw failure(many, "'principals' is empty") }
            for (_, item) in list { principals.append(try principal(item)) }
        }

        var host = AccessControlEntry.anyHost
        if let hostNode = fields["host"] {
            host = try scalar(hostNode, "host")
            guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "," }) else {
                throw failure(hostNode, "host '\(host)' is not one address or \"*\"")
            }
        }

        guard let permissionNode = fields["permission"] else { throw failure(node, "the entry has no 'permission' (allow or deny)") }
        let permission: AclPermissionType
        switch try scalar(permissionNode, "permission").lowercased() {
        case "allow": permission = .allow
        case "deny": permission = .deny
        case let other: throw failure(permissionNode, "permission '\(other)' is not allow or deny")
        }

        guard let operationsNode = fields["operations"] else { throw failure(node, "the entry has no 'operations' list") }
        let names = try scalars(operationsNode, "operations")
        guard !names.isEmpty else { throw failure(operationsNode, "'operations' is empty") }
        var operations: [AclOperation] = []
        for (name, item) in names {
            guard let operation = AclOperation(name: name) else {
                throw failure(item, "unknown operation '\(name)' (one of \(AclOperation.allCases.map(\.kafkaName).joined(separator: ", ")))")
            }
            if !operations.contains(operation) { operations.append(operation) }
        }

        guard let resourceNode = fields["resource"] else { throw failure(node, "the entry has no 'resource'") }
        let pattern = try resource(resourceNode)

        var bindings: [AclBinding] = []
        for principal in principals {
            for operation in operations {
                let binding = AclBinding(pattern: pattern,
                                         entry: AccessControlEntry(principal: principal, host: host, operation: operation, permission: permission),
                                         source: .file(path: file, line: line))
                if let problem = binding.validationProblem() {
                    throw failure(operation == .all ? resourceNode : names.first { AclOperation(name: $0.0) == operation }?.1, problem)
                }
                bindings.append(binding)
            }
        }
        return bindings
    }

    func principal(_ node: Node) throws(PolicyError) -> KafkaPrincipal {
        let text = try scalar(node, "principal")
        do {
            return try KafkaPrincipal(parsing: text)
        } catch {
            throw failure(node, error.message)
        }
    }

    func resource(_ node: Node) throws(PolicyError) -> ResourcePattern {
        let fields = try mapping(node, "'resource'", allowed: ["type", "name", "pattern"])
        guard let typeNode = fields["type"] else {
            throw failure(node, "the resource has no 'type' (topic, group, cluster, transactional-id, delegation-token, user)")
        }
        let typeName = try scalar(typeNode, "type")
        guard let type = AclResourceType(name: typeName) else {
            throw failure(typeNode, "unknown resource type '\(typeName)' (topic, group, cluster, transactional-id, delegation-token, user)")
        }
        var patternType = AclPatternType.literal
        if let patternNode = fields["pattern"] {
            switch try scalar(patternNode, "pattern").lowercased() {
            case "literal": patternType = .literal
            case "prefixed": patternType = .prefixed
            case let other: throw failure(patternNode, "pattern '\(other)' is not literal or prefixed")
            }
        }
        let name: String
        if let nameNode = fields["name"] {
            name = try scalar(nameNode, "name")
            if name.isEmpty { throw failure(nameNode, "the resource name is empty") }
            if type == .cluster && name != ResourcePattern.clusterName {
                throw failure(nameNode, "the cluster resource is named '\(ResourcePattern.clusterName)', not '\(name)' (the name may be left out)")
            }
        } else if type == .cluster {
            name = ResourcePattern.clusterName
        } else {
            throw failure(node, "the \(type.policyName) resource has no 'name' (use \"*\" for every \(type.policyName))")
        }
        if type == .cluster && patternType != .literal {
            throw failure(fields["pattern"] ?? node, "the cluster resource cannot be prefixed")
        }
        return ResourcePattern(type, name, patternType)
    }

    // MARK: - Node helpers

    func mapping(_ node: Node, _ what: String, allowed: Set<String>) throws(PolicyError) -> [String: Node] {
        guard case .mapping(let pairs) = node else { throw failure(node, "\(what) must be a mapping of keys to values") }
        var fields: [String: Node] = [:]
        for (keyNode, value) in pairs {
            guard case .scalar(let key) = keyNode else { throw failure(keyNode, "keys of \(what) must be plain names") }
            guard allowed.contains(key.string) else {
                throw failure(keyNode, "unknown key '\(key.string)' in \(what) (expected \(allowed.sorted().joined(separator: ", ")))")
            }
            fields[key.string] = value
        }
        return fields
    }

    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    func scalar(_ node: Node, _ what: String) throws(PolicyError) -> String {
        guard case .scalar(let scalar) = node else { throw failure(node, "'\(what)' must be a single value") }
        if isNull(node) { throw failure(node, "'\(what)' has no value") }
        return scalar.string
    }

    /// A list of single values, or one value standing for a list of one.
    func scalars(_ node: Node, _ what: String) throws(PolicyError) -> [(String, Node)] {
        switch node {
        case .scalar: return [(try scalar(node, what), node)]
        case .sequence(let items):
            var values: [(String, Node)] = []
            for item in items { values.append((try scalar(item, "an item of \(what)"), item)) }
            return values
        default: throw failure(node, "'\(what)' must be a list of values")
        }
    }
}
