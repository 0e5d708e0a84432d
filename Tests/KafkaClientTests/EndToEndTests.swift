import Foundation
import KafkaClient
import KafkaProtocol
import Logging
import NIOCore
import NIOPosix
import RampartSASL
import RampartServer
import Testing

/// A broker started in-process on a temporary directory and a free port.
final class TestBroker: @unchecked Sendable {
    let server: BrokerServer
    let directory: URL
    let port: Int

    /// A SCRAM user written into the data directory before the broker starts.
    struct User {
        var name: String
        var mechanism: SCRAMMechanism
        var password: String
    }

    /// A broker with one listener of `securityProtocol` on 127.0.0.1; `extra` adds or overrides
    /// server properties (`ssl.*` for an SSL listener; `{port}` in a value is the listener's port);
    /// `users` are stored offline first, as `rampart user add --config` does. The authorizer is off
    /// unless `extra` switches it on (`rampart.authorizer.enabled=true`): these tests are about the
    /// client, the authorizer has its own.
    static func start(securityProtocol: String = "PLAINTEXT", extra: [String: String] = [:], users: [User] = []) async throws -> TestBroker {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-client-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let port = try await freePort()
        var properties = [
            "listeners": "\(securityProtocol)://127.0.0.1:\(port)",
            "log.dirs": directory.path,
            "group.initial.rebalance.delay.ms": "0",
            "num.partitions": "3",
        ]
        if securityProtocol == "PLAINTEXT" || securityProtocol == "SASL_PLAINTEXT" { properties["rampart.insecure.allow.plaintext"] = "true" }
        properties["rampart.authorizer.enabled"] = "false"
        for (key, value) in extra { properties[key] = value.replacingOccurrences(of: "{port}", with: "\(port)") }
        let config = try BrokerConfig(properties: properties)
        if !users.isEmpty {
            // The store is locked while `offline` lives: released before the broker takes the lock.
            let offline = try OfflineUsers(config: config)
            for user in users {
                let credential = try SCRAMCredential.generate(password: SASLPassword(user.password), mechanism: user.mechanism)
                try await offline.setCredential(user: user.name, credential: credential, replace: false)
            }
        }
        var logger = Logger(label: "e2e-broker")
        logger.logLevel = .warning
        let server = BrokerServer(config: config, logger: logger, eventLoopThreads: 2)
        try await server.start()
        return TestBroker(server: server, directory: directory, port: port)
    }

    private init(server: BrokerServer, directory: URL, port: Int) {
        self.server = server
        self.directory = directory
        self.port = port
    }

    var clientConfig: ClientConfig {
        ClientConfig(bootstrapServers: [BrokerAddress(host: "127.0.0.1", port: port)], clientId: "e2e", requestTimeoutMs: 15_000)
    }

    func stop() async {
        await server.shutdown(timeout: .seconds(2))
        try? FileManager.default.removeItem(at: directory)
    }

    /// Binds port 0 to learn a free port, then releases it for the broker.
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }
}

@Suite(.serialized) struct EndToEndTests {
    static let recordsPerCodec = 1000

    @Test func largeRequestsThenSmallOnesArePromptlyAnswered() async throws {
        try await TestBroker.run { broker in
            try await withCluster(["bootstrap.servers": "127.0.0.1:\(broker.port)", "request.timeout.ms": "15000"]) { cluster in
                try await largeRequestsThenSmallOnes(cluster, topic: "large-then-small")
            }
        }
    }

    /// Produce/Fetch/ListOffsets only: a topic auto-created by Metadata, every codec, keys and headers.
    @Test func produceAndConsumeEveryCodec() async throws {
        let broker = try await TestBroker.start()
        let cluster = KafkaCluster(config: broker.clientConfig)
        do {
            try await dataPath(cluster)
        } catch {
            await cluster.close()
            await broker.stop()
            throw error
        }
        await cluster.close()
        await broker.stop()
    }

