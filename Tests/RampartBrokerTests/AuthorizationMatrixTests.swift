import KafkaProtocol
import NIOCore
import RampartBroker
import RampartSASL
import Testing

/// Kafka's table "Operations and Resources on Protocols", API by API: `alice`, holding exactly the ACLs
/// the table asks for, is served; `bob`, holding none, gets Kafka's error — and his request changed
/// nothing (metadata, logs, groups, committed offsets). Without any one of several required ACLs the
/// request is refused too.
@Suite struct AuthorizationMatrixTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var api: KafkaApiKey
        var label: String
        var grants: [AclBinding]
        /// The code `alice` gets (or a stand-in for an answer without error code, see `label`).
        var allowed: KafkaErrorCode
        /// The code `bob` gets.
        var denied: KafkaErrorCode
        var run: @Sendable (AuthorizedBroker, KafkaPrincipal) async throws -> KafkaErrorCode
        var testDescription: String { "\(api.name) \(label)" }
    }

    static func code(_ value: Int16) -> KafkaErrorCode { KafkaErrorCode(value) }

    static let ordersPartition0 = [ListOffsetsRequest.ListOffsetsTopic(name: "orders", partitions: [.init(partitionIndex: 0, timestamp: -1)])]

    static let cases: [Case] = [
        Case(api: .produce, label: "Write Topic", grants: [grant(.write, .topic, "orders")], allowed: .noError, denied: .topicAuthorizationFailed) { t, who in
            let response = try await t.call(ProduceRequest(acks: -1, timeoutMs: 1000, topicData: [
                .init(name: "orders", partitionData: [.init(index: 0, records: BrokerFixture.batch(count: 2))]),
            ]), version: 9, as: who)
            return code(response.responses[0].partitionResponses[0].errorCode)
        },
        Case(api: .fetch, label: "Read Topic", grants: [grant(.read, .topic, "orders")], allowed: .noError, denied: .topicAuthorizationFailed) { t, who in
            let response = try await t.call(FetchRequest(maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, topics: [
                .init(topic: "orders", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)]),
            ]), version: 12, as: who)
            return code(response.responses[0].partitions[0].errorCode)
        },
        Case(api: .listOffsets, label: "Describe Topic", grants: [grant(.describe, .topic, "orders")], allowed: .noError,
             denied: .topicAuthorizationFailed) { t, who in
            code(try await t.call(ListOffsetsRequest(replicaId: -1, topics: ordersPartition0), version: 7, as: who).topics[0].partitions[0].errorCode)
        },
        Case(api: .metadata, label: "Describe Topic", grants: [grant(.describe, .topic, "orders")], allowed: .noError,
             denied: .topicAuthorizationFailed) { t, who in
            code(try await t.call(MetadataRequest(topics: [.init(name: "orders")], allowAutoTopicCreation: false), version: 12, as: who).topics[0].errorCode)
        },
        Case(api: .metadata, label: "auto-creation: Describe + Create Topic", grants: [grant(.describe, .topic, "fresh"), grant(.create, .topic, "fresh")],
             allowed: .noError, denied: .topicAuthorizationFailed) { t, who in
            code(try await t.call(MetadataRequest(topics: [.init(name: "fresh")], allowAutoTopicCreation: true), version: 9, as: who).topics[0].errorCode)
        },
        Case(api: .offsetCommit, label: "Read Group + Read Topic", grants: [grant(.read, .group, "g"), grant(.read, .topic, "orders")],
             allowed: .noError, denied: .groupAuthorizationFailed) { t, who in
            let response = try await t.call(OffsetCommitRequest(groupId: "g", topics: [
                .init(name: "orders", partitions: [.init(partitionIndex: 0, committedOffset: 2)]),
            ]), version: 8, as: who)
            return code(response.topics[0].partitions[0].errorCode)
        },
        Case(api: .offsetFetch, label: "v7 Describe Group + Describe Topic", grants: [grant(.describe, .group, "g"), grant(.describe, .topic, "orders")],
             allowed: .noError, denied: .groupAuthorizationFailed) { t, who in
            let response = try await t.call(OffsetFetchRequest(groupId: "g", topics: [.init(name: "orders", partitionIndexes: [0])]), version: 7, as: who)
            return code(response.errorCode != 0 ? response.errorCode : response.topics[0].partitions[0].errorCode)
        },
        Case(api: .offsetFetch, label: "v8 Describe Group + Describe Topic", grants: [grant(.describe, .group, "g"), grant(.describe, .topic, "orders")],
             allowed: .noError, denied: .groupAuthorizationFailed) { t, who in
            let response = try await t.call(OffsetFetchRequest(groups: [.init(groupId: "g", topics: [.init(name: "orders", partitionIndexes: [0])])]),
                                            version: 8, as: who)
            let group = response.groups[0]
            return code(group.errorCode != 0 ? group.errorCode : group.topics[0].partitions[0].errorCode)
        },
        Case(api: .findCoordinator, label: "Describe Group", grants: [grant(.describe, .group, "g")], allowed: .noError,
             denied: .groupAuthorizationFailed) { t, who in
            code(try await t.call(FindCoordinatorRequest(keyType: 0, coordinatorKeys: ["g"]), version: 4, as: who).coordinators[0].errorCode)
        },
        Case(api: .findCoordinator, label: "Describe TransactionalId (no coordinator yet)", grants: [grant(.describe, .transactionalId, "tx")],
             allowed: .coordinatorNotAvailable, denied: .transactionalIdAuthorizationFailed) { t, who in
            code(try await t.call(FindCoordinatorRequest(keyType: 1, coordinatorKeys: ["tx"]), version: 6, as: who).coordinators[0].errorCode)
        },
        Case(api: .joinGroup, label: "Read Group", grants: [grant(.read, .group, "g2")], allowed: .memberIdRequired,
             denied: .groupAuthorizationFailed) { t, who in
            code(try await t.call(JoinGroupRequest(groupId: "g2", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 20_000, memberId: "",
                                                   protocolType: "consumer", protocols: [.init(name: "range", metadata: try subscription(["orders"]))]),
                                  version: 5, as: who).errorCode)
        },
        Case(api: .heartbeat, label: "Read Group", grants: [grant(.read, .group, "g")], allowed: .unknownMemberId,
             denied: .groupAuthorizationFailed) { t, who in
            code(try await t.call(HeartbeatRequest(groupId: "g", generationId: 1, memberId: "m"), version: 4, as: who).errorCode)
        },
        Case(api: .leaveGroup, label: "Read Group", grants: [grant(.read, .group, "g")], allowed: .noError, denied: .groupAuthorizationFailed) { t, who in
            code(try await t.call(LeaveGroupRequest(groupId: "g", members: [.init(memberId: "m")]), version: 4, as: who).errorCode)
        },
        Case(api: .syncGroup, label: "Read Group", grants: [grant(.read, .group, "g")], allowed: .unknownMemberId,
             denied: .groupAuthorizationFailed) { t, who in
            code(try await t.call(SyncGroupRequest(groupId: "g", generationId: 1, memberId: "m", protocolType: "consumer", protocolName: "range"),
                                  version: 5, as: who).errorCode)
        },
        Case(api: .describeGroups, label: "Describe Group", grants: [grant(.describe, .group, "g")], allowed: .noError,
             denied: .groupAuthorizationFailed) { t, who in
            code(try await t.call(DescribeGroupsRequest(groups: ["g"], includeAuthorizedOperations: true), version: 5, as: who).groups[0].errorCode)
        },
        Case(api: .listGroups, label: "Describe Group (others filtered out, never an error)", grants: [grant(.describe, .group, "g")],
             allowed: .noError, denied: .groupAuthorizationFailed) { t, who in
            let response = try await t.call(ListGroupsRequest(), version: 4, as: who)
            #expect(response.errorCode == 0)
            return response.groups.map(\.groupId) == ["g"] ? .noError : .groupAuthorizationFailed
        },
        Case(api: .deleteGroups, label: "Delete Group", grants: [grant(.delete, .group, "g")], allowed: .noError, denied: .groupAuthorizationFailed) { t, who in
            code(try await t.call(DeleteGroupsRequest(groupsNames: ["g"]), version: 2, as: who).results[0].errorCode)
        },
        Case(api: .offsetDelete, label: "Delete Group + Read Topic", grants: [grant(.delete, .group, "g"), grant(.read, .topic, "orders")],
             allowed: .noError, denied: .groupAuthorizationFailed) { t, who in
            let response = try await t.call(OffsetDeleteRequest(groupId: "g", topics: [.init(name: "orders", partitions: [.init(partitionIndex: 0)])]),
                                            version: 0, as: who)
            return code(response.errorCode != 0 ? response.errorCode : response.topics[0].partitions[0].errorCode)
        },
        Case(api: .createTopics, label: "Create Topic", grants: [grant(.create, .topic, "fresh")], allowed: .noError, denied: .topicAuthorizationFailed) { t, who in
            code(try await t.call(CreateTopicsRequest(topics: [.init(name: "fresh", numPartitions: 1, replicationFactor: 1)], timeoutMs: 1000),
                                  version: 7, as: who).topics[0].errorCode)
        },
        Case(api: .createTopics, label: "Create Cluster", grants: [grant(.create, .cluster, "kafka-cluster")], allowed: .noError,
             denied: .topicAuthorizationFailed) { t, who in
            code(try await t.call(CreateTopicsRequest(topics: [.init(name: "fresh", numPartitions: 1, replicationFactor: 1)], timeoutMs: 1000),
                                  version: 7, as: who).topics[0].errorCode)
        },
        Case(api: .deleteTopics, label: "Delete Topic", grants: [grant(.delete, .topic, "orders")], allowed: .noError, denied: .topicAuthorizationFailed) { t, who in
            code(try await t.call(DeleteTopicsRequest(topics: [.init(name: "orders")]), version: 6, as: who).responses[0].errorCode)
        },
        Case(api: .deleteRecords, label: "Delete Topic", grants: [grant(.delete, .topic, "orders")], allowed: .noError, denied: .topicAuthorizationFailed) { t, who in
            code(try await t.call(DeleteRecordsRequest(topics: [.init(name: "orders", partitions: [.init(partitionIndex: 0, offset: 1)])], timeoutMs: 1000),
                                  version: 2, as: who).topics[0].partitions[0].errorCode)
        },
        Case(api: .initProducerId, label: "IdempotentWrite Cluster", grants: [grant(.idempotentWrite, .cluster, "kafka-cluster")], allowed: .noError,
             denied: .clusterAuthorizationFailed) { t, who in
            code(try await t.call(InitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: 1000), version: 4, as: who).errorCode)
        },
        Case(api: .initProducerId, label: "Write on a topic (Kafka 3.x)", grants: [grant(.write, .topic, "orders")], allowed: .noError,
             denied: .clusterAuthorizationFailed) { t, who in
            code(try await t.call(InitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: 1000), version: 4, as: who).errorCode)
        },
        Case(api: .initProducerId, label: "Write TransactionalId (transactions not served yet)", grants: [grant(.write, .transactionalId, "tx")],
             allowed: .unsupportedVersion, denied: .transactionalIdAuthorizationFailed) { t, who in
            code(try await t.call(InitProducerIdRequest(transactionalId: "tx", transactionTimeoutMs: 1000), version: 4, as: who).errorCode)
        },
        Case(api: .offsetForLeaderEpoch, label: "Describe Topic", grants: [grant(.describe, .topic, "orders")], allowed: .noError,
             denied: .topicAuthorizationFailed) { t, who in
            code(try await t.call(OffsetForLeaderEpochRequest(topics: [.init(topic: "orders", partitions: [.init(partition: 0, leaderEpoch: 0)])]),
                                  version: 4, as: who).topics[0].partitions[0].errorCode)
        },
        Case(api: .offsetForLeaderEpoch, label: "ClusterAction Cluster", grants: [grant(.clusterAction, .cluster, "kafka-cluster")], allowed: .noError,
             denied: .topicAuthorizationFailed) { t, who in
            code(try await t.call(OffsetForLeaderEpochRequest(topics: [.init(topic: "orders", partitions: [.init(partition: 0, leaderEpoch: 0)])]),
                                  version: 4, as: who).topics[0].partitions[0].errorCode)
        },
        Case(api: .describeConfigs, label: "DescribeConfigs Topic", grants: [grant(.describeConfigs, .topic, "orders")], allowed: .noError,
             denied: .topicAuthorizationFailed) { t, who in
            code(try await t.call(DescribeConfigsRequest(resources: [.init(resourceType: 2, resourceName: "orders", configurationKeys: nil)]),
                                  version: 4, as: who).results[0].errorCode)
        },
        Case(api: .describeConfigs, label: "DescribeConfigs Cluster (broker)", grants: [grant(.describeConfigs, .cluster, "kafka-cluster")],
             allowed: .noError, denied: .clusterAuthorizationFailed) { t, who in
            code(try await t.call(DescribeConfigsRequest(resources: [.init(resourceType: 4, resourceName: "1", configurationKeys: nil)]),
                                  version: 4, as: who).results[0].errorCode)
        },
        Case(api: .alterConfigs, label: "AlterConfigs Topic", grants: [grant(.alterConfigs, .topic, "orders")], allowed: .noError,
             denied: .topicAuthorizationFailed) { t, who in
            code(try await t.call(AlterConfigsRequest(resources: [.init(resourceType: 2, resourceName: "orders", configs: [.init(name: "retention.ms", value: "1000")])]),
                                  version: 2, as: who).responses[0].errorCode)
        },
        Case(api: .alterConfigs, label: "AlterConfigs Cluster (broker configs are then refused as static)",
             grants: [grant(.alterConfigs, .cluster, "kafka-cluster")], allowed: .invalidRequest, denied: .clusterAuthorizationFailed) { t, who in
            code(try await t.call(AlterConfigsRequest(resources: [.init(resourceType: 4, resourceName: "1", configs: [.init(name: "num.partitions", value: "2")])]),
                                  version: 2, as: who).responses[0].errorCode)
        },
        Case(api: .incrementalAlterConfigs, label: "AlterConfigs Topic", grants: [grant(.alterConfigs, .topic, "orders")], allowed: .noError,
             denied: .topicAuthorizationFailed) { t, who in
            code(try await t.call(IncrementalAlterConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "orders", configs: [.init(name: "retention.ms", configOperation: 0, value: "1000")]),
            ]), version: 1, as: who).responses[0].errorCode)
        },
        Case(api: .createPartitions, label: "Alter Topic", grants: [grant(.alter, .topic, "orders")], allowed: .noError, denied: .topicAuthorizationFailed) { t, who in
            code(try await t.call(CreatePartitionsRequest(topics: [.init(name: "orders", count: 3, assignments: nil)], timeoutMs: 1000),
                                  version: 3, as: who).results[0].errorCode)
        },
        Case(api: .describeCluster, label: "Describe Cluster (as Kafka: no error, authorized operations 0)",
             grants: [grant(.describe, .cluster, "kafka-cluster")], allowed: .noError, denied: .clusterAuthorizationFailed) { t, who in
            let response = try await t.call(DescribeClusterRequest(includeClusterAuthorizedOperations: true, endpointType: 1), version: 1, as: who)
            #expect(response.errorCode == 0)
            #expect(response.brokers.count == 1)
            return response.clusterAuthorizedOperations == 0 ? .clusterAuthorizationFailed : .noError
        },
        Case(api: .describeLogDirs, label: "Describe Cluster", grants: [grant(.describe, .cluster, "kafka-cluster")], allowed: .noError,
             denied: .clusterAuthorizationFailed) { t, who in
            let response = try await t.call(DescribeLogDirsRequest(topics: nil), version: 4, as: who)
            if response.errorCode != 0 { #expect(response.results.isEmpty) }
            return code(response.errorCode)
        },
        Case(api: .describeAcls, label: "Describe Cluster", grants: [grant(.describe, .cluster, "kafka-cluster")],
             allowed: .noError, denied: .clusterAuthorizationFailed) { t, who in
            code(try await t.call(DescribeAclsRequest(resourceTypeFilter: 1, resourceNameFilter: nil, patternTypeFilter: 1, principalFilter: nil,
                                                      hostFilter: nil, operation: 1, permissionType: 1), version: 3, as: who).errorCode)
        },
        Case(api: .createAcls, label: "Alter Cluster", grants: [grant(.alter, .cluster, "kafka-cluster")],
             allowed: .noError, denied: .clusterAuthorizationFailed) { t, who in
            code(try await t.call(CreateAclsRequest(creations: [.init(resourceType: 2, resourceName: "orders", resourcePatternType: 3,
                                                                      principal: "User:carol", host: "*", operation: 3, permissionType: 3)]),
                                  version: 3, as: who).results[0].errorCode)
        },
        Case(api: .deleteAcls, label: "Alter Cluster", grants: [grant(.alter, .cluster, "kafka-cluster")],
             allowed: .noError, denied: .clusterAuthorizationFailed) { t, who in
            code(try await t.call(DeleteAclsRequest(filters: [.init(resourceTypeFilter: 1, resourceNameFilter: nil, patternTypeFilter: 1,
                                                                    principalFilter: "User:carol", hostFilter: nil, operation: 1, permissionType: 1)]),
                                  version: 3, as: who).filterResults[0].errorCode)
        },
        Case(api: .describeUserScramCredentials, label: "Describe Cluster", grants: [grant(.describe, .cluster, "kafka-cluster")],
             allowed: .noError, denied: .clusterAuthorizationFailed) { t, who in
            code(try await t.call(DescribeUserScramCredentialsRequest(users: nil), version: 0, as: who).errorCode)
        },
        Case(api: .alterUserScramCredentials, label: "Alter Cluster", grants: [grant(.alter, .cluster, "kafka-cluster")],
             allowed: .noError, denied: .clusterAuthorizationFailed) { t, who in
            let salt = Array("0123456789abcdef".utf8)
            let salted = SCRAMCredential.saltedPassword(SASLPassword("pw"), salt: salt, iterations: 4096, mechanism: .sha256)
            let response = try await t.call(AlterUserScramCredentialsRequest(upsertions: [
                .init(name: "carol", mechanism: 1, iterations: 4096, salt: ByteBuffer(bytes: salt), saltedPassword: ByteBuffer(bytes: salted)),
            ]), version: 0, as: who)
            return code(response.results[0].errorCode)
        },
    ]

    @Test(arguments: cases)
    func requiredAclsAreExactlyEnough(_ c: Case) async throws {
        let t = try await AuthorizedBroker.make()
        do {
            t.grant(c.grants)
            let before = await t.state()
            let denied = try await c.run(t, AuthorizedBroker.bob)
            #expect(denied == c.denied, "bob got \(denied)")
            #expect(await t.state() == before, "a denied request changed the broker")
            if c.grants.count > 1 {
                for missing in c.grants.indices {
                    t.grant(c.grants.enumerated().filter { $0.offset != missing }.map(\.element))
                    let code = try await c.run(t, AuthorizedBroker.alice)
                    #expect([.topicAuthorizationFailed, .groupAuthorizationFailed].contains(code), "without \(c.grants[missing]): \(code)")
                    #expect(await t.state() == before, "a request missing \(c.grants[missing]) changed the broker")
                }
                t.grant(c.grants)
            }
            let allowed = try await c.run(t, AuthorizedBroker.alice)
            #expect(allowed == c.allowed, "alice got \(allowed)")
            // Filtering (ListGroups) is not a denial: Kafka neither logs nor counts it.
            if c.api != .listGroups { #expect(t.authorizer.deniedCount > 0) }
        } catch {
            Issue.record(error)
        }
        await t.close()
    }

    /// Every API the broker serves is in the matrix (but ApiVersions, which is never authorized).
    @Test func everyServedApiIsCovered() async throws {
        let t = try await AuthorizedBroker.make()
        let served = Set(t.fixture.registry.handlers.keys).subtracting([.apiVersions, .saslHandshake, .saslAuthenticate])
        let covered = Set(Self.cases.map(\.api))
        #expect(served.subtracting(covered).isEmpty, "not in the matrix: \(served.subtracting(covered).map(\.name))")
        await t.close()
    }
}
