#if canImport(Glibc)
import Glibc
#endif

/// A lint finding about a valid policy: the rule's source (file:line) and what is suspicious.
public struct PolicyWarning: Sendable, Hashable, CustomStringConvertible {
    public var source: AclSource
    public var message: String

    public init(source: AclSource, message: String) {
        self.source = source
        self.message = message
    }

    public var description: String { "\(source): warning: \(message)" }
}

/// `rampart policy check`'s lints over a valid policy: rules that are legal but almost certainly not
/// what was meant.
public enum PolicyLint {
    /// The warnings for `bindings`, in source order.
    public static func warnings(_ bindings: [AclBinding]) -> [PolicyWarning] {
        var warnings: [PolicyWarning] = []
        var firstSource: [AclRuleKey: AclSource] = [:]
        var principalsByFoldedText: [String: KafkaPrincipal] = [:]
        for binding in bindings {
            let pattern = binding.pattern
            let entry = binding.entry
            if pattern.patternType == .prefixed && pattern.name == ResourcePattern.wildcardName {
                warnings.append(.init(source: binding.source, message: "PREFIXED '*' matches only \(pattern.resourceType.policyName) names starting with '*'; for every \(pattern.resourceType.policyName) use the LITERAL name \"*\""))
            }
            if let first = firstSource[binding.rule] {
                if first != binding.source {
                    warnings.append(.init(source: binding.source, message: "duplicate rule: \(entry.permission.kafkaName.uppercased()) \(entry.operation.kafkaName) for \(entry.principal) on \(pattern) is already defined at \(first)"))
                }
            } else {
                firstSource[binding.rule] = binding.source
            }
            if entry.principal.type != KafkaPrincipal.userType && entry.principal.type.lowercased() == KafkaPrincipal.userType.lowercased() {
                warnings.append(.init(source: binding.source, message: "principal '\(entry.principal)' has type '\(entry.principal.type)': principal types are case-sensitive, authenticated users are 'User:…', so this rule never matches"))
            }
            let folded = entry.principal.description.lowercased()
            if let other = principalsByFoldedText[folded], other != entry.principal, entry.principal.type == KafkaPrincipal.userType {
                warnings.append(.init(source: binding.source, message: "principal '\(entry.principal)' differs from '\(other)' only in case: principal names are case-sensitive"))
            } else if principalsByFoldedText[folded] == nil {
                principalsByFoldedText[folded] = entry.principal
            }
            if entry.host != AccessControlEntry.anyHost && !isIPAddress(entry.host) {
                warnings.append(.init(source: binding.source, message: "host '\(entry.host)' is not an IP address: hosts are compared with the client's address, so this rule never matches (use an address or \"*\")"))
            }
        }
        let denies = bindings.filter { $0.entry.permission == .deny }
        for allow in bindings where allow.entry.permission == .allow {
            if let deny = denies.first(where: { covers($0, allow) }) {
                warnings.append(.init(source: allow.source, message: "this ALLOW \(allow.entry.operation.kafkaName) for \(allow.entry.principal) on \(allow.pattern) never applies: the DENY at \(deny.source) (\(deny.entry.operation.kafkaName) for \(deny.entry.principal) on \(deny.pattern)) always wins"))
            }
        }
        return warnings
    }

    /// Whether the DENY `deny` applies to every request the ALLOW `allow` could allow by itself.
    static func covers(_ deny: AclBinding, _ allow: AclBinding) -> Bool {
        guard deny.pattern.resourceType == allow.pattern.resourceType else { return false }
        guard deny.entry.principal.isWildcard || deny.entry.principal == allow.entry.principal else { return false }
        guard deny.entry.host == AccessControlEntry.anyHost || deny.entry.host == allow.entry.host else { return false }
        guard deny.entry.operation == .all || deny.entry.operation == allow.entry.operation else { return false }
        let d = deny.pattern, a = allow.pattern
        switch (d.patternType, a.patternType) {
        case (.literal, _) where d.name == ResourcePattern.wildcardName:
            return true
        case (.literal, .literal):
            return d.name == a.name && a.name != ResourcePattern.wildcardName
        case (.prefixed, .literal):
            return a.name != ResourcePattern.wildcardName && a.name.utf8.starts(with: d.name.utf8)
        case (.prefixed, .prefixed):
            return a.name.utf8.starts(with: d.name.utf8)
        case (.literal, .prefixed):
            return false
        }
    }

    /// Whether `host` is an IPv4 or IPv6 address.
    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
