import KafkaProtocol
import NIOCore
@testable import RampartBroker
import RampartStorage
import Testing

/// Kafka's finer authorization rules in the handlers: per-partition answers, names that must not leak,
/// filtering, authorized operations, auditing.
@Suite struct AuthorizationRuleTests {
    typealias B = AuthorizedBroker

    func withBroker(_ body: (AuthorizedBroker) async throws -> Void) async throws {
        let t = try await AuthorizedBroker.make()
        do { try await body(t) } catch { Issue.record(error) }
        await t.close()
    }

    @Test func produceAnswersPerPartitionAndDoesNotLeakNames() async throws {
        try await withBroker { t in
            try await t.broker.createTopic(name: "secret", partitions: 1)
            t.grant([grant(.write, .topic, "orders"), grant(.write, .topic, "ghost")])
            let response = try await t.call(ProduceRequest(acks: 1, timeoutMs: 1000, topicData: [
                .init(name: "orders", partitionData: [.init(index: 0, records: BrokerFixture.batch(count: 1)),
                                                      .init(index: 1, records: BrokerFixture.batch(count: 1))]),
                .init(name: "secret", partitionData: [.init(index: 0, records: BrokerFixture.batch(count: 1))]),
                .init(name: "missing", partitionData: [.init(index: 0, records: BrokerFixture.batch(count: 1))]),
                .init(name: "ghost", partitionData: [.init(index: 0, records: BrokerFixture.batch(count: 1))]),
            ]), version: 9, as: B.alice)
            let codes = response.responses.map { $0.partitionResponses.map { KafkaErrorCode($0.errorCode) } }
            #expect(codes == [[.noError, .noError], [.topicAuthorizationFailed], [.topicAuthorizationFailed], [.unknownTopicOrPartition]])
            #expect(await t.broker.logs.log(for: TopicPartition(topic: "secret", partition: 0))?.logEndOffset == 0)
            #expect(await t.broker.logs.log(for: TopicPartition(topic: "orders", partition: 1))?.logEndOffset == 1)
        }
    }

    @Test func transactionalBatchesNeedWriteOnTheTransactionalId() async throws {
        try await withBroker { t in
            t.grant([grant(.write, .topic, "orders")])
            let records = [Record(offsetDelta: 0, timestampDelta: 0, key: nil, value: ByteBuffer(string: "x"))]
            var batch = ByteBuffer()
            try RecordBatch(records: records, baseTimestamp: 1_700_000_000_000, producerId: 7, producerEpoch: 0, baseSequence: 0,
                            isTransactional: true).write(to: &batch)
            let request = ProduceRequest(transactionalId: "tx", acks: -1, timeoutMs: 1000, topicData: [
                .init(name: "orders", partitionData: [.init(index: 0, records: batch)]),
            ])
            let response = try await t.call(request, version: 9, as: B.alice)
            #expect(KafkaErrorCode(response.responses[0].partitionResponses[0].errorCode) == .transactionalIdAuthorizationFailed)
            #expect(await t.broker.logs.log(for: TopicPartition(topic: "orders", partition: 0))?.logEndOffset == 3)
        }
    }

