import KafkaProtocol
import RampartStorage

/// OffsetCommit (key 8): stores a group's consumed positions in `__consumer_offsets`, acknowledged once
/// on disk. Partitions of topics that do not exist get UNKNOWN_TOPIC_OR_PARTITION, metadata over 4096
/// characters OFFSET_METADATA_TOO_LARGE (Kafka's `offset.metadata.max.bytes`); the rest is checked
/// against the group (simple consumers commit with generation -1) and written as one batch.
/// v1 carries a commit timestamp per partition, v2–v4 a retention time, v6+ leader epochs, v7+
/// instance ids.
///
/// Authorization (Kafka's): Read on the group first (else GROUP_AUTHORIZATION_FAILED for every
/// partition), then Read on each topic (TOPIC_AUTHORIZATION_FAILED, before the topic's existence).
struct OffsetCommitHandler: KafkaAPIHandler {
    typealias Request = OffsetCommitRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...9

    /// Kafka's `offset.metadata.max.bytes` default (compared with the string's length).
    static let maxMetadataSize = 4096

    func handle(_ request: OffsetCommitRequest, context: RequestContext) async -> OffsetCommitResponse? {
        let version = context.apiVersion
        let authorization = broker.authorization(context)
        guard authorization.allows(.read, .group, request.groupId) else { return errorResponse(request, .groupAuthorizationFailed) }
        var readable: [String: Bool] = [:]
        for topic in request.topics where readable[topic.name] == nil {
            readable[topic.name] = authorization.allows(.read, .topic, topic.name)
        }
        let image = await broker.metadata.current()
        let now = broker.clock()
        let retention = (2...4).contains(version) ? request.retentionTimeMs : -1
        var errors: [TopicPartition: KafkaErrorCode] = [:]
        var accepted: [(TopicPartition, OffsetRecords.Value)] = []
        for topic in request.topics {
            let partitions = image.topics[topic.name]?.partitions
            for partition in topic.partitions {
                let tp = TopicPartition(topic: topic.name, partition: partition.partitionIndex)
                guard readable[topic.name] == true else {
                    errors[tp] = .topicAuthorizationFailed
                    continue
                }
                guard partitions?.contains(where: { $0.partition == partition.partitionIndex }) == true else {
                    errors[tp] = .unknownTopicOrPartition
                    continue
                }
                let metadata = partition.committedMetadata ?? ""
                guard metadata.count <= Self.maxMetadataSize else {
                    errors[tp] = .offsetMetadataTooLarge
                    continue
                }
                let commitTimestamp = version == 1 && partition.commitTimestamp >= 0 ? partition.commitTimestamp : now
                accepted.append((tp, OffsetRecords.Value(
                    offset: partition.committedOffset,
                    leaderEpoch: version >= 6 ? partition.committedLeaderEpoch : -1,
                    metadata: metadata, commitTimestamp: commitTimestamp,
                    expireTimestamp: retention >= 0 ? now + retention : nil)))
            }
        }
        if !accepted.isEmpty {
            var error = await broker.groups.validateOffsetCommit(
                groupID: request.groupId,
                memberID: version >= 1 ? request.memberId : "",
                groupInstanceID: version >= 7 ? request.groupInstanceId : nil,
                generationID: version >= 1 ? request.generationIdOrMemberEpoch : -1)
            if error == .noError { error = await broker.ensureOffsetsTopic() }
            if error == .noError { error = await broker.offsets.commit(groupID: request.groupId, accepted, now: now) }
            for (tp, _) in accepted { errors[tp] = error }
        }
        return OffsetCommitResponse(topics: request.topics.map { topic in
            OffsetCommitResponse.OffsetCommitResponseTopic(name: topic.name, partitions: topic.partitions.map {
                let error = errors[TopicPartition(topic: topic.name, partition: $0.partitionIndex)] ?? .unknownServerError
                return .init(partitionIndex: $0.partitionIndex, errorCode: error.rawValue)
            })
        })
    }

    func errorResponse(_ request: OffsetCommitRequest, _ error: KafkaErrorCode) -> OffsetCommitResponse {
        OffsetCommitResponse(topics: request.topics.map { topic in
            .init(name: topic.name, partitions: topic.partitions.map { .init(partitionIndex: $0.partitionIndex, errorCode: error.rawValue) })
        })
    }
}
