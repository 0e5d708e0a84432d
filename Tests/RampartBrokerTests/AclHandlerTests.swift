import Foundation
import KafkaProtocol
import RampartBroker
import RampartMetadata
import Testing

/// CreateAcls, DescribeAcls and DeleteAcls: authorization, validation, Kafka's filters, persistence,
/// immediate effect, and policy-file ACLs that DeleteAcls lists but cannot delete.
@Suite struct AclHandlerTests {
    static let admin = KafkaPrincipal(name: "admin")
    static let alice = KafkaPrincipal(name: "alice")
    static let policyFile = AclBinding(pattern: ResourcePattern(.topic, "orders.", .prefixed),
                                       entry: AccessControlEntry(principal: alice, operation: .read, permission: .allow),
                                       source: .file(path: "/etc/rampart/policies/orders.yaml", line: 7))

    func fixture(_ directory: URL? = nil) async throws -> BrokerFixture {
        let authorizer = Authorizer(config: AuthorizerConfig(superUsers: [Self.admin]), fileBindings: [Self.policyFile])
        if let directory { return try await BrokerFixture.open(directory, authorizer: authorizer) }
        return try await BrokerFixture.make(authorizer: authorizer)
    }

    func creation(_ type: Int8 = 2, _ name: String = "payments", _ pattern: Int8 = 3, principal: String = "User:alice",
                  host: String = "*", operation: Int8 = AclOperation.write.rawValue, permission: Int8 = 3) -> CreateAclsRequest.AclCreation {
        .init(resourceType: type, resourceName: name, resourcePatternType: pattern, principal: principal, host: host,
              operation: operation, permissionType: permission)
    }

    func describeAll(_ fixture: BrokerFixture, version: Int16 = 3) async throws -> DescribeAclsResponse {
        try await fixture.send(DescribeAclsRequest(resourceTypeFilter: 1, resourceNameFilter: nil, patternTypeFilter: version == 0 ? 3 : 1,
                                                   principalFilter: nil, hostFilter: nil, operation: 1, permissionType: 1),
                               version: version, as: Self.admin)
    }

    func allows(_ fixture: BrokerFixture, _ operation: AclOperation, topic: String) -> Bool {
        fixture.broker.authorizer.snapshot.authorize(Self.alice, host: "127.0.0.1", operation: operation, .topic, topic).isAllowed
    }

    @Test func createDescribeDeleteTakeEffectAndPersist() async throws {
        let fixture = try await fixture()
        #expect(!allows(fixture, .write, topic: "payments"))
        let created = try await fixture.send(CreateAclsRequest(creations: [creation(), creation(), creation(4, "kafka-cluster", operation: AclOperation.idempotentWrite.rawValue)]),
                                             version: 3, as: Self.admin)
        #expect(created.results.map(\.errorCode) == [0, 0, 0])
        #expect(allows(fixture, .write, topic: "payments"))
        #expect(allows(fixture, .describe, topic: "payments"))   // Write implies Describe

        let all = try await describeAll(fixture)
        #expect(all.errorCode == 0)
        #expect(all.resources.map { "\($0.resourceType)/\($0.resourceName)/\($0.patternType)/\($0.acls.count)" }
                == ["2/orders./4/1", "2/payments/3/1", "4/kafka-cluster/3/1"])
        #expect(await fixture.broker.metadata.current().acls.count == 2)

        // Persisted: a restart loads them.
        try await fixture.stop()
        let reopened = try await self.fixture(fixture.directory)
        defer { Task { await reopened.close() } }
        #expect(allows(reopened, .write, topic: "payments"))

