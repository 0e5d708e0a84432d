import KafkaProtocol
import NIOCore
import RampartMetadata
import RampartStorage
import Testing
@testable import RampartBroker

@Suite struct CreateTopicsHandlerTests {
    typealias Topic = CreateTopicsRequest.CreatableTopic

    @Test func createsATopicAndAnswersItsShapeConfigsAndID() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        let handler = CreateTopicsHandler(broker: t.broker)
        let request = CreateTopicsRequest(topics: [
            Topic(name: "orders", numPartitions: 3, replicationFactor: 1, configs: [.init(name: "retention.ms", value: "1000")]),
            Topic(name: "defaults", numPartitions: -1, replicationFactor: -1),
        ])
        let response = try await t.serve(handler, request, version: 7)
        let orders = try #require(response.topics.first { $0.name == "orders" })
        #expect(orders.errorCode == 0 && orders.errorMessage == nil)
        #expect(orders.numPartitions == 3 && orders.replicationFactor == 1)
        let image = await t.broker.metadata.current()
        #expect(orders.topicId == Broker.wireTopicID(image.topics["orders"]!.id))
        let retention = try #require(orders.configs?.first { $0.name == "retention.ms" })
        #expect(retention.value == "1000" && retention.configSource == ConfigSource.dynamicTopicConfig.rawValue && !retention.readOnly)
        let segment = try #require(orders.configs?.first { $0.name == "segment.bytes" })
        #expect(segment.value == "1073741824" && segment.configSource == ConfigSource.defaultConfig.rawValue)
        #expect(image.topics["orders"]?.configs == ["retention.ms": "1000"])
        #expect(await t.broker.logs.log(for: TopicPartition(topic: "orders", partition: 2)) != nil)
        #expect(await t.broker.logs.config(forTopic: "orders").retentionMs == 1000)
        let defaults = try #require(response.topics.first { $0.name == "defaults" })
        #expect(defaults.errorCode == 0 && defaults.numPartitions == 1 && defaults.replicationFactor == 1)
    }

    @Test func validateOnlyCreatesNothing() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        let response = try await t.serve(CreateTopicsHandler(broker: t.broker),
                                         CreateTopicsRequest(topics: [Topic(name: "dry", numPartitions: 2, replicationFactor: 1)], validateOnly: true),
                                         version: 5)
        #expect(response.topics[0].errorCode == 0 && response.topics[0].numPartitions == 2)
        #expect(await t.broker.metadata.current().topics["dry"] == nil)
        #expect(await t.broker.logs.log(for: TopicPartition(topic: "dry", partition: 0)) == nil)
    }

    @Test func refusesDuplicatesBadConfigsReplicationAndExistingTopics() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        try await t.createTopic("exists")
        let request = CreateTopicsRequest(topics: [
            Topic(name: "twice", numPartitions: 1, replicationFactor: 1),
            Topic(name: "twice", numPartitions: 2, replicationFactor: 1),
            Topic(name: "unknown-key", numPartitions: 1, replicationFactor: 1, configs: [.init(name: "retention.banana", value: "1")]),
            Topic(name: "bad-value", numPartitions: 1, replicationFactor: 1, configs: [.init(name: "retention.ms", value: "soon")]),
            Topic(name: "null-value", numPartitions: 1, replicationFactor: 1, configs: [.init(name: "retention.ms", value: nil)]),
            Topic(name: "gzip", numPartitions: 1, replicationFactor: 1, configs: [.init(name: "compression.type", value: "gzip")]),
            Topic(name: "rf3", numPartitions: 1, replicationFactor: 3),
            Topic(name: "zero", numPartitions: 0, replicationFactor: 1),
            Topic(name: "exists", numPartitions: 1, replicationFactor: 1),
            Topic(name: "bad name!", numPartitions: 1, replicationFactor: 1),
        ])
        let response = try await t.serve(CreateTopicsHandler(broker: t.broker), request, version: 7)
        func result(_ name: String) -> [CreateTopicsResponse.CreatableTopicResult] { response.topics.filter { $0.name == name } }
        #expect(result("twice").count == 2 && result("twice").allSatisfy { $0.errorCode == KafkaErrorCode.invalidRequest.rawValue })
        #expect(result("unknown-key")[0].errorCode == KafkaErrorCode.invalidConfig.rawValue)
        #expect(result("unknown-key")[0].errorMessage?.contains("retention.banana") == true)
        #expect(result("bad-value")[0].errorCode == KafkaErrorCode.invalidConfig.rawValue)
        #expect(result("bad-value")[0].errorMessage?.contains("retention.ms") == true)
        #expect(result("null-value")[0].errorCode == KafkaErrorCode.invalidConfig.rawValue)
        #expect(result("gzip")[0].errorCode == KafkaErrorCode.invalidConfig.rawValue)
        #expect(result("rf3")[0].errorCode == KafkaErrorCode.invalidReplicationFactor.rawValue)
        #expect(result("zero")[0].errorCode == KafkaErrorCode.invalidPartitions.rawValue)
        #expect(result("exists")[0].errorCode == KafkaErrorCode.topicAlreadyExists.rawValue)
        #expect(result("bad name!")[0].errorCode == KafkaErrorCode.invalidTopic.rawValue)
        #expect(response.topics.allSatisfy { $0.errorCode == 0 || ($0.numPartitions == -1 && $0.configs == nil) })
        let topics = await t.broker.metadata.current().topics
        #expect(Set(topics.keys) == ["exists"])
    }

    @Test func manualAssignmentsMayNameOnlyThisNode() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        let node = AdminTestBroker.nodeID
        let request = CreateTopicsRequest(topics: [
            Topic(name: "manual", numPartitions: -1, replicationFactor: -1,
                  assignments: [.init(partitionIndex: 1, brokerIds: [node]), .init(partitionIndex: 0, brokerIds: [node])]),
            Topic(name: "elsewhere", numPartitions: -1, replicationFactor: -1, assignments: [.init(partitionIndex: 0, brokerIds: [node + 1])]),
            Topic(name: "gap", numPartitions: -1, replicationFactor: -1, assignments: [.init(partitionIndex: 1, brokerIds: [node])]),
            Topic(name: "both", numPartitions: 1, replicationFactor: -1, assignments: [.init(partitionIndex: 0, brokerIds: [node])]),
        ])
        let response = try await t.serve(CreateTopicsHandler(broker: t.broker), request, version: 4)
        #expect(response.topics[0].errorCode == 0)
        #expect(await t.broker.metadata.current().topics["manual"]?.partitions.count == 2)
        #expect(response.topics[1].errorCode == KafkaErrorCode.invalidReplicationAssignment.rawValue)
        #expect(response.topics[2].errorCode == KafkaErrorCode.invalidReplicationAssignment.rawValue)
        #expect(response.topics[3].errorCode == KafkaErrorCode.invalidRequest.rawValue)
    }

    @Test func version0AnswersWithoutMessages() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        let response = try await t.serve(CreateTopicsHandler(broker: t.broker),
                                         CreateTopicsRequest(topics: [Topic(name: "v0", numPartitions: 1, replicationFactor: 1)]), version: 0)
        #expect(response.topics[0].errorCode == 0)
        #expect(await t.broker.metadata.current().topics["v0"] != nil)
    }
}