    private func dataPath(_ cluster: KafkaCluster) async throws {
        var expected: [String: (value: String, partition: Int32, headers: [String])] = [:]
        for codec in CompressionCodec.allCases {
            let producer = KafkaProducer(cluster: cluster, config: ProducerConfig(acks: -1, compression: codec, batchSize: 8_192))
            let records = (0..<Self.recordsPerCodec).map { record(codec, $0) }
            let metadata = try await producer.send(records)
            for (i, meta) in metadata.enumerated() {
                let key = "\(codec)-k\(i)"
                #expect(meta.topicPartition.partition == Murmur2.partition(forKey: Array(key.utf8), partitionCount: 3))
                expected[key] = ("\(codec)-value-\(i)", meta.topicPartition.partition, ["codec=\(codec)", "i=\(i)"])
            }
        }
        let partitions = (0..<3).map { KafkaTopicPartition(topic: "e2e", partition: Int32($0)) }
        let reader = KafkaConsumer(cluster: cluster, config: ConsumerConfig(autoOffsetReset: .earliest, enableAutoCommit: false))
        await reader.assign(partitions)
        let consumed = try await consume(reader, count: expected.count)
        try check(consumed, against: expected)
        let ends = try await KafkaAdmin(cluster: cluster).listOffsets(partitions, spec: .latest)
        #expect(ends.values.reduce(0, +) == Int64(expected.count))
        // Null keys spread over partitions; acks=0 and acks=1 are accepted.
        for acks: Int16 in [0, 1] {
            let producer = KafkaProducer(cluster: cluster, config: ProducerConfig(acks: acks))
            let sent = try await producer.send((0..<10).map { ProducerRecord(topic: "e2e-acks", key: nil, value: "acks \(acks) #\($0)") })
            #expect(sent.allSatisfy { acks == 0 ? $0.offset == -1 : $0.offset >= 0 })
        }
        // A consumer positioned at the end sees only what is produced later.
        let tail = KafkaConsumer(cluster: cluster, config: ConsumerConfig(autoOffsetReset: .latest, enableAutoCommit: false))
        await tail.assign(partitions)
        #expect(try await tail.poll(timeout: .milliseconds(200)).isEmpty)
        try await KafkaProducer(cluster: cluster).send(ProducerRecord(topic: "e2e", key: "late", value: "late"))
        let late = try await consume(tail, count: 1)
        #expect(late.map { String(decoding: $0.value ?? [], as: UTF8.self) } == ["late"])
    }

    private func check(
        _ consumed: [ConsumerRecord], against expected: [String: (value: String, partition: Int32, headers: [String])]
    ) throws {
        #expect(consumed.count == expected.count)
        var seen = Set<String>()
        for record in consumed {
            let key = String(decoding: record.key ?? [], as: UTF8.self)
            guard let want = expected[key] else {
                Issue.record("unexpected key \(key)")
                continue
            }
            seen.insert(key)
            #expect(String(decoding: record.value ?? [], as: UTF8.self) == want.value)
            #expect(record.partition == want.partition)
            #expect(record.headers.map { "\($0.key)=\(String(decoding: $0.value ?? [], as: UTF8.self))" } == want.headers)
        }
        #expect(seen.count == expected.count)
    }

    func record(_ codec: CompressionCodec, _ i: Int) -> ProducerRecord {
        ProducerRecord(topic: "e2e", key: "\(codec)-k\(i)", value: "\(codec)-value-\(i)", headers: [("codec", "\(codec)"), ("i", "\(i)")])
    }

    /// The whole operator story: topics, every codec, a group with commits and reset-offsets, configs.
    @Test func topicsProduceConsumeGroupsAndConfigs() async throws {
        let broker = try await TestBroker.start()
        let cluster = KafkaCluster(config: broker.clientConfig)
        do {
            try await scenario(cluster)
        } catch {
            await cluster.close()
            await broker.stop()
            throw error
        }
        await cluster.close()
        await broker.stop()
    }