        let deleted = try await reopened.send(DeleteAclsRequest(filters: [
            .init(resourceTypeFilter: 2, resourceNameFilter: "payments", patternTypeFilter: 3, principalFilter: nil, hostFilter: nil,
                  operation: 1, permissionType: 1),
        ]), version: 3, as: Self.admin)
        #expect(deleted.filterResults.count == 1)
        #expect(deleted.filterResults[0].errorCode == 0)
        #expect(deleted.filterResults[0].matchingAcls.map { "\($0.resourceName) \($0.principal) \($0.operation) \($0.errorCode)" } == ["payments User:alice 4 0"])
        #expect(!allows(reopened, .write, topic: "payments"))
        #expect(await reopened.broker.metadata.current().acls.count == 1)
    }

    @Test func fileAclsAreListedButNotDeleted() async throws {
        let fixture = try await fixture()
        defer { Task { await fixture.close() } }
        _ = try await fixture.send(CreateAclsRequest(creations: [creation(2, "orders.", 4, operation: AclOperation.write.rawValue)]), version: 2, as: Self.admin)
        let deleted = try await fixture.send(DeleteAclsRequest(filters: [
            .init(resourceTypeFilter: 1, resourceNameFilter: nil, patternTypeFilter: 1, principalFilter: "User:alice", hostFilter: nil,
                  operation: 1, permissionType: 1),
        ]), version: 2, as: Self.admin)
        let matching = deleted.filterResults[0].matchingAcls
        #expect(matching.count == 2)
        let file = try #require(matching.first { $0.operation == AclOperation.read.rawValue })
        #expect(file.errorCode == KafkaErrorCode.invalidRequest.rawValue)
        #expect(file.errorMessage?.contains("/etc/rampart/policies/orders.yaml:7") == true)
        let dynamic = try #require(matching.first { $0.operation == AclOperation.write.rawValue })
        #expect(dynamic.errorCode == 0)
        #expect(allows(fixture, .read, topic: "orders.eu"))
        #expect(!allows(fixture, .write, topic: "orders.eu"))
    }

    @Test func filtersAsKafka() async throws {
        let fixture = try await fixture()
        defer { Task { await fixture.close() } }
        _ = try await fixture.send(CreateAclsRequest(creations: [
            creation(2, "*"), creation(2, "orders.eu"), creation(2, "orders.", 4, principal: "User:bob"),
            creation(2, "orders.eu", host: "10.0.0.1", permission: 2), creation(3, "billing", operation: AclOperation.read.rawValue),
        ]), version: 3, as: Self.admin)
        func names(_ type: Int8, _ name: String?, _ pattern: Int8, principal: String? = nil, host: String? = nil,
                   operation: Int8 = 1, permission: Int8 = 1) async throws -> [String] {
            let response = try await fixture.send(DescribeAclsRequest(resourceTypeFilter: type, resourceNameFilter: name, patternTypeFilter: pattern,
                                                                      principalFilter: principal, hostFilter: host, operation: operation,
                                                                      permissionType: permission), version: 3, as: Self.admin)
            return response.resources.flatMap { r in r.acls.map { "\(r.resourceName)/\(r.patternType)/\($0.principal)/\($0.host)/\($0.permissionType)" } }.sorted()
        }
        // MATCH: every pattern that applies to orders.eu (literal, wildcard, prefixes).
        #expect(try await names(2, "orders.eu", 2) == ["*/3/User:alice/*/3", "orders./4/User:alice/*/3", "orders./4/User:bob/*/3",
                                                       "orders.eu/3/User:alice/*/3", "orders.eu/3/User:alice/10.0.0.1/2"])
        // ANY: the exact name, any pattern type.
        #expect(try await names(2, "orders.", 1) == ["orders./4/User:alice/*/3", "orders./4/User:bob/*/3"])
        #expect(try await names(2, "orders.", 3) == [])
        #expect(try await names(1, nil, 1, principal: "User:bob") == ["orders./4/User:bob/*/3"])
        #expect(try await names(1, nil, 1, host: "10.0.0.1") == ["orders.eu/3/User:alice/10.0.0.1/2"])
        #expect(try await names(1, nil, 1, permission: 2) == ["orders.eu/3/User:alice/10.0.0.1/2"])
        #expect(try await names(3, nil, 1, operation: AclOperation.read.rawValue) == ["billing/3/User:alice/*/3"])
        // Version 0 sees LITERAL ACLs only.
        let v0 = try await describeAll(fixture, version: 0)
        #expect(v0.resources.allSatisfy { $0.patternType == 3 })
        #expect(v0.resources.map(\.resourceName) == ["*", "orders.eu", "billing"])
        // UNKNOWN codes are refused.
        let bad = try await fixture.send(DescribeAclsRequest(resourceTypeFilter: 0, resourceNameFilter: nil, patternTypeFilter: 1,
                                                             principalFilter: nil, hostFilter: nil, operation: 1, permissionType: 1),
                                         version: 3, as: Self.admin)
        #expect(bad.errorCode == KafkaErrorCode.invalidRequest.rawValue)
    }

    @Test func validationAsKafka() async throws {
        let fixture = try await fixture()
        defer { Task { await fixture.close() } }
        let created = try await fixture.send(CreateAclsRequest(creations: [
            creation(0),                                   // UNKNOWN resource type
            creation(1),                                   // ANY resource type
            creation(2, "*", 4),                           // PREFIXED *
            creation(2, "t", 2),                           // MATCH pattern
            creation(4, "other-cluster", operation: AclOperation.alter.rawValue),
            creation(2, ""),                               // empty name
            creation(principal: "alice"),                  // no type
            creation(operation: AclOperation.idempotentWrite.rawValue),   // not a topic operation
            creation(operation: 1),                        // ANY operation
            creation(permission: 1),                       // ANY permission
            creation(host: ""),
            creation(2, "fine"),
        ]), version: 3, as: Self.admin)
        #expect(created.results.map(\.errorCode) == Array(repeating: 42, count: 11) + [0])
        #expect(created.results[2].errorMessage?.contains("PREFIXED") == true)
        #expect(await fixture.broker.metadata.current().acls.count == 1)
    }

    @Test func requiresAlterAndDescribeOnTheCluster() async throws {
        let fixture = try await fixture()
        defer { Task { await fixture.close() } }
        let create = try await fixture.send(CreateAclsRequest(creations: [creation()]), version: 3, as: Self.alice)
        #expect(create.results.map(\.errorCode) == [31])
        let describe = try await fixture.send(DescribeAclsRequest(resourceTypeFilter: 1, resourceNameFilter: nil, patternTypeFilter: 1,
                                                                  principalFilter: nil, hostFilter: nil, operation: 1, permissionType: 1),
                                              version: 3, as: Self.alice)
        #expect(describe.errorCode == 31)
        let delete = try await fixture.send(DeleteAclsRequest(filters: [.init(resourceTypeFilter: 1, resourceNameFilter: nil, patternTypeFilter: 1,
                                                                              principalFilter: nil, hostFilter: nil, operation: 1, permissionType: 1)]),
                                            version: 3, as: Self.alice)
        #expect(delete.filterResults.map(\.errorCode) == [31])
        #expect(await fixture.broker.metadata.current().acls.isEmpty)
        // Alter on the Cluster is enough to create; Describe to describe.
        fixture.broker.authorizer.replaceFileBindings([
            AclBinding(pattern: .cluster, entry: AccessControlEntry(principal: Self.alice, operation: .alter, permission: .allow)),
        ])
        let allowed = try await fixture.send(CreateAclsRequest(creations: [creation()]), version: 3, as: Self.alice)
        #expect(allowed.results.map(\.errorCode) == [0])
        let described = try await fixture.send(DescribeAclsRequest(resourceTypeFilter: 1, resourceNameFilter: nil, patternTypeFilter: 1,
                                                                    principalFilter: nil, hostFilter: nil, operation: 1, permissionType: 1),
                                                version: 3, as: Self.alice)
        #expect(described.errorCode == 0)   // Alter implies Describe
    }
}