@Suite struct DeleteTopicsHandlerTests {
    @Test func deletesByNameAndByID() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        try await t.createTopic("a", partitions: 2)
        let b = try await t.createTopic("b")
        let byName = try await t.serve(DeleteTopicsHandler(broker: t.broker), DeleteTopicsRequest(topicNames: ["a", "missing"]), version: 5)
        #expect(byName.responses.map(\.errorCode) == [0, KafkaErrorCode.unknownTopicOrPartition.rawValue])
        #expect(await t.broker.logs.log(for: TopicPartition(topic: "a", partition: 1)) == nil)
        let unknownID = KafkaUUID(mostSignificantBits: 1, leastSignificantBits: 2)
        let byID = try await t.serve(DeleteTopicsHandler(broker: t.broker),
                                     DeleteTopicsRequest(topics: [.init(name: nil, topicId: Broker.wireTopicID(b.id)), .init(name: nil, topicId: unknownID)]),
                                     version: 6)
        #expect(byID.responses[0].errorCode == 0 && byID.responses[0].name == "b")
        #expect(byID.responses[1].errorCode == KafkaErrorCode.unknownTopicId.rawValue)
        #expect(await t.broker.metadata.current().topics.isEmpty)
    }

    @Test func refusesInternalTopicsAndDuplicates() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        try await t.broker.createTopic(name: Broker.consumerOffsetsTopic, partitions: 1, isInternal: true)
        try await t.createTopic("x")
        let response = try await t.serve(DeleteTopicsHandler(broker: t.broker),
                                         DeleteTopicsRequest(topicNames: [Broker.consumerOffsetsTopic, "x", "x"]), version: 4)
        #expect(response.responses.map(\.errorCode) == Array(repeating: KafkaErrorCode.invalidRequest.rawValue, count: 3))
        #expect(await t.broker.metadata.current().topics.count == 2)
    }
}

