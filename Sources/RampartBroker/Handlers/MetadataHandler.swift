import KafkaProtocol
import RampartMetadata

/// Metadata (key 3): brokers, the cluster id, and topics with their partitions. Unknown topics are
/// created when `auto.create.topics.enable` and the request allow it (v4+ carries the flag).
struct MetadataHandler: KafkaAPIHandler {
    typealias Request = MetadataRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...12

    func handle(_ request: MetadataRequest, context: RequestContext) async -> MetadataResponse? {
        var image = await broker.metadata.current()
        let listener = broker.advertised(for: context.listenerName)
        var response = MetadataResponse()
        response.brokers = listener.map {
            [MetadataResponse.MetadataResponseBroker(nodeId: broker.settings.nodeID, host: $0.host, port: $0.port, rack: nil)]
        } ?? []
        response.clusterId = image.clusterID
        response.controllerId = broker.settings.nodeID

        // v0: an empty list means every topic; v1+: null means every topic, empty means none.
        let everyTopic = request.topics == nil || (context.apiVersion == 0 && request.topics?.isEmpty == true)
        if everyTopic {
            response.topics = image.topics.values.sorted { $0.name < $1.name }.map { topicResponse($0) }
            return response
        }
        let allowCreate = broker.settings.autoCreateTopics && (context.apiVersion < 4 || request.allowAutoTopicCreation)
        for requested in request.topics ?? [] {
            if let name = requested.name, !name.isEmpty {
                if let topic = image.topics[name] {
                    response.topics.append(topicResponse(topic))
                    continue
                }
                if let problem = Broker.validateTopicName(name) {
                    _ = problem
                    response.topics.append(.init(errorCode: KafkaErrorCode.invalidTopic.rawValue, name: name))
                    continue
                }
                guard allowCreate, !name.hasPrefix("__") else {
                    response.topics.append(.init(errorCode: KafkaErrorCode.unknownTopicOrPartition.rawValue, name: name))
                    continue
                }
                do {
                    let topic = try await broker.createTopic(name: name)
                    response.topics.append(topicResponse(topic))
                } catch {
                    if error.code == .topicAlreadyExists {
                        // Created concurrently by another request.
                        image = await broker.metadata.current()
                        if let topic = image.topics[name] { response.topics.append(topicResponse(topic)); continue }
                    }
                    response.topics.append(.init(errorCode: error.code.rawValue, name: name))
                }
            } else if requested.topicId != .zero {
                let id = TopicID(mostSignificantBits: requested.topicId.mostSignificantBits,
                                 leastSignificantBits: requested.topicId.leastSignificantBits)
                if let topic = image.topic(id: id) {
                    response.topics.append(topicResponse(topic))
                } else {
                    response.topics.append(.init(errorCode: KafkaErrorCode.unknownTopicId.rawValue, name: nil, topicId: requested.topicId))
                }
            } else {
                response.topics.append(.init(errorCode: KafkaErrorCode.invalidTopic.rawValue, name: requested.name))
            }
        }
        return response
    }

    func topicResponse(_ topic: TopicMetadata) -> MetadataResponse.MetadataResponseTopic {
        MetadataResponse.MetadataResponseTopic(
            errorCode: 0, name: topic.name,
            topicId: KafkaUUID(mostSignificantBits: topic.id.mostSignificantBits, leastSignificantBits: topic.id.leastSignificantBits),
            isInternal: topic.isInternal,
            partitions: topic.partitions.map {
                .init(errorCode: 0, partitionIndex: $0.partition, leaderId: $0.leader, leaderEpoch: $0.leaderEpoch,
                      replicaNodes: $0.replicas, isrNodes: $0.isr, offlineReplicas: [])
            })
    }

    func errorResponse(_ request: MetadataRequest, _ error: KafkaErrorCode) -> MetadataResponse {
        MetadataResponse(topics: (request.topics ?? []).map { .init(errorCode: error.rawValue, name: $0.name) })
    }
}