    private func scenario(_ cluster: KafkaCluster) async throws {
        let admin = KafkaAdmin(cluster: cluster)

        // Topics.
        try await admin.createTopic("e2e", partitions: 3, replicationFactor: 1, configs: ["retention.ms": "3600000"])
        await #expect(throws: KafkaClientError.self) { try await admin.createTopic("e2e", partitions: 1, replicationFactor: 1) }
        #expect(try await admin.listTopics().contains("e2e"))
        let described = try await admin.describeTopics(["e2e"])
        #expect(described.first?.partitions.count == 3)

        // Produce 1000 keyed records with headers per codec.
        var expected: [String: (value: String, partition: Int32, headers: [String])] = [:]
        for codec in CompressionCodec.allCases {
            let producer = KafkaProducer(cluster: cluster, config: ProducerConfig(acks: -1, compression: codec, batchSize: 8_192))
            let records = (0..<Self.recordsPerCodec).map { record(codec, $0) }
            let metadata = try await producer.send(records)
            #expect(metadata.count == records.count)
            for (i, meta) in metadata.enumerated() {
                let key = "\(codec)-k\(i)"
                #expect(meta.topicPartition.partition == Murmur2.partition(forKey: Array(key.utf8), partitionCount: 3))
                #expect(meta.offset >= 0)
                expected[key] = ("\(codec)-value-\(i)", meta.topicPartition.partition, ["codec=\(codec)", "i=\(i)"])
            }
        }
        let total = expected.count
        #expect(total == Self.recordsPerCodec * CompressionCodec.allCases.count)
        // acks=0 and acks=1 are accepted too.
        for acks: Int16 in [0, 1] {
            let producer = KafkaProducer(cluster: cluster, config: ProducerConfig(acks: acks))
            _ = try await producer.send(ProducerRecord(topic: "e2e-acks", key: nil, value: "acks \(acks)"))
        }

        // Consume everything back by assignment, from the beginning.
        let partitions = (0..<3).map { KafkaTopicPartition(topic: "e2e", partition: Int32($0)) }
        let reader = KafkaConsumer(cluster: cluster, config: ConsumerConfig(autoOffsetReset: .earliest, enableAutoCommit: false))
        await reader.assign(partitions)
        try check(try await consume(reader, count: total), against: expected)
        await reader.close()
        let ends = try await admin.listOffsets(partitions, spec: .latest)
        #expect(ends.values.reduce(0, +) == Int64(total))
        let starts = try await admin.listOffsets(partitions, spec: .earliest)
        #expect(starts.values.allSatisfy { $0 == 0 })

        // Group consumption with commits, then reset-offsets.
        let groupConfig = ConsumerConfig(groupId: "e2e-group", autoOffsetReset: .earliest, enableAutoCommit: false,
                                         sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, heartbeatIntervalMs: 500)
        let member = KafkaConsumer(cluster: cluster, config: groupConfig)
        try await member.subscribe(["e2e"])
        let groupRecords = try await consume(member, count: total)
        #expect(groupRecords.count == total)
        #expect(await member.assignedPartitions == partitions)
        let described1 = try await admin.describeGroup("e2e-group")
        #expect(described1.state == "Stable")
        #expect(described1.members.count == 1)
        #expect(described1.members.first?.assignment == partitions)
        try await member.commit()
        await member.close(commit: false)
        #expect(try await admin.fetchOffsets(group: "e2e-group") == ends)
        #expect(try await admin.listGroups().contains { $0.groupId == "e2e-group" })

        let emptyGroup = try await admin.describeGroup("e2e-group")
        #expect(emptyGroup.state == "Empty")
        try await admin.commitOffsets(group: "e2e-group", offsets: starts)
        #expect(try await admin.fetchOffsets(group: "e2e-group") == starts)
        // A new member resumes from the reset offsets.
        let again = KafkaConsumer(cluster: cluster, config: groupConfig)
        try await again.subscribe(["e2e"])
        #expect(try await consume(again, count: total).count == total)
        await again.close(commit: false)
        let deleted = try await admin.deleteGroups(["e2e-group"])
        #expect(deleted["e2e-group"] == KafkaErrorCode.noError)

        // Configs.
        let configs = try await admin.describeConfigs(.topic("e2e"))
        let retention = configs.first { $0.name == "retention.ms" }
        #expect(retention?.value == "3600000")
        #expect(retention?.source == .dynamicTopic)
        try await admin.alterConfigs(.topic("e2e"), set: ["retention.ms": "7200000"], delete: [])
        #expect(try await admin.describeConfigs(.topic("e2e"), keys: ["retention.ms"]).first?.value == "7200000")
        try await admin.createPartitions(topic: "e2e", totalCount: 4)
        #expect(try await admin.describeTopics(["e2e"]).first?.partitions.count == 4)

        // Delete.
        try await admin.deleteTopics(["e2e", "e2e-acks"])
        #expect(try await !admin.listTopics().contains("e2e"))
        await #expect(throws: KafkaClientError.self) { try await admin.deleteTopics(["e2e"]) }
    }

    private func consume(_ consumer: KafkaConsumer, count: Int) async throws -> [ConsumerRecord] {
        var records: [ConsumerRecord] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while records.count < count && ContinuousClock.now < deadline {
            records += try await consumer.poll(timeout: .milliseconds(500))
        }
        return records
    }
}

@Suite struct EphemeralPortTests {
    /// A listener on port 0 advertises the port it was given (as Kafka does), so clients can follow
    /// Metadata to the broker.
    @Test func listenerOnPortZeroAdvertisesTheBoundPort() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-port0-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = try BrokerConfig(properties: [
            "listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": directory.path, "rampart.insecure.allow.plaintext": "true",
        ])
        var logger = Logger(label: "port0")
        logger.logLevel = .warning
        let server = BrokerServer(config: config, logger: logger, eventLoopThreads: 1)
        try await server.start()
        let port = try #require(server.boundAddresses["PLAINTEXT"]?.port)
        #expect(port != 0)
        let cluster = KafkaCluster(config: ClientConfig(bootstrapServers: [BrokerAddress(host: "127.0.0.1", port: port)], requestTimeoutMs: 10_000))
        do {
            let snapshot = try await cluster.refreshMetadata(topics: nil)
            #expect(snapshot.brokers.values.map(\.address.port) == [port])
            _ = try await cluster.connection(to: 1)
        } catch {
            Issue.record("\(error)")
        }
        await cluster.close()
        await server.shutdown(timeout: .seconds(2))
    }
}
