import KafkaClient
import Testing

@Suite struct PartitionerTests {
    // Expected values computed with kafka-python 3.0.12's `kafka.partitioner.default.murmur2` (a port of
    // Java's Utils.murmur2), which returns the hash as an unsigned 32-bit number; the partition column is
    // `(hash & 0x7fffffff) % 7`, as Kafka's default partitioner computes it for 7 partitions.
    static let vectors: [(String, UInt32, Int32)] = [
        ("", 275_646_681, 2),
        ("a", 2_731_586_172, 5),
        ("ab", 316_155_434, 0),
        ("abc", 479_470_107, 4),
        ("abcd", 2_971_317_748, 5),
        ("key", 3_215_029_929, 4),
        ("hello world", 1_221_641_059, 2),
        ("rampart", 2_457_641_911, 2),
        ("21", 3_321_034_988, 3),
        ("foobar", 3_504_634_814, 0),
        ("a-somewhat-longer-key-1234567", 3_172_393_368, 2),
    ]

    @Test func murmur2MatchesKafka() {
        for (key, hash, partition) in Self.vectors {
            #expect(UInt32(bitPattern: Murmur2.hash(Array(key.utf8))) == hash, "murmur2(\(key))")
            #expect(Murmur2.partition(forKey: Array(key.utf8), partitionCount: 7) == partition, "partition(\(key))")
        }
        // High bytes must not be sign-extended (Java masks each byte with 0xff); also from kafka-python.
        #expect(UInt32(bitPattern: Murmur2.hash([0xff, 0x80, 0x00, 0x7f, 0xfe])) == 768_357_719)
    }

    @Test func keyedRecordsAlwaysUseMurmur2() {
        var partitioner = Partitioner(kind: .roundRobin, seed: 1)
        for _ in 0..<3 {
            #expect(partitioner.partition(topic: "t", key: Array("key".utf8), partitionCount: 7) == 4)
        }
    }

    @Test func stickyKeepsOnePartitionUntilTheBatchCompletes() {
        var partitioner = Partitioner(kind: .default, seed: 42)
        let first = partitioner.partition(topic: "t", key: nil, partitionCount: 4)
        for _ in 0..<10 { #expect(partitioner.partition(topic: "t", key: nil, partitionCount: 4) == first) }
        partitioner.batchCompleted(topic: "t", partitionCount: 4)
        let second = partitioner.partition(topic: "t", key: nil, partitionCount: 4)
        #expect(second != first)
        #expect((0..<4).contains(second))
    }

    @Test func roundRobinVisitsEveryPartitionInTurn() {
        var partitioner = Partitioner(kind: .roundRobin, seed: 7)
        let picks = (0..<6).map { _ in partitioner.partition(topic: "t", key: nil, partitionCount: 3) }
        #expect(Set(picks.prefix(3)) == [0, 1, 2])
        #expect(Array(picks.prefix(3)) == Array(picks.suffix(3)))
    }

    @Test func rangeAssignorSplitsContiguousRanges() {
        let plan = RangeAssignor.assign(
            subscriptions: ["c": ["t1"], "a": ["t1", "t2"], "b": ["t1", "t2"]],
            partitionCounts: ["t1": 7, "t2": 2, "unused": 3])
        let t1 = { (ps: [Int32]) in ps.map { KafkaTopicPartition(topic: "t1", partition: $0) } }
        let t2 = { (ps: [Int32]) in ps.map { KafkaTopicPartition(topic: "t2", partition: $0) } }
        #expect(plan["a"] == t1([0, 1, 2]) + t2([0]))
        #expect(plan["b"] == t1([3, 4]) + t2([1]))
        #expect(plan["c"] == t1([5, 6]))
    }

    @Test func rangeAssignorWithMoreMembersThanPartitions() {
        let plan = RangeAssignor.assign(subscriptions: ["m1": ["t"], "m2": ["t"], "m3": ["t"]], partitionCounts: ["t": 2])
        #expect(plan["m1"] == [KafkaTopicPartition(topic: "t", partition: 0)])
        #expect(plan["m2"] == [KafkaTopicPartition(topic: "t", partition: 1)])
        #expect(plan["m3"] == [])
    }

    @Test func consumerProtocolRoundTrip() throws {
        let subscription = try ConsumerProtocolCodec.decodeSubscription(ConsumerProtocolCodec.encodeSubscription(topics: ["a", "b"]))
        #expect(subscription.topics == ["a", "b"])
        let partitions = [KafkaTopicPartition(topic: "b", partition: 1), KafkaTopicPartition(topic: "a", partition: 0)]
        let decoded = try ConsumerProtocolCodec.decodeAssignment(ConsumerProtocolCodec.encodeAssignment(partitions))
        #expect(decoded == partitions.sorted())
        #expect(try ConsumerProtocolCodec.decodeAssignment(.init()) == [])
        #expect(throws: (any Error).self) { try ConsumerProtocolCodec.decodeAssignment(.init(bytes: [0, 0, 0])) }
    }

    @Test func versionNegotiationPicksTheHighestCommonVersion() {
        #expect(ClientAPIVersions.negotiate(client: 0...7, broker: 2...12) == 7)
        #expect(ClientAPIVersions.negotiate(client: 3...9, broker: 0...5) == 5)
        #expect(ClientAPIVersions.negotiate(client: 3...9, broker: 0...2) == nil)
    }
}
