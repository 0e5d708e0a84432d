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
        let bindings = Self.bindings(image.acls)
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
        let keys = Set(bindings.map(\.rule))
        let doomed: @Sendable (StoredAcl) -> Bool = { stored in Self.binding(stored).map { keys.contains($0.rule) } ?? false }
        // Changes are serialised, so the ACLs read before the update are those the update sees.
        let before = try await changingAcls { acls in acls.removeAll(where: doomed) }
        return Self.bindings(before.filter(doomed))
    }

    /// Every ACL in force (policy files first, then dynamic), as DescribeAcls lists them.
    public func allAcls() -> [AclBinding] { authorizer.snapshot.bindings }

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

    static func binding(_ stored: StoredAcl) -> AclBinding? {
        try? AclBinding(resourceType: stored.resourceType, resourceName: stored.resourceName, patternType: stored.patternType,
                        principal: stored.principal, host: stored.host, operation: stored.operation, permission: stored.permission)
    }

    static func bindings(_ stored: [StoredAcl]) -> [AclBinding] { stored.compactMap(binding) }
}

extension RequestAuthorization {
    /// Hands one audit event per changed ACL to the audit sink: the change was allowed by Alter on the
    /// Cluster, under this request's policy.
    func auditAclChanges(_ api: String, _ bindings: [AclBinding]) {
        for binding in bindings {
            auditChange(.alter, .cluster, ResourcePattern.clusterName, action: "\(api) \(binding.pattern) \(binding.entry)")
        }
    }
}
