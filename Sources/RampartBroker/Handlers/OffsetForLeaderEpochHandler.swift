import KafkaProtocol

/// OffsetForLeaderEpoch (key 23): the end offset of a leader epoch. A single node has only epoch 0,
/// which ends at the log end offset; later epochs are unknown (-1/-1), as Kafka answers.
/// librdkafka ≥ 2.1 sends v2 whenever Metadata carries leader epochs (COMPAT-NOTES pitfall 4).
/// Authorization (Kafka's): ClusterAction on the Cluster covers every topic; otherwise partitions of
/// topics the principal may not Describe are TOPIC_AUTHORIZATION_FAILED.
struct OffsetForLeaderEpochHandler: KafkaAPIHandler {
    typealias Request = OffsetForLeaderEpochRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...4

    func handle(_ request: OffsetForLeaderEpochRequest, context: RequestContext) async -> OffsetForLeaderEpochResponse? {
        let authorization = broker.authorization(context)
        let clusterAction = authorization.allowsCluster(.clusterAction, audit: false)
        var describable: [String: Bool] = [:]
        for topic in request.topics where describable[topic.topic] == nil {
            describable[topic.topic] = clusterAction || authorization.allows(.describe, .topic, topic.topic)
        }
        let image = await broker.metadata.current()
        var response = OffsetForLeaderEpochResponse()
        for topic in request.topics {
            var result = OffsetForLeaderEpochResponse.OffsetForLeaderTopicResult(topic: topic.topic)
            for partition in topic.partitions {
                var answer = OffsetForLeaderEpochResponse.EpochEndOffset(partition: partition.partition)
                guard describable[topic.topic] == true else {
                    answer.errorCode = KafkaErrorCode.topicAuthorizationFailed.rawValue
                    result.partitions.append(answer)
                    continue
                }
                switch await broker.partitionLog(topic: topic.topic, partition: partition.partition, image: image) {
                case .failure(let code):
                    answer.errorCode = code.rawValue
                case .success(let log):
                    let metadata = image.topics[topic.topic]?.partitions.first { $0.partition == partition.partition }
                    let check = broker.checkLeaderEpoch(partition.currentLeaderEpoch, partition: metadata)
                    let current = metadata?.leaderEpoch ?? 0
                    if check != .noError {
                        answer.errorCode = check.rawValue
                    } else if partition.leaderEpoch <= current {
                        answer.leaderEpoch = current
                        answer.endOffset = await log.logEndOffset
                    }
                }
                result.partitions.append(answer)
            }
            response.topics.append(result)
        }
        return response
    }

    func errorResponse(_ request: OffsetForLeaderEpochRequest, _ error: KafkaErrorCode) -> OffsetForLeaderEpochResponse {
        OffsetForLeaderEpochResponse(topics: request.topics.map { topic in
            .init(topic: topic.topic, partitions: topic.partitions.map { .init(errorCode: error.rawValue, partition: $0.partition) })
        })
    }
}
