import KafkaProtocol
import NIOCore

/// The `consumer` group protocol's metadata: a subscription (in JoinGroup) and an assignment (in
/// SyncGroup), each an int16 version followed by the generated message at that version. A version
/// newer than this client knows is read as the newest it knows (Kafka's rule: newer versions only add
/// fields at the end).
public enum ConsumerProtocolCodec {
    /// The version written; v0 is what every client reads.
    public static let writeVersion: Int16 = 0

    /// Encodes a subscription to `topics`.
    public static func encodeSubscription(topics: [String]) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(writeVersion, endianness: .big)
        try ConsumerProtocolSubscription(topics: topics).encode(to: &buffer, version: writeVersion)
        return buffer
    }

    /// Decodes a member's subscription from JoinGroup metadata.
    public static func decodeSubscription(_ bytes: ByteBuffer) throws -> ConsumerProtocolSubscription {
        var buffer = bytes
        let version = try readVersion(&buffer, what: "subscription", validVersions: ConsumerProtocolSubscription.validVersions)
        return try ConsumerProtocolSubscription(from: &buffer, version: version)
    }

    /// Encodes an assignment.
    public static func encodeAssignment(_ partitions: [KafkaTopicPartition]) throws -> ByteBuffer {
        var byTopic: [String: [Int32]] = [:]
        for tp in partitions { byTopic[tp.topic, default: []].append(tp.partition) }
        var assignment = ConsumerProtocolAssignment()
        assignment.assignedPartitions = byTopic.keys.sorted().map { .init(topic: $0, partitions: byTopic[$0]!.sorted()) }
        var buffer = ByteBuffer()
        buffer.writeInteger(writeVersion, endianness: .big)
        try assignment.encode(to: &buffer, version: writeVersion)
        return buffer
    }

    /// Decodes an assignment from SyncGroup (an empty buffer is an empty assignment).
    public static func decodeAssignment(_ bytes: ByteBuffer) throws -> [KafkaTopicPartition] {
        guard bytes.readableBytes > 0 else { return [] }
        var buffer = bytes
        let version = try readVersion(&buffer, what: "assignment", validVersions: ConsumerProtocolAssignment.validVersions)
        let assignment = try ConsumerProtocolAssignment(from: &buffer, version: version)
        return assignment.assignedPartitions.flatMap { topic in
            topic.partitions.map { KafkaTopicPartition(topic: topic.topic, partition: $0) }
        }.sorted()
    }

    private static func readVersion(_ buffer: inout ByteBuffer, what: String, validVersions: ClosedRange<Int16>) throws -> Int16 {
        guard let version = buffer.readInteger(endianness: .big, as: Int16.self), version >= 0 else {
            throw KafkaClientError.malformedResponse("consumer protocol \(what) has no valid version")
        }
        return min(version, validVersions.upperBound)
    }
}

/// Kafka's range assignor: for each topic, its partitions are split into contiguous ranges over the
/// members subscribed to it, sorted by member id; the first `partitions % members` members get one more.
public enum RangeAssignor {
    /// The protocol name in JoinGroup.
    public static let name = "range"

    /// - Parameters:
    ///   - subscriptions: member id → subscribed topics.
    ///   - partitionCounts: topic → number of partitions (topics missing here are skipped).
    public static func assign(
        subscriptions: [String: [String]], partitionCounts: [String: Int32]
    ) -> [String: [KafkaTopicPartition]] {
        var result: [String: [KafkaTopicPartition]] = [:]
        for member in subscriptions.keys { result[member] = [] }
        var membersByTopic: [String: [String]] = [:]
        for (member, topics) in subscriptions {
            for topic in Set(topics) { membersByTopic[topic, default: []].append(member) }
        }
        for (topic, unsortedMembers) in membersByTopic {
            guard let count = partitionCounts[topic], count > 0 else { continue }
            let members = unsortedMembers.sorted()
            let perMember = Int(count) / members.count
            let extra = Int(count) % members.count
            for (index, member) in members.enumerated() {
                let start = perMember * index + min(index, extra)
                let length = perMember + (index < extra ? 1 : 0)
                for partition in start..<(start + length) {
                    result[member, default: []].append(KafkaTopicPartition(topic: topic, partition: Int32(partition)))
                }
            }
        }
        return result.mapValues { $0.sorted() }
    }
}
