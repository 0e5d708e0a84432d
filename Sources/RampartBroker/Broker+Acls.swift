import KafkaProtocol
import RampartAuthorizer
import RampartMetadata

/// Dynamic ACLs: kept in the metadata store (`ClusterMetadata.acls`) and fed to the authorizer, so a
/// change applies to the next request. Policy-file ACLs are not stored here and cannot be changed
/// over the protocol.
extension Broker {
    /// Loads the dynamic ACLs from the metadata store into the authorizer (start-up).
    public func loadDynamicAcls() async {
        let image = await metadata.current()
        var bindings: [AclBinding] = []
        for stored in image.acls {
            do {
                bindings.append(try Self.binding(stored))
            } catch {
                logger.error("a stored dynamic ACL is invalid and is not in force", metadata: [
                    "resource": "\(stored.resourceType):\(stored.patternType):\(stored.resourceName)", "principal": "\(stored.principal)",
                    "reason": "\(error.message)",
                ])
            }
        }
        authorizer.replaceDynamicBindings(bindings)
        if !image.acls.isEmpty {
            logger.info("dynamic ACLs loaded", metadata: ["acls": "\(bindings.count)", "fingerprint": "\(authorizer.snapshot.fingerprint)"])
        }
    }

    /// Adds ACLs (already validated) to the store and the authorizer; ones already present are kept
    /// once (creating an existing ACL succeeds, as in Kafka).
    public func createAcls(_ bindings: [AclBinding]) async throws {
        let stored = bindings.map(Self.stored)
        try await changingAcls { acls in
            var present = Set(acls)
            for acl in stored where present.insert(acl).inserted { acls.append(acl) }
        }
    }

    /// Removes the dynamic ACLs equal (pattern and entry) to `bindings` from the store and the
    /// authorizer; returns those that were removed.
    @discardableResult
    public func deleteAcls(_ bindings: [AclBinding]) async throws -> [AclBinding] {
        // A stored ACL is the wire form of its pattern and entry: equal stored forms are the same ACL,
        // so nothing needs to be parsed back to compare.
        let doomed = Set(bindings.map(Self.stored))
        // Changes are serialised, so the ACLs read before the update are those the update sees.
        let before = try await changingAcls { acls in acls.removeAll(where: doomed.contains) }
        return Self.bindings(before.filter(doomed.contains))
    }

    /// Applies `change` to the stored ACLs and the authorizer, one change at a time; returns the ACLs
    /// as they were before.
    @discardableResult
    private func changingAcls(_ change: @escaping @Sendable (inout [StoredAcl]) -> Void) async throws -> [StoredAcl] {
        await aclChanges.acquire()
        do {
            let before = await metadata.current().acls
            let image = try await metadata.update { image in change(&image.acls) }
            authorizer.replaceDynamicBindings(Self.bindings(image.acls))
            await aclChanges.release()
            return before
        } catch {
            await aclChanges.release()
            throw error
        }
    }

    static func stored(_ binding: AclBinding) -> StoredAcl {
        StoredAcl(resourceType: binding.pattern.resourceType.rawValue, resourceName: binding.pattern.name,
                  patternType: binding.pattern.patternType.rawValue, principal: binding.entry.principal.description,
                  host: binding.entry.host, operation: binding.entry.operation.rawValue, permission: binding.entry.permission.rawValue)
    }

    static func binding(_ stored: StoredAcl) throws(AclValidationError) -> AclBinding {
        try AclBinding(resourceType: stored.resourceType, resourceName: stored.resourceName, patternType: stored.patternType,
                        principal: stored.principal, host: stored.host, operation: stored.operation, permission: stored.permission)
    }

    /// The stored ACLs that are valid (an invalid one is reported once, by `loadDynamicAcls`).
    static func bindings(_ stored: [StoredAcl]) -> [AclBinding] { stored.compactMap { try? binding($0) } }
}

extension RequestAuthorization {
    /// Records ACLs a request changed: an info log line (`what`: "created", "deleted") and one audit
    /// event per ACL for the audit sink — the change was allowed by Alter on the Cluster, under this
    /// request's policy.
    func recordAclChanges(_ what: String, _ bindings: [AclBinding]) {
        guard !bindings.isEmpty else { return }
        broker.logger.info("ACLs \(what)", metadata: [
            "principal": "\(context.principal)", "acls": "\(bindings.map { "\($0.pattern) \($0.entry)" })",
            "fingerprint": "\(broker.authorizer.snapshot.fingerprint)",
        ])
        let api = context.apiKey.name
        let decision = snapshot.authorize(context.principal, host: context.clientHost, operation: .alter, .cluster, ResourcePattern.clusterName)
        let rule = snapshot.matchedBinding(decision)
        for binding in bindings {
            broker.authorizer.recordAllowed(AuthorizationEvent(
                timeMs: broker.clock(), principal: context.principal, clientHost: context.clientHost, listener: context.listenerName,
                apiKey: context.apiKey.rawValue, apiName: context.apiKey.name, operation: .alter, resourceType: .cluster,
                resourceName: ResourcePattern.clusterName, decision: decision, matchedRule: rule, policyFingerprint: snapshot.fingerprint,
                action: "\(api) \(binding.pattern) \(binding.entry)"))
        }
    }
}

/// The filter fields DescribeAcls (the request itself) and DeleteAcls (each of its filters) carry,
/// under the same names.
protocol AclFilterFields {
    var resourceTypeFilter: Int8 { get }
    var resourceNameFilter: String? { get }
    var patternTypeFilter: Int8 { get }
    var principalFilter: String? { get }
    var hostFilter: String? { get }
    var operation: Int8 { get }
    var permissionType: Int8 { get }
}

extension DescribeAclsRequest: AclFilterFields {}
extension DeleteAclsRequest.DeleteAclsFilter: AclFilterFields {}

extension AclBindingFilter {
    /// The filter a DescribeAcls or DeleteAcls request carries. Version 0 of both knows only LITERAL
    /// patterns: its filter is LITERAL whatever the field holds.
    init(_ wire: some AclFilterFields, apiVersion: Int16) throws(AclValidationError) {
        try self.init(resourceType: wire.resourceTypeFilter, resourceName: wire.resourceNameFilter,
                      patternType: apiVersion == 0 ? PatternFilter.literal.rawValue : wire.patternTypeFilter,
                      principal: wire.principalFilter, host: wire.hostFilter, operation: wire.operation, permission: wire.permissionType)
    }
}
