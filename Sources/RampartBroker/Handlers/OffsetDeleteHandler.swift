import KafkaProtocol
import NIOCore
import RampartStorage

/// OffsetDelete (key 47, KIP-496): deletes committed offsets of a group. Any partition of an Empty
/// group; in a consumer group with members, only partitions of topics no member subscribes to
/// (GROUP_SUBSCRIBED_TO_TOPIC otherwise); a group of another protocol type with members is
/// NON_EMPTY_GROUP. UNKNOWN_TOPIC_OR_PARTITION for partitions that do not exist.
///
/// Authorization (Kafka's): Delete on the group (GROUP_AUTHORIZATION_FAILED), then Read on each topic
/// (TOPIC_AUTHORIZATION_FAILED for its partitions, before their existence).
struct OffsetDeleteHandler: KafkaAPIHandler {
    typealias Request = OffsetDeleteRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...0

    func handle(_ request: OffsetDeleteRequest, context: RequestContext) async -> OffsetDeleteResponse? {
        let authorization = broker.authorization(context)
        guard authorization.allows(.delete, .group, request.groupId) else { return errorResponse(request, .groupAuthorizationFailed) }
        var readable: [String: Bool] = [:]
        for topic in request.topics where readable[topic.name] == nil {
            readable[topic.name] = authorization.allows(.read, .topic, topic.name)
        }
        guard !request.groupId.isEmpty else { return errorResponse(request, .invalidGroupId) }
        let description = await broker.groups.describeGroup(request.groupId)
        let hasOffsets = await broker.offsets.hasOffsets(request.groupId)
        if description.state == .dead && !hasOffsets { return errorResponse(request, .groupIdNotFound) }
        var subscribed: Set<String> = []
        if description.state != .empty && description.state != .dead {
            guard description.protocolType == "consumer" else { return errorResponse(request, .nonEmptyGroup) }
            subscribed = Self.subscribedTopics(description.members.map(\.metadata))
        }

        let image = await broker.metadata.current()
        var errors: [TopicPartition: KafkaErrorCode] = [:]
        var deletable: [TopicPartition] = []
        for topic in request.topics {
            for partition in topic.partitions {
                let tp = TopicPartition(topic: topic.name, partition: partition.partitionIndex)
                if readable[topic.name] != true {
                    errors[tp] = .topicAuthorizationFailed
                } else if image.topics[topic.name]?.partitions.contains(where: { $0.partition == partition.partitionIndex }) != true {
                    errors[tp] = .unknownTopicOrPartition
                } else if subscribed.contains(topic.name) {
                    errors[tp] = .groupSubscribedToTopic
                } else {
                    deletable.append(tp)
                }
            }
        }
        if !deletable.isEmpty {
            let error: KafkaErrorCode
            switch await broker.offsets.delete(groupID: request.groupId, partitions: deletable, now: broker.clock()) {
            case .success: error = .noError
            case .failure(let failure): error = failure
            }
            if error != .noError { return errorResponse(request, error) }
            for tp in deletable { errors[tp] = .noError }
        }
        return OffsetDeleteResponse(errorCode: 0, topics: request.topics.map { topic in
            .init(name: topic.name, partitions: topic.partitions.map {
                .init(partitionIndex: $0.partitionIndex,
                      errorCode: (errors[TopicPartition(topic: topic.name, partition: $0.partitionIndex)] ?? .noError).rawValue)
            })
        })
    }

    /// The topics named by members' consumer-protocol subscriptions (metadata that does not decode
    /// subscribes to nothing, as in Kafka).
    static func subscribedTopics(_ metadata: [ByteBuffer]) -> Set<String> {
        var topics: Set<String> = []
        for var bytes in metadata {
            guard let version = try? bytes.readKafkaInt16("subscription version"), version >= 0 else { continue }
            let readable = min(version, ConsumerProtocolSubscription.validVersions.upperBound)
            if let subscription = try? ConsumerProtocolSubscription(from: &bytes, version: readable) {
                topics.formUnion(subscription.topics)
            }
        }
        return topics
    }

    func errorResponse(_ request: OffsetDeleteRequest, _ error: KafkaErrorCode) -> OffsetDeleteResponse {
        OffsetDeleteResponse(errorCode: error.rawValue)
    }
}