@Suite struct CreatePartitionsHandlerTests {
    @Test func addsPartitionsThatTakeRecordsAndSurviveARestart() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        try await t.createTopic("grow", partitions: 1)
        let response = try await t.serve(CreatePartitionsHandler(broker: t.broker),
                                         CreatePartitionsRequest(topics: [.init(name: "grow", count: 3, assignments: nil)]), version: 3)
        #expect(response.results[0].errorCode == 0 && response.results[0].errorMessage == nil)
        let image = await t.broker.metadata.current()
        #expect(image.topics["grow"]?.partitions.map(\.partition) == [0, 1, 2])
        let log = try await t.broker.partitionLog(topic: "grow", partition: 2, image: image).get()
        let appended = try await log.append(AdminTestBroker.batch(count: 3), durability: .flushed)
        #expect(appended.baseOffset == 0 && appended.lastOffset == 2)

        try await t.restart()
        let after = await t.broker.metadata.current()
        #expect(after.topics["grow"]?.partitions.count == 3)
        let reopened = try await t.broker.partitionLog(topic: "grow", partition: 2, image: after).get()
        #expect(await reopened.logEndOffset == 3)
    }

    @Test func increasesOnlyAndChecksAssignments() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        try await t.createTopic("t", partitions: 2)
        let node = AdminTestBroker.nodeID
        let request = CreatePartitionsRequest(topics: [
            .init(name: "t", count: 1, assignments: nil),
            .init(name: "missing", count: 4, assignments: nil),
        ])
        let shrink = try await t.serve(CreatePartitionsHandler(broker: t.broker), request, version: 1)
        #expect(shrink.results[0].errorCode == KafkaErrorCode.invalidPartitions.rawValue)
        #expect(shrink.results[0].errorMessage?.contains("higher than the requested 1") == true)
        #expect(shrink.results[1].errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue)

        let same = try await t.serve(CreatePartitionsHandler(broker: t.broker),
                                     CreatePartitionsRequest(topics: [.init(name: "t", count: 2, assignments: nil)]), version: 0)
        #expect(same.results[0].errorCode == KafkaErrorCode.invalidPartitions.rawValue)

        let wrongCount = try await t.serve(CreatePartitionsHandler(broker: t.broker),
                                           CreatePartitionsRequest(topics: [.init(name: "t", count: 4, assignments: [.init(brokerIds: [node])])]),
                                           version: 2)
        #expect(wrongCount.results[0].errorCode == KafkaErrorCode.invalidReplicationAssignment.rawValue)
        let otherBroker = try await t.serve(CreatePartitionsHandler(broker: t.broker),
                                            CreatePartitionsRequest(topics: [.init(name: "t", count: 3, assignments: [.init(brokerIds: [node + 5])])]),
                                            version: 2)
        #expect(otherBroker.results[0].errorCode == KafkaErrorCode.invalidReplicationAssignment.rawValue)

        let dry = try await t.serve(CreatePartitionsHandler(broker: t.broker),
                                    CreatePartitionsRequest(topics: [.init(name: "t", count: 5, assignments: nil)], validateOnly: true), version: 2)
        #expect(dry.results[0].errorCode == 0)
        #expect(await t.broker.metadata.current().topics["t"]?.partitions.count == 2)
        #expect(await t.broker.logs.log(for: TopicPartition(topic: "t", partition: 2)) == nil)

        let good = try await t.serve(CreatePartitionsHandler(broker: t.broker),
                                     CreatePartitionsRequest(topics: [.init(name: "t", count: 3, assignments: [.init(brokerIds: [node])])]), version: 2)
        #expect(good.results[0].errorCode == 0)
        #expect(await t.broker.metadata.current().topics["t"]?.partitions.count == 3)
    }

    @Test func aLogLeftOverFromACrashBeforeTheMetadataWasRecordedIsRemovedAtRestart() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        try await t.createTopic("crash", partitions: 1)
        // The state after a crash between creating the new log and recording it.
        _ = try await t.broker.logs.createLog(TopicPartition(topic: "crash", partition: 1))
        try await t.restart()
        #expect(await t.broker.logs.log(for: TopicPartition(topic: "crash", partition: 1)) == nil)
        let response = try await t.serve(CreatePartitionsHandler(broker: t.broker),
                                         CreatePartitionsRequest(topics: [.init(name: "crash", count: 2, assignments: nil)]), version: 3)
        #expect(response.results[0].errorCode == 0)
    }
}

