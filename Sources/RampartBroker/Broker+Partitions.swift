import KafkaProtocol
import RampartMetadata
import RampartStorage

extension Broker {
    /// The log of a partition, or the error a client gets for it: UNKNOWN_TOPIC_OR_PARTITION for a
    /// topic or partition that does not exist, KAFKA_STORAGE_ERROR for an offline one.
    public func partitionLog(topic: String, partition: Int32, image: ClusterMetadata) async -> Result<PartitionLog, KafkaErrorCode> {
        guard let metadata = image.topics[topic], metadata.partitions.contains(where: { $0.partition == partition }) else {
            return .failure(.unknownTopicOrPartition)
        }
        guard let log = await logs.log(for: TopicPartition(topic: topic, partition: partition)) else {
            return .failure(.kafkaStorageError)
        }
        return .success(log)
    }

    /// The leader epoch a client sent against ours (always 0 on a single node): -1 skips the check.
    public func checkLeaderEpoch(_ current: Int32, partition: PartitionMetadata?) -> KafkaErrorCode {
        guard current >= 0, let partition else { return .noError }
        if current < partition.leaderEpoch { return .fencedLeaderEpoch }
        if current > partition.leaderEpoch { return .unknownLeaderEpoch }
        return .noError
    }

    /// The Kafka error for a failure from the storage layer.
    public static func errorCode(_ error: any Error) -> KafkaErrorCode {
        if let storage = error as? StorageError { return storage.kafkaError }
        if let proto = error as? KafkaProtocolError { return proto.isSameKind(as: .unsupportedMagic(0)) ? .invalidRecord : .corruptMessage }
        return .unknownServerError
    }
}
