import KafkaProtocol
import Logging
import RampartAuthorizer

/// The authorizer as one request sees it: a single snapshot (every check of the request is answered
/// by the same policy), the request's principal and client address, and what happens on a denial —
/// a debug log line, the denial counter, and the audit sink.
///
/// Checks with `audit: false` are Kafka's `logIfDenied = false`: probes whose denial is not an
/// error in itself (Create on the Cluster before falling back to the topic, topics filtered out of
/// an all-topics Metadata or ListGroups).
struct RequestAuthorization {
    let broker: Broker
    let snapshot: AclSnapshot
    let context: RequestContext

    /// Whether the request's principal may perform `operation` on the resource.
    /// In shadow mode (`rampart.authorizer.mode=shadow`) a denial is recorded but the answer is yes.
    func allows(_ operation: AclOperation, _ type: AclResourceType, _ name: String, audit: Bool = true) -> Bool {
        let decision = snapshot.authorize(context.principal, host: context.clientHost, operation: operation, type, name)
        if !decision.isAllowed && audit { denied(decision, operation, type, name) }
        return decision.isAllowed || isShadow
    }

    /// Whether denials are only recorded, not enforced (`rampart.authorizer.mode=shadow`).
    var isShadow: Bool { snapshot.config.shadow }

    /// Whether the request's principal may perform `operation` on the Cluster.
    func allowsCluster(_ operation: AclOperation, audit: Bool = true) -> Bool {
        allows(operation, .cluster, ResourcePattern.clusterName, audit: audit)
    }

    /// Whether the request's principal may perform `operation` on some resource of `type`
    /// (Kafka's `authorizeByResourceType`).
    func allowsAny(_ operation: AclOperation, _ type: AclResourceType, audit: Bool = true) -> Bool {
        let decision = snapshot.authorizeByResourceType(context.principal, host: context.clientHost, operation: operation, type)
        if !decision.isAllowed && audit { denied(decision, operation, type, "*") }
        return decision.isAllowed || isShadow
    }

    /// Kafka's `authorizedOperations` bit field for a resource.
    func operationBits(_ type: AclResourceType, _ name: String) -> Int32 {
        snapshot.authorizedOperationBits(context.principal, host: context.clientHost, type, name)
    }

    /// Records a denial that was decided elsewhere (e.g. the combined IdempotentWrite check).
    func denied(_ decision: AuthorizationDecision, _ operation: AclOperation, _ type: AclResourceType, _ name: String) {
        let rule = snapshot.matchedBinding(decision)
        BrokerMetrics.authorizationDenied(operation: operation.kafkaName, resourceType: type.kafkaName)
        broker.logger.debug(isShadow ? "authorization denied (shadow mode: served anyway)" : "authorization denied", metadata: [
            "principal": "\(context.principal)", "host": "\(context.clientHost)", "listener": "\(context.listenerName)",
            "api": "\(context.apiKey.name)", "operation": "\(operation.kafkaName)", "resource": "\(type.kafkaName):\(name)",
            "reason": "\(Self.reason(decision, rule))",
        ])
        broker.authorizer.recordDenial(AuthorizationEvent(
            timeMs: broker.clock(), principal: context.principal, clientHost: context.clientHost, listener: context.listenerName,
            apiKey: context.apiKey.rawValue, apiName: context.apiKey.name, operation: operation, resourceType: type,
            resourceName: name, decision: decision, matchedRule: rule, policyFingerprint: snapshot.fingerprint,
            enforced: !isShadow))
    }

    /// Hands an allowed change to the audit sink (a user, topic or config change; ACL changes through
    /// `recordAclChanges`): `operation` on the resource was the check that let it through, decided under
    /// this request's snapshot; `action` says what changed and must carry no secret.
    func auditChange(_ operation: AclOperation, _ type: AclResourceType, _ name: String, action: String) {
        let decision = snapshot.authorize(context.principal, host: context.clientHost, operation: operation, type, name)
        broker.authorizer.recordAllowed(AuthorizationEvent(
            timeMs: broker.clock(), principal: context.principal, clientHost: context.clientHost, listener: context.listenerName,
            apiKey: context.apiKey.rawValue, apiName: context.apiKey.name, operation: operation, resourceType: type,
            resourceName: name, decision: decision, matchedRule: snapshot.matchedBinding(decision), policyFingerprint: snapshot.fingerprint,
            action: action))
    }

    private static func reason(_ decision: AuthorizationDecision, _ rule: AclBinding?) -> String {
        switch decision.reason {
        case .deniedByAcl: rule.map { "DENY ACL \($0.pattern) \($0.entry) (\($0.source))" } ?? "DENY ACL"
        case .noAclFound: "no ACL on the resource (default deny)"
        case .noMatchingAllow: "no matching ALLOW ACL"
        default: "\(decision.reason)"
        }
    }

    /// Kafka's messages for the authorization error codes.
    static func message(_ code: KafkaErrorCode) -> String {
        switch code {
        case .topicAuthorizationFailed: "Topic authorization failed."
        case .groupAuthorizationFailed: "Group authorization failed."
        case .clusterAuthorizationFailed: "Cluster authorization failed."
        case .transactionalIdAuthorizationFailed: "Transactional Id authorization failed."
        default: "Authorization failed."
        }
    }
}

extension Broker {
    /// The authorizer for one request (takes the current snapshot).
    func authorization(_ context: RequestContext) -> RequestAuthorization {
        RequestAuthorization(broker: self, snapshot: authorizer.snapshot, context: context)
    }
}
