/// What the authorizer does besides evaluating ACLs: Kafka's `super.users` and
/// `allow.everyone.if.no.acl.found`, and whether it is on at all.
public struct AuthorizerConfig: Sendable, Equatable {
    /// When false every request is allowed (Kafka without `authorizer.class.name`). Rampart's default is true.
    public var enabled: Bool
    /// Principals allowed everything, whatever the ACLs say (`super.users`).
    public var superUsers: [KafkaPrincipal]
    /// Allow a request on a resource no ACL mentions at all (`allow.everyone.if.no.acl.found`).
    public var allowEveryoneIfNoAclFound: Bool

    /// `rampart.authorizer.mode=shadow`: a request the ACLs deny is audited (and logged) as a denial but
    /// served anyway, for a safe rollout of a policy. `enforce` (false) is the default.
    public var shadow: Bool

    public init(enabled: Bool = true, superUsers: [KafkaPrincipal] = [], allowEveryoneIfNoAclFound: Bool = false, shadow: Bool = false) {
        self.enabled = enabled
        self.superUsers = superUsers
        self.allowEveryoneIfNoAclFound = allowEveryoneIfNoAclFound
        self.shadow = shadow
    }

    /// Parses Kafka's `super.users`: principals separated by `;` (blanks around them ignored).
    public static func parseSuperUsers(_ value: String) throws(AclValidationError) -> [KafkaPrincipal] {
        var result: [KafkaPrincipal] = []
        for item in value.split(separator: ";") {
            let text = trimmedBlanks(item)
            if text.isEmpty { continue }
            do {
                result.append(try KafkaPrincipal(parsing: text))
            } catch {
                throw AclValidationError("super.users: \(error.message)")
            }
        }
        return result
    }
}

/// Identifies the ACL that decided, as an index into `AclSnapshot.bindings`.
public struct AclRuleID: Hashable, Sendable {
    public let index: Int32
    public init(index: Int32) { self.index = index }
}

/// The authorizer's answer, with the reason (and the ACL that matched) for explain and audit.
/// Holds no references: returning it allocates nothing.
public struct AuthorizationDecision: Hashable, Sendable {
    /// Why the request was allowed or denied.
    public enum Reason: Hashable, Sendable {
        /// The authorizer is switched off: everything is allowed.
        case authorizerDisabled
        /// The principal is in `super.users`.
        case superUser
        /// An ALLOW ACL matched and no DENY did.
        case allowedByAcl(AclRuleID)
        /// A DENY ACL matched (DENY wins over any ALLOW).
        case deniedByAcl(AclRuleID)
        /// No ACL mentions the resource and `allow.everyone.if.no.acl.found` is true.
        case noAclFoundAllowEveryone
        /// No ACL mentions the resource: denied by default.
        case noAclFound
        /// ACLs mention the resource but none allows this principal, host and operation.
        case noMatchingAllow
    }

    public let reason: Reason

    public init(_ reason: Reason) { self.reason = reason }

    public var isAllowed: Bool {
        switch reason {
        case .authorizerDisabled, .superUser, .allowedByAcl, .noAclFoundAllowEveryone: true
        case .deniedByAcl, .noAclFound, .noMatchingAllow: false
        }
    }

    /// The ACL that decided, if one did.
    public var rule: AclRuleID? {
        switch reason {
        case .allowedByAcl(let id), .deniedByAcl(let id): id
        default: nil
        }
    }
}

/// `text` without leading and trailing spaces and tabs.
func trimmedBlanks(_ text: Substring) -> String {
    let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
    guard let first = text.firstIndex(where: { !blank($0) }), let last = text.lastIndex(where: { !blank($0) }) else { return "" }
    return String(text[first...last])
}
