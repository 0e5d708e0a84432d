@testable import RampartAuthorizer

/// `User:<name>`.
func user(_ name: String) -> KafkaPrincipal { KafkaPrincipal(name: name) }

/// One ACL, written the way tables read.
func acl(_ permission: AclPermissionType, _ principal: String, _ operation: AclOperation, _ type: AclResourceType,
         _ name: String, _ pattern: AclPatternType = .literal, host: String = "*", line: Int = 0) -> AclBinding {
    AclBinding(pattern: ResourcePattern(type, name, pattern),
               entry: AccessControlEntry(principal: try! KafkaPrincipal(parsing: principal), host: host, operation: operation,
                                         permission: permission),
               source: line > 0 ? .file(path: "test.yaml", line: line) : .dynamic)
}

/// A deterministic generator (SplitMix64) for the property tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Kafka's rules written as plainly as possible, to check the compiled snapshot against.
enum ReferenceAuthorizer {
    static func matches(_ binding: AclBinding, _ principal: KafkaPrincipal, _ host: String, _ operation: AclOperation,
                        _ type: AclResourceType, _ name: String) -> Bool {
        guard binding.pattern.resourceType == type, binding.pattern.matches(name) else { return false }
        guard binding.entry.principal.isWildcard || binding.entry.principal == principal else { return false }
        guard binding.entry.host == "*" || binding.entry.host == host else { return false }
        if binding.entry.operation == .all || binding.entry.operation == operation { return true }
        guard binding.entry.permission == .allow else { return false }
        switch operation {
        case .describe: return [.read, .write, .delete, .alter].contains(binding.entry.operation)
        case .describeConfigs: return binding.entry.operation == .alterConfigs
        default: return false
        }
    }

    static func isAllowed(_ config: AuthorizerConfig, _ bindings: [AclBinding], _ principal: KafkaPrincipal, _ host: String,
                          _ operation: AclOperation, _ type: AclResourceType, _ name: String) -> Bool {
        if !config.enabled || config.superUsers.contains(principal) { return true }
        let matching = bindings.filter { matches($0, principal, host, operation, type, name) }
        if matching.contains(where: { $0.entry.permission == .deny }) { return false }
        if matching.contains(where: { $0.entry.permission == .allow }) { return true }
        let onResource = bindings.contains { $0.pattern.resourceType == type && $0.pattern.matches(name) }
        return !onResource && config.allowEveryoneIfNoAclFound
    }
}
