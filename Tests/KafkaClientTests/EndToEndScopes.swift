import Foundation
import KafkaClient
import Testing

extension TestBroker {
    /// Runs `body` with a broker from `start(securityProtocol:extra:users:)`, stopping it afterwards
    /// whatever happens.
    static func run(securityProtocol: String = "PLAINTEXT", extra: [String: String] = [:], users: [User] = [],
                    _ body: (TestBroker) async throws -> Void) async throws {
        let broker = try await start(securityProtocol: securityProtocol, extra: extra, users: users)
        do {
            try await body(broker)
        } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
    }
}

/// Runs `body` with a cluster for the client `properties`, closing it whatever happens.
func withCluster(_ properties: [String: String], _ body: (KafkaCluster) async throws -> Void) async throws {
    let cluster = KafkaCluster(config: try ClientConfig(properties: properties))
    do {
        try await body(cluster)
    } catch {
        await cluster.close()
        throw error
    }
    await cluster.close()
}

/// Produces `count` records to a new two-partition topic with `producerConfig` and expects to read
/// them all back by assignment (within 30 s).
func produceAndConsume(_ cluster: KafkaCluster, topic: String, count: Int,
                       producerConfig: ProducerConfig = ProducerConfig(acks: -1)) async throws {
    try await KafkaAdmin(cluster: cluster).createTopic(topic, partitions: 2, replicationFactor: 1)
    let producer = KafkaProducer(cluster: cluster, config: producerConfig)
    let sent = try await producer.send((0..<count).map { ProducerRecord(topic: topic, key: "k\($0)", value: "v\($0)") })
    #expect(sent.count == count)
    let consumer = KafkaConsumer(cluster: cluster, config: ConsumerConfig(autoOffsetReset: .earliest, enableAutoCommit: false))
    await consumer.assign((0..<2).map { KafkaTopicPartition(topic: topic, partition: Int32($0)) })
    var values: [String] = []
    let deadline = ContinuousClock.now + .seconds(30)
    while values.count < count && ContinuousClock.now < deadline {
        values += try await consumer.poll(timeout: .milliseconds(500)).map { String(decoding: $0.value ?? [], as: UTF8.self) }
    }
    await consumer.close()
    #expect(values.sorted() == (0..<count).map { "v\($0)" }.sorted())
}

/// Produces requests of 700 KB (each arrives over many reads, so the broker raises the socket's
/// receive low-water mark while it waits) each followed by small ones, which must still be answered
/// at once: the mark has to come down when a large request is complete. Reads everything back.
func largeRequestsThenSmallOnes(_ cluster: KafkaCluster, topic: String) async throws {
    try await KafkaAdmin(cluster: cluster).createTopic(topic, partitions: 1, replicationFactor: 1)
    let producer = KafkaProducer(cluster: cluster, config: ProducerConfig(acks: -1))
    let large = String(repeating: "x", count: 700_000)
    for round in 0..<3 {
        let sent = try await producer.send([ProducerRecord(topic: topic, key: "large-\(round)", value: large)])
        #expect(sent.count == 1)
        let small = try await producer.send([ProducerRecord(topic: topic, key: "small-\(round)", value: "s")])
        #expect(small.count == 1)
        #expect(try await KafkaAdmin(cluster: cluster).listTopics().contains(topic))
    }
    let consumer = KafkaConsumer(cluster: cluster, config: ConsumerConfig(autoOffsetReset: .earliest, enableAutoCommit: false))
    await consumer.assign([KafkaTopicPartition(topic: topic, partition: 0)])
    var sizes: [Int] = []
    let deadline = ContinuousClock.now + .seconds(30)
    while sizes.count < 6 && ContinuousClock.now < deadline {
        sizes += try await consumer.poll(timeout: .milliseconds(500)).map { $0.value?.count ?? 0 }
    }
    await consumer.close()
    #expect(sizes == [700_000, 1, 700_000, 1, 700_000, 1])
}