@Suite struct DeleteRecordsHandlerTests {
    @Test func movesTheLogStartOffset() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        try await t.createTopic("d", partitions: 2)
        let log = try #require(await t.broker.logs.log(for: TopicPartition(topic: "d", partition: 0)))
        _ = try await log.append(AdminTestBroker.batch(count: 10), durability: .flushed)
        let handler = DeleteRecordsHandler(broker: t.broker)
        let response = try await t.serve(handler, DeleteRecordsRequest(topics: [
            .init(name: "d", partitions: [.init(partitionIndex: 0, offset: 4), .init(partitionIndex: 1, offset: 1), .init(partitionIndex: 7, offset: 0)]),
            .init(name: "nope", partitions: [.init(partitionIndex: 0, offset: 0)]),
        ]), version: 2)
        let d = response.topics[0].partitions
        #expect(d[0].errorCode == 0 && d[0].lowWatermark == 4)
        #expect(await log.logStartOffset == 4)
        #expect(d[1].errorCode == KafkaErrorCode.offsetOutOfRange.rawValue)
        #expect(d[2].errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue)
        #expect(response.topics[1].partitions[0].errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue)

        let toEnd = try await t.serve(handler, DeleteRecordsRequest(topics: [.init(name: "d", partitions: [.init(partitionIndex: 0, offset: -1)])]), version: 0)
        #expect(toEnd.topics[0].partitions[0].lowWatermark == 10)
        let beyond = try await t.serve(handler, DeleteRecordsRequest(topics: [.init(name: "d", partitions: [.init(partitionIndex: 0, offset: 11)])]), version: 1)
        #expect(beyond.topics[0].partitions[0].errorCode == KafkaErrorCode.offsetOutOfRange.rawValue)
        #expect(await log.logStartOffset == 10)

        try await t.restart()
        let reopened = try #require(await t.broker.logs.log(for: TopicPartition(topic: "d", partition: 0)))
        #expect(await reopened.logStartOffset == 10)
    }
}