    @Test func metadataHidesAndRefusesWithoutLeaking() async throws {
        try await withBroker { t in
            try await t.broker.createTopic(name: "secret", partitions: 1)
            t.grant([grant(.describe, .topic, "orders"), grant(.describe, .topic, "wanted")])
            let all = try await t.call(MetadataRequest(topics: nil), version: 12, as: B.alice)
            #expect(all.topics.map(\.name) == ["orders"])
            let none = try await t.call(MetadataRequest(topics: nil), version: 12, as: B.bob)
            #expect(none.topics.isEmpty)
            #expect(t.authorizer.deniedCount == 0, "filtering an all-topics answer is not a denial")

            let named = try await t.call(MetadataRequest(topics: [.init(name: "secret"), .init(name: "nosuch"), .init(name: "wanted")],
                                                         allowAutoTopicCreation: true), version: 12, as: B.alice)
            // "secret" exists and "nosuch" does not: the same answer. "wanted" may be described but not created.
            #expect(named.topics.map { KafkaErrorCode($0.errorCode) } == [.topicAuthorizationFailed, .topicAuthorizationFailed, .topicAuthorizationFailed])
            #expect(named.topics.map(\.name) == ["secret", "nosuch", "wanted"])
            #expect(named.topics.allSatisfy { $0.partitions.isEmpty && $0.topicId == .zero })
            #expect(await t.broker.metadata.current().topics["wanted"] == nil)

            let noCreate = try await t.call(MetadataRequest(topics: [.init(name: "wanted")], allowAutoTopicCreation: false), version: 12, as: B.alice)
            #expect(KafkaErrorCode(noCreate.topics[0].errorCode) == .unknownTopicOrPartition)

            t.grant([grant(.describe, .topic, "wanted"), grant(.create, .cluster, "kafka-cluster")])
            let created = try await t.call(MetadataRequest(topics: [.init(name: "wanted")], allowAutoTopicCreation: true), version: 12, as: B.alice)
            #expect(created.topics[0].errorCode == 0)

            // By id: an unknown id is UNKNOWN_TOPIC_ID; a known one the principal may not describe comes back without its name.
            let secretID = Broker.wireTopicID(try #require(await t.broker.metadata.current().topics["secret"]).id)
            let byID = try await t.call(MetadataRequest(topics: [.init(topicId: secretID), .init(topicId: KafkaUUID(mostSignificantBits: 1, leastSignificantBits: 2))]),
                                        version: 12, as: B.alice)
            #expect(byID.topics.map { KafkaErrorCode($0.errorCode) } == [.topicAuthorizationFailed, .unknownTopicId])
            #expect(byID.topics[0].name == nil)
        }
    }

    @Test func metadataReportsAuthorizedOperations() async throws {
        try await withBroker { t in
            t.grant([grant(.read, .topic, "orders"), grant(.alter, .cluster, "kafka-cluster")])
            let response = try await t.call(MetadataRequest(topics: [.init(name: "orders")], includeClusterAuthorizedOperations: true,
                                                            includeTopicAuthorizedOperations: true), version: 10, as: B.alice)
            #expect(response.topics[0].topicAuthorizedOperations == AclOperation.read.bit | AclOperation.describe.bit)
            #expect(response.clusterAuthorizedOperations == AclOperation.alter.bit | AclOperation.describe.bit)
            let bob = try await t.call(MetadataRequest(topics: nil, includeClusterAuthorizedOperations: true), version: 10, as: B.bob)
            #expect(bob.clusterAuthorizedOperations == 0)
        }
    }

    @Test func fetchRefusesUnknownTopicsAndFollowersAlike() async throws {
        try await withBroker { t in
            t.grant([grant(.read, .topic, "orders")])
            func fetch(_ topic: String, replica: Int32 = -1) async throws -> KafkaErrorCode {
                let response = try await t.call(FetchRequest(replicaId: replica, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, topics: [
                    .init(topic: topic, partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)]),
                ]), version: 12, as: B.alice)
                return KafkaErrorCode(response.responses[0].partitions[0].errorCode)
            }
            let consumer = try await fetch("orders")
            let unknown = try await fetch("nosuch")
            let follower = try await fetch("orders", replica: 2)
            #expect(consumer == .noError)
            #expect(unknown == .topicAuthorizationFailed)
            #expect(follower == .topicAuthorizationFailed, "a follower needs ClusterAction")
            t.grant([grant(.read, .topic, "orders"), grant(.clusterAction, .cluster, "kafka-cluster")])
            let allowedFollower = try await fetch("orders", replica: 2)
            #expect(allowedFollower == .noError)
        }
    }

    @Test func offsetCommitAndFetchAnswerPerTopic() async throws {
        try await withBroker { t in
            t.grant([grant(.read, .group, "g"), grant(.read, .topic, "orders")])
            try await t.broker.createTopic(name: "secret", partitions: 1)
            let commit = try await t.call(OffsetCommitRequest(groupId: "g", topics: [
                .init(name: "orders", partitions: [.init(partitionIndex: 1, committedOffset: 5)]),
                .init(name: "secret", partitions: [.init(partitionIndex: 0, committedOffset: 5)]),
            ]), version: 8, as: B.alice)
            #expect(commit.topics.map { KafkaErrorCode($0.partitions[0].errorCode) } == [.noError, .topicAuthorizationFailed])
            #expect(await t.broker.offsets.committed(groupID: "g").keys.map(\.description).sorted() == ["orders-0", "orders-1"])

            // admin commits to "secret" too; alice's "all offsets" leaves it out, naming it is refused.
            _ = try await t.call(OffsetCommitRequest(groupId: "g", topics: [.init(name: "secret", partitions: [.init(partitionIndex: 0, committedOffset: 1)])]),
                                 version: 8, as: B.admin)
            let all = try await t.call(OffsetFetchRequest(groups: [.init(groupId: "g", topics: nil)]), version: 8, as: B.alice)
            #expect(all.groups[0].topics.map(\.name) == ["orders"])
            let named = try await t.call(OffsetFetchRequest(groupId: "g", topics: [.init(name: "secret", partitionIndexes: [0])]), version: 7, as: B.alice)
            #expect(KafkaErrorCode(named.topics[0].partitions[0].errorCode) == .topicAuthorizationFailed)
            #expect(named.topics[0].partitions[0].committedOffset == -1)
        }
    }

    @Test func findCoordinatorCreatesNothingForAnUnauthorizedGroup() async throws {
        let authorizer = Authorizer(config: AuthorizerConfig())
        let fixture = try await BrokerFixture.make(authorizer: authorizer) { $0.offsetsTopicPartitions = 1 }
        let response = try await fixture.send(FindCoordinatorRequest(keyType: 0, coordinatorKeys: ["g1", "g2"]), version: 4, as: B.bob)
        #expect(response.coordinators.map { KafkaErrorCode($0.errorCode) } == [.groupAuthorizationFailed, .groupAuthorizationFailed])
        #expect(await fixture.broker.metadata.current().topics.isEmpty, "__consumer_offsets was created")
        authorizer.replaceDynamicBindings([AclBinding(pattern: ResourcePattern(.group, "g", .prefixed),
                                                      entry: AccessControlEntry(principal: B.bob, operation: .describe, permission: .allow))])
        let mixed = try await fixture.send(FindCoordinatorRequest(keyType: 0, coordinatorKeys: ["g1", "x"]), version: 4, as: B.bob)
        #expect(mixed.coordinators.map { KafkaErrorCode($0.errorCode) } == [.noError, .groupAuthorizationFailed])
        let v3 = try await fixture.send(FindCoordinatorRequest(key: "x", keyType: 0), version: 3, as: B.bob)
        #expect(KafkaErrorCode(v3.errorCode) == .groupAuthorizationFailed)
        await fixture.close()
    }

    @Test func listAndDescribeGroupsFollowTheAcls() async throws {
        try await withBroker { t in
            _ = try await t.call(OffsetCommitRequest(groupId: "h", topics: [.init(name: "orders", partitions: [.init(partitionIndex: 0, committedOffset: 1)])]),
                                 version: 8, as: B.admin)
            t.grant([grant(.read, .group, "g")])
            #expect(try await t.call(ListGroupsRequest(), version: 4, as: B.alice).groups.map(\.groupId) == ["g"])
            t.grant([grant(.describe, .cluster, "kafka-cluster")])
            #expect(try await t.call(ListGroupsRequest(), version: 4, as: B.alice).groups.map(\.groupId) == ["g", "h"])

            t.grant([grant(.read, .group, "g")])
            let described = try await t.call(DescribeGroupsRequest(groups: ["g", "h"], includeAuthorizedOperations: true), version: 5, as: B.alice)
            #expect(described.groups.map { KafkaErrorCode($0.errorCode) } == [.noError, .groupAuthorizationFailed])
            #expect(described.groups[0].authorizedOperations == AclOperation.read.bit | AclOperation.describe.bit)
        }
    }

    @Test func deleteTopicsByIdHidesTheNameWithoutDescribe() async throws {
        try await withBroker { t in
            let id = Broker.wireTopicID(try #require(await t.broker.metadata.current().topics["orders"]).id)
            let hidden = try await t.call(DeleteTopicsRequest(topics: [.init(name: nil, topicId: id)]), version: 6, as: B.bob)
            #expect(KafkaErrorCode(hidden.responses[0].errorCode) == .topicAuthorizationFailed)
            #expect(hidden.responses[0].name == nil)
            t.grant([grant(.describe, .topic, "orders")])
            let named = try await t.call(DeleteTopicsRequest(topics: [.init(name: nil, topicId: id)]), version: 6, as: B.alice)
            #expect(KafkaErrorCode(named.responses[0].errorCode) == .topicAuthorizationFailed)
            #expect(named.responses[0].name == "orders")
            #expect(await t.broker.metadata.current().topics["orders"] != nil)
            let missing = try await t.call(DeleteTopicsRequest(topicNames: ["nosuch"]), version: 5, as: B.bob)
            #expect(KafkaErrorCode(missing.responses[0].errorCode) == .topicAuthorizationFailed, "not UNKNOWN_TOPIC_OR_PARTITION")
        }
    }

    @Test func createTopicsHidesConfigsWithoutDescribeConfigs() async throws {
        try await withBroker { t in
            t.grant([grant(.create, .topic, "fresh")])
            let response = try await t.call(CreateTopicsRequest(topics: [.init(name: "fresh", numPartitions: 1, replicationFactor: 1)], timeoutMs: 1000),
                                            version: 7, as: B.alice)
            #expect(response.topics[0].errorCode == 0)
            #expect(KafkaErrorCode(response.topics[0].topicConfigErrorCode) == .topicAuthorizationFailed)
            #expect(response.topics[0].configs == nil)
            t.grant([grant(.create, .topic, "fresh2"), grant(.describeConfigs, .topic, "fresh2")])
            let withConfigs = try await t.call(CreateTopicsRequest(topics: [.init(name: "fresh2", numPartitions: 1, replicationFactor: 1)], timeoutMs: 1000),
                                               version: 7, as: B.alice)
            #expect(withConfigs.topics[0].topicConfigErrorCode == 0)
            #expect(withConfigs.topics[0].configs?.isEmpty == false)
        }
    }

    @Test func hostsSuperUsersAndTheSwitch() async throws {
        try await withBroker { t in
            // The fixture's client address is 127.0.0.1.
            t.authorizer.replaceDynamicBindings([AclBinding(pattern: ResourcePattern(.topic, "orders"),
                                                            entry: AccessControlEntry(principal: B.alice, host: "10.0.0.9", operation: .describe, permission: .allow))])
            let elsewhere = try await t.call(MetadataRequest(topics: [.init(name: "orders")]), version: 12, as: B.alice)
            #expect(KafkaErrorCode(elsewhere.topics[0].errorCode) == .topicAuthorizationFailed)
            t.authorizer.replaceDynamicBindings([AclBinding(pattern: ResourcePattern(.topic, "orders"),
                                                            entry: AccessControlEntry(principal: B.alice, host: "127.0.0.1", operation: .describe, permission: .allow))])
            #expect(try await t.call(MetadataRequest(topics: [.init(name: "orders")]), version: 12, as: B.alice).topics[0].errorCode == 0)

            t.authorizer.replaceDynamicBindings([AclBinding(pattern: ResourcePattern(.topic, "*"),
                                                            entry: AccessControlEntry(principal: .wildcard, operation: .all, permission: .deny))])
            #expect(try await t.call(MetadataRequest(topics: [.init(name: "orders")]), version: 12, as: B.admin).topics[0].errorCode == 0,
                    "super users bypass DENY")
            t.authorizer.replaceConfig(AuthorizerConfig(enabled: false))
            #expect(try await t.call(MetadataRequest(topics: [.init(name: "orders")]), version: 12, as: B.bob).topics[0].errorCode == 0)
        }
    }

    @Test func denialsReachTheAuditSink() async throws {
        final class Sink: AuthorizationAuditSink, @unchecked Sendable {
            var events: [AuthorizationEvent] = []
            func record(_ event: AuthorizationEvent) { events.append(event) }
        }
        try await withBroker { t in
            let sink = Sink()
            t.authorizer.setAuditSink(sink)
            t.authorizer.replaceFileBindings([AclBinding(pattern: ResourcePattern(.topic, "orders"),
                                                         entry: AccessControlEntry(principal: B.bob, operation: .write, permission: .deny),
                                                         source: .file(path: "policies/x.yaml", line: 7))])
            _ = try await t.call(ProduceRequest(acks: 1, timeoutMs: 1000, topicData: [
                .init(name: "orders", partitionData: [.init(index: 0, records: BrokerFixture.batch(count: 1))]),
            ]), version: 9, as: B.bob)
            let event = try #require(sink.events.first)
            #expect(sink.events.count == 1)
            #expect(event.principal == B.bob && event.clientHost == "127.0.0.1" && event.listener == "PLAINTEXT")
            #expect(event.apiKey == 0 && event.operation == .write && event.resourceType == .topic && event.resourceName == "orders")
            #expect(!event.decision.isAllowed)
            #expect(event.matchedRule?.source == .file(path: "policies/x.yaml", line: 7))
            #expect(event.policyFingerprint == t.authorizer.snapshot.fingerprint)
        }
    }
}
