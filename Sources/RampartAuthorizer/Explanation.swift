/// A decision in words, for `rampart policy explain`, logs and the audit log.
public struct AuthorizationExplanation: Sendable, CustomStringConvertible {
    public var principal: KafkaPrincipal
    public var host: String
    public var operation: AclOperation
    public var resourceType: AclResourceType
    public var resourceName: String
    public var decision: AuthorizationDecision
    /// The ACL that decided, if one did.
    public var matchedRule: AclBinding?

    /// `ALLOWED` or `DENIED`.
    public var verdict: String { decision.isAllowed ? "ALLOWED" : "DENIED" }

    /// Why, in one phrase: the rule and where it is defined, or the default that applied.
    public var reasonText: String {
        switch decision.reason {
        case .authorizerDisabled: "the authorizer is disabled (rampart.authorizer.enabled=false)"
        case .superUser: "\(principal) is a super user (super.users)"
        case .allowedByAcl, .deniedByAcl:
            matchedRule.map { rule in
                "\(rule.entry.permission.kafkaName.uppercased()) \(rule.entry.operation.kafkaName) for \(rule.entry.principal) from host \(rule.entry.host) on \(rule.pattern) (\(rule.source))"
            } ?? "an ACL"
        case .noAclFoundAllowEveryone: "no ACL on the resource: allowed (allow.everyone.if.no.acl.found=true)"
        case .noAclFound: "no ACL on the resource: default deny"
        case .noMatchingAllow: "no ACL allows \(principal) to \(operation.kafkaName) from \(host): default deny"
        }
    }

    public var description: String {
        "\(verdict): \(principal) \(operation.kafkaName) \(resourceType.kafkaName) '\(resourceName)' from \(host) — \(reasonText)"
    }
}

extension AclSnapshot {
    /// `authorize` with the matched rule resolved and the reason in words.
    public func explain(_ principal: KafkaPrincipal, host: String, operation: AclOperation,
                        _ type: AclResourceType, _ name: String) -> AuthorizationExplanation {
        let decision = authorize(principal, host: host, operation: operation, type, name)
        return AuthorizationExplanation(principal: principal, host: host, operation: operation, resourceType: type,
                                        resourceName: name, decision: decision, matchedRule: matchedBinding(decision))
    }
}
