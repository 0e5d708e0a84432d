import Foundation
import KafkaProtocol
import Logging
import NIOCore
import RampartMetadata
import RampartStorage
import Testing
@testable import RampartBroker

/// Creating topics near the file descriptor limit: refused with a clear message before the limit, and
/// when descriptors run out anyway the creation fails whole and the broker keeps serving.
@Suite struct FileDescriptorLimitTests {
    typealias Topic = CreateTopicsRequest.CreatableTopic

    @Test func creationIsRefusedNearTheLimitWithAClearMessageAndNothingHalfCreated() async throws {
        let fixture = try await BrokerFixture.make {
            $0.fileDescriptors = FileDescriptorBudget(limit: { 1000 }, openCount: { 900 }, reserve: 64)
        }
        defer { Task { await fixture.close() } }
        let response = try await fixture.send(CreateTopicsRequest(topics: [
            Topic(name: "big", numPartitions: 40, replicationFactor: 1),
            Topic(name: "small", numPartitions: 30, replicationFactor: 1),
        ]), version: 7)
        let big = try #require(response.topics.first { $0.name == "big" })
        #expect(big.errorCode == KafkaErrorCode.policyViolation.rawValue)
        let message = try #require(big.errorMessage)
        #expect(message.contains("RLIMIT_NOFILE") && message.contains("1000") && message.contains("40 partition(s)"), "\(message)")
        #expect(response.topics.first { $0.name == "small" }?.errorCode == 0, "900 open + 30 + a reserve of 64 fit in 1000")
        #expect(await fixture.broker.metadata.current().topics["big"] == nil)
        #expect(await fixture.broker.logs.log(for: TopicPartition(topic: "big", partition: 0)) == nil)
        let names = try FileManager.default.contentsOfDirectory(atPath: fixture.directory.path)
        #expect(!names.contains { $0.hasPrefix("big-") }, "no directory of the refused topic: \(names)")

        let dry = try await fixture.send(CreateTopicsRequest(topics: [Topic(name: "dry", numPartitions: 40, replicationFactor: 1)],
                                                             validateOnly: true), version: 7)
        #expect(dry.topics[0].errorCode == KafkaErrorCode.policyViolation.rawValue, "validateOnly applies the same check")

        let grow = try await fixture.send(CreatePartitionsRequest(topics: [.init(name: "small", count: 70, assignments: nil)]), version: 3)
        #expect(grow.results[0].errorCode == KafkaErrorCode.policyViolation.rawValue)
        #expect(grow.results[0].errorMessage?.contains("RLIMIT_NOFILE") == true)
        #expect(await fixture.broker.metadata.current().topics["small"]?.partitions.count == 30)
    }

    @Test func aCreateTopicsRequestIsOneMetadataUpdateAndTopicsFailOnTheirOwn() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.broker.createTopic(name: "exists", partitions: 1)
        let before = await fixture.broker.metadata.current().epoch
        let response = try await fixture.send(CreateTopicsRequest(topics: [
            Topic(name: "a", numPartitions: 4, replicationFactor: 1),
            Topic(name: "exists", numPartitions: 2, replicationFactor: 1),
            Topic(name: "bad name!", numPartitions: 1, replicationFactor: 1),
            Topic(name: "b", numPartitions: 2, replicationFactor: 1, configs: [.init(name: "retention.ms", value: "60000")]),
        ]), version: 7)
        #expect(response.topics.map(\.name) == ["a", "exists", "bad name!", "b"], "answers in request order")
        #expect(response.topics.map(\.errorCode) == [0, KafkaErrorCode.topicAlreadyExists.rawValue,
                                                     KafkaErrorCode.invalidTopic.rawValue, 0])
        let image = await fixture.broker.metadata.current()
        #expect(image.epoch == before + 1, "the two new topics were recorded in one metadata update")
        #expect(image.topics["a"]?.partitions.count == 4 && image.topics["b"]?.configs["retention.ms"] == "60000")
        #expect(image.topics["exists"]?.partitions.count == 1)
        for p in 0..<4 { #expect(await fixture.broker.logs.log(for: TopicPartition(topic: "a", partition: Int32(p))) != nil) }
        #expect(await fixture.broker.logs.config(forTopic: "b").retentionMs == 60000)
    }

    @Test func theBrokerKeepsServingWhenDescriptorsRunOut() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-fd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let fs = FaultInjectingFileSystem()
        func open() async throws -> Broker {
            let store = try EmbeddedMetadataStore(directory: directory)
            let logs = LogManager(config: LogManagerConfig(logDirs: ["/data"]), fileSystem: fs)
            try await logs.startup()
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let broker = Broker(settings: BrokerSettings(nodeID: 1, advertisedListeners: [AdvertisedListener(name: "PLAINTEXT", host: "127.0.0.1", port: 9092)]),
                                metadata: store, logs: logs, producerIDBlockEnd: 0, logger: logger, clock: { 1_700_000_000_000 })
            try await broker.reconcileLogs()
            return broker
        }
        var broker = try await open()
        try await broker.createTopic(name: "live", partitions: 2)
        fs.setDescriptorLimit(fs.openDescriptors + 5)
        do {
            try await broker.createTopic(name: "starved", partitions: 8)
            Issue.record("creating 8 partitions with 5 descriptors left succeeded")
        } catch {
            #expect(error.code == .kafkaStorageError)
            #expect(error.message.contains("starved") && error.message.contains("Too many open files"), "\(error.message)")
        }
        #expect(await broker.metadata.current().topics["starved"] == nil)
        #expect(!fs.allFiles.contains { $0.contains("/starved-") })

        // Produce and fetch on the existing topic still work at the limit.
        let live = try await broker.partitionLog(topic: "live", partition: 1, image: await broker.metadata.current()).get()
        _ = try await live.append(BrokerFixture.batch(count: 3), durability: .flushed)
        let read = try await live.read(from: 0, maxBytes: 1 << 20)
        #expect(try RecordBatchReader.readAll(read.records, allowPartialTrailingBatch: false).count == 1)

        // Descriptors back: the same creation succeeds, and a restart sees both topics whole.
        fs.setDescriptorLimit(nil)
        try await broker.createTopic(name: "starved", partitions: 8)
        try await broker.logs.shutdown()
        broker = try await open()
        let image = await broker.metadata.current()
        #expect(image.topics["starved"]?.partitions.count == 8)
        for p in 0..<8 { #expect(await broker.logs.log(for: TopicPartition(topic: "starved", partition: Int32(p))) != nil) }
        #expect(try await broker.partitionLog(topic: "live", partition: 1, image: image).get().logEndOffset == 3)
        try await broker.logs.shutdown()
    }
}
