import Synchronization

/// The broker's authorizer: the current `AclSnapshot`, rebuilt and swapped atomically whenever the
/// policy files, the dynamic ACLs (metadata store) or the settings change. Readers take the snapshot
/// once per request (`snapshot`) and evaluate against it without locks.
///
/// Also the place denials are counted and handed to the audit sink.
public final class Authorizer: Sendable {
    private struct Sources {
        var config: AuthorizerConfig
        var fileBindings: [AclBinding]
        var dynamicBindings: [AclBinding]
        var generation: UInt64
    }

    /// Held while a new snapshot is compiled, so concurrent updates apply in order.
    private let sources: Mutex<Sources>
    /// The snapshot readers see; held only to swap or read the reference.
    private let current: Mutex<AclSnapshot>
    private let sink: Mutex<(any AuthorizationAuditSink)?>
    private let denials = Atomic<Int>(0)

    public init(config: AuthorizerConfig, fileBindings: [AclBinding] = [], dynamicBindings: [AclBinding] = []) {
        sources = Mutex(Sources(config: config, fileBindings: fileBindings, dynamicBindings: dynamicBindings, generation: 1))
        current = Mutex(AclSnapshot(config: config, fileBindings: fileBindings, dynamicBindings: dynamicBindings, generation: 1))
        sink = Mutex(nil)
    }

    /// An authorizer that allows everything (Kafka with no `authorizer.class.name`).
    public static func disabled() -> Authorizer { Authorizer(config: AuthorizerConfig(enabled: false)) }

    /// The snapshot in force.
    public var snapshot: AclSnapshot { current.withLock { $0 } }

    /// Replaces the ACLs loaded from policy files (a reload).
    public func replaceFileBindings(_ bindings: [AclBinding]) {
        rebuild { $0.fileBindings = bindings }
    }

    /// Replaces the ACLs kept in the metadata store (after CreateAcls/DeleteAcls or at start-up).
    public func replaceDynamicBindings(_ bindings: [AclBinding]) {
        rebuild { $0.dynamicBindings = bindings }
    }

    /// Replaces the settings (`super.users`, `allow.everyone.if.no.acl.found`, on/off).
    public func replaceConfig(_ config: AuthorizerConfig) {
        rebuild { $0.config = config }
    }

    private func rebuild(_ change: (inout Sources) -> Void) {
        sources.withLock { sources in
            change(&sources)
            sources.generation += 1
            let snapshot = AclSnapshot(config: sources.config, fileBindings: sources.fileBindings,
                                       dynamicBindings: sources.dynamicBindings, generation: sources.generation)
            current.withLock { $0 = snapshot }
        }
    }

    // MARK: - Denials and audit

    /// Where authorization events go (the audit log); nil drops them.
    public func setAuditSink(_ newSink: (any AuthorizationAuditSink)?) {
        sink.withLock { $0 = newSink }
    }

    /// Counts a denied request and hands the event to the audit sink.
    public func recordDenial(_ event: AuthorizationEvent) {
        denials.add(1, ordering: .relaxed)
        let target = sink.withLock { $0 }
        target?.record(event)
    }

    /// Hands an allowed, audited action (an ACL, user, topic or config change) to the audit sink.
    public func recordAllowed(_ event: AuthorizationEvent) {
        let target = sink.withLock { $0 }
        target?.record(event)
    }

    /// Hands an authentication outcome (a SASL login, re-authentication or failure) to the audit sink,
    /// stamped with the fingerprint of the policy in force.
    public func recordAuthentication(_ event: AuthenticationEvent) {
        guard let target = sink.withLock({ $0 }) else { return }
        var event = event
        if event.policyFingerprint.isEmpty { event.policyFingerprint = snapshot.fingerprint }
        target.record(event)
    }

    /// Requests (or parts of requests) denied since start-up.
    public var deniedCount: Int { denials.load(ordering: .relaxed) }
}

/// Receives authorization events (the audit log implements this).
public protocol AuthorizationAuditSink: Sendable {
    func record(_ event: AuthorizationEvent)
    /// Authentication outcomes; sinks that only want authorization events need not implement it.
    func record(_ event: AuthenticationEvent)
}

extension AuthorizationAuditSink {
    public func record(_ event: AuthenticationEvent) {}
}

/// One authentication worth auditing: a SASL login or re-authentication that succeeded or failed.
/// Carries no credential: a failure names the mechanism and a reason code, not the user name the
/// client claimed (it is unproven) and never a password or token.
public struct AuthenticationEvent: Sendable {
    /// Milliseconds since the epoch.
    public var timeMs: Int64
    /// The authenticated principal; nil for a failure.
    public var principal: KafkaPrincipal?
    public var clientHost: String
    public var listener: String
    /// The SASL mechanism (e.g. SCRAM-SHA-512).
    public var mechanism: String
    public var succeeded: Bool
    /// A re-authentication on an open connection (KIP-368) rather than a first login.
    public var reauthentication: Bool
    /// Why it failed: a reason code such as `invalid_credentials`, `backoff`, `principal_changed`.
    public var reason: String?
    /// `AclSnapshot.fingerprint` of the policy in force (filled in by `Authorizer` when empty).
    public var policyFingerprint: String

    public init(timeMs: Int64, principal: KafkaPrincipal?, clientHost: String, listener: String, mechanism: String,
                succeeded: Bool, reauthentication: Bool = false, reason: String? = nil, policyFingerprint: String = "") {
        self.timeMs = timeMs
        self.principal = principal
        self.clientHost = clientHost
        self.listener = listener
        self.mechanism = mechanism
        self.succeeded = succeeded
        self.reauthentication = reauthentication
        self.reason = reason
        self.policyFingerprint = policyFingerprint
    }
}

/// One authorization worth auditing: who asked what, where from, and what was decided by which rule.
public struct AuthorizationEvent: Sendable {
    /// Milliseconds since the epoch.
    public var timeMs: Int64
    public var principal: KafkaPrincipal
    public var clientHost: String
    public var listener: String
    public var apiKey: Int16
    public var apiName: String
    public var operation: AclOperation
    public var resourceType: AclResourceType
    public var resourceName: String
    public var decision: AuthorizationDecision
    /// The ACL that decided, if one did.
    public var matchedRule: AclBinding?
    /// `AclSnapshot.fingerprint` of the policy that decided.
    public var policyFingerprint: String
    /// For an allowed change, what was changed (e.g. `CreateAcls Topic:LITERAL:orders (principal=…)`).
    public var action: String?
    /// False for a denial in shadow mode (`rampart.authorizer.mode=shadow`): recorded, but served.
    public var enforced: Bool

    public init(timeMs: Int64, principal: KafkaPrincipal, clientHost: String, listener: String, apiKey: Int16, apiName: String,
                operation: AclOperation, resourceType: AclResourceType, resourceName: String, decision: AuthorizationDecision,
                matchedRule: AclBinding?, policyFingerprint: String, action: String? = nil, enforced: Bool = true) {
        self.timeMs = timeMs
        self.principal = principal
        self.clientHost = clientHost
        self.listener = listener
        self.apiKey = apiKey
        self.apiName = apiName
        self.operation = operation
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.decision = decision
        self.matchedRule = matchedRule
        self.policyFingerprint = policyFingerprint
        self.action = action
        self.enforced = enforced
    }
}
