import KafkaProtocol

/// One ACL as the ACL admin APIs carry it, with Kafka's wire codes: resource type (Topic 2, Group 3,
/// Cluster 4, TransactionalId 5, DelegationToken 6, User 7), pattern type (LITERAL 3, PREFIXED 4),
/// operation (All 2 … DescribeTokens 14) and permission (DENY 2, ALLOW 3).
public struct AclDescription: Sendable, Hashable {
    public var resourceType: Int8
    public var resourceName: String
    public var patternType: Int8
    public var principal: String
    public var host: String
    public var operation: Int8
    public var permission: Int8

    public init(resourceType: Int8, resourceName: String, patternType: Int8, principal: String, host: String, operation: Int8, permission: Int8) {
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.patternType = patternType
        self.principal = principal
        self.host = host
        self.operation = operation
        self.permission = permission
    }
}

/// Which ACLs DescribeAcls/DeleteAcls select: codes as `AclDescription`'s plus 1 = ANY (and for the
/// pattern type 2 = MATCH); nil strings match anything.
public struct AclFilterDescription: Sendable, Hashable {
    public var resourceType: Int8 = 1
    public var resourceName: String?
    public var patternType: Int8 = 1
    public var principal: String?
    public var host: String?
    public var operation: Int8 = 1
    public var permission: Int8 = 1

    public init(resourceType: Int8 = 1, resourceName: String? = nil, patternType: Int8 = 1, principal: String? = nil,
                host: String? = nil, operation: Int8 = 1, permission: Int8 = 1) {
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.patternType = patternType
        self.principal = principal
        self.host = host
        self.operation = operation
        self.permission = permission
    }
}

/// What DeleteAcls did for one filter: the ACLs deleted, and those that matched but were not deleted
/// (e.g. defined in a policy file) with the broker's reason.
public struct AclDeletion: Sendable, Hashable {
    /// An ACL that matched but was not deleted, and why.
    public struct Refusal: Sendable, Hashable {
        public var acl: AclDescription
        public var reason: String
    }

    public var deleted: [AclDescription]
    public var refused: [Refusal]
}

extension KafkaAdmin {
    /// Creates ACLs (CreateAcls); the first refused one is thrown, naming it.
    public func createAcls(_ acls: [AclDescription]) async throws {
        guard !acls.isEmpty else { return }
        let connection = try await controllerConnection()
        let response = try await connection.send(CreateAclsRequest(creations: acls.map {
            .init(resourceType: $0.resourceType, resourceName: $0.resourceName, resourcePatternType: $0.patternType,
                  principal: $0.principal, host: $0.host, operation: $0.operation, permissionType: $0.permission)
        }))
        guard response.results.count == acls.count else {
            throw KafkaClientError.malformedResponse("CreateAcls answered \(response.results.count) results for \(acls.count) ACLs")
        }
        for (acl, result) in zip(acls, response.results) {
            try KafkaClientError.check(result.errorCode, "create ACL for \(acl.principal) on \(acl.resourceName)", detail: result.errorMessage)
        }
    }

    /// The ACLs matching `filter` (DescribeAcls), policy-file and dynamic ones alike.
    public func describeAcls(_ filter: AclFilterDescription = AclFilterDescription()) async throws -> [AclDescription] {
        let connection = try await controllerConnection()
        let response = try await connection.send(DescribeAclsRequest(
            resourceTypeFilter: filter.resourceType, resourceNameFilter: filter.resourceName, patternTypeFilter: filter.patternType,
            principalFilter: filter.principal, hostFilter: filter.host, operation: filter.operation, permissionType: filter.permission))
        try KafkaClientError.check(response.errorCode, "describe ACLs", detail: response.errorMessage)
        return response.resources.flatMap { resource in
            resource.acls.map {
                AclDescription(resourceType: resource.resourceType, resourceName: resource.resourceName, patternType: resource.patternType,
                               principal: $0.principal, host: $0.host, operation: $0.operation, permission: $0.permissionType)
            }
        }
    }

    /// Deletes the ACLs matching each filter (DeleteAcls); a filter the broker refuses is thrown.
    public func deleteAcls(_ filters: [AclFilterDescription]) async throws -> [AclDeletion] {
        guard !filters.isEmpty else { return [] }
        let connection = try await controllerConnection()
        let response = try await connection.send(DeleteAclsRequest(filters: filters.map {
            .init(resourceTypeFilter: $0.resourceType, resourceNameFilter: $0.resourceName, patternTypeFilter: $0.patternType,
                  principalFilter: $0.principal, hostFilter: $0.host, operation: $0.operation, permissionType: $0.permission)
        }))
        guard response.filterResults.count == filters.count else {
            throw KafkaClientError.malformedResponse("DeleteAcls answered \(response.filterResults.count) results for \(filters.count) filters")
        }
        return try response.filterResults.map { result in
            try KafkaClientError.check(result.errorCode, "delete ACLs", detail: result.errorMessage)
            var deletion = AclDeletion(deleted: [], refused: [])
            for match in result.matchingAcls {
                let acl = AclDescription(resourceType: match.resourceType, resourceName: match.resourceName, patternType: match.patternType,
                                         principal: match.principal, host: match.host, operation: match.operation, permission: match.permissionType)
                if match.errorCode == 0 {
                    deletion.deleted.append(acl)
                } else {
                    deletion.refused.append(.init(acl: acl, reason: match.errorMessage ?? "error \(match.errorCode)"))
                }
            }
            return deletion
        }
    }
}
