import KafkaProtocol
import RampartStorage

/// DeleteRecords (key 21): moves each partition's log start offset to the given offset (-1: the high
/// watermark); an offset beyond the high watermark is OFFSET_OUT_OF_RANGE. Answers the new low watermark.
/// Partitions of topics the principal may not Delete are TOPIC_AUTHORIZATION_FAILED (existing or not).
struct DeleteRecordsHandler: KafkaAPIHandler {
    typealias Request = DeleteRecordsRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...2

    func handle(_ request: DeleteRecordsRequest, context: RequestContext) async -> DeleteRecordsResponse? {
        let authorization = broker.authorization(context)
        var deletable: [String: Bool] = [:]
        for topic in request.topics where deletable[topic.name] == nil {
            deletable[topic.name] = authorization.allows(.delete, .topic, topic.name)
        }
        let image = await broker.metadata.current()
        var response = DeleteRecordsResponse()
        for topic in request.topics {
            var result = DeleteRecordsResponse.DeleteRecordsTopicResult(name: topic.name)
            for partition in topic.partitions {
                let index = partition.partitionIndex
                guard deletable[topic.name] == true else {
                    result.partitions.append(.init(partitionIndex: index, lowWatermark: -1,
                                                   errorCode: KafkaErrorCode.topicAuthorizationFailed.rawValue))
                    continue
                }
                switch await broker.partitionLog(topic: topic.name, partition: index, image: image) {
                case .failure(let code):
                    result.partitions.append(.init(partitionIndex: index, lowWatermark: -1, errorCode: code.rawValue))
                case .success:
                    do {
                        let low = try await broker.logs.deleteRecords(TopicPartition(topic: topic.name, partition: index), before: partition.offset)
                        result.partitions.append(.init(partitionIndex: index, lowWatermark: low, errorCode: 0))
                    } catch {
                        result.partitions.append(.init(partitionIndex: index, lowWatermark: -1, errorCode: Broker.errorCode(error).rawValue))
                    }
                }
            }
            response.topics.append(result)
        }
        return response
    }

    func errorResponse(_ request: DeleteRecordsRequest, _ error: KafkaErrorCode) -> DeleteRecordsResponse {
        DeleteRecordsResponse(topics: request.topics.map { topic in
            .init(name: topic.name, partitions: topic.partitions.map { .init(partitionIndex: $0.partitionIndex, lowWatermark: -1, errorCode: error.rawValue) })
        })
    }
}
