import KafkaProtocol
import RampartMetadata

/// Metadata (key 3): brokers, the cluster id, and topics with their partitions. Unknown topics are
/// created when `auto.create.topics.enable` and the request allow it (v4+ carries the flag).
///
/// Authorization (Kafka's): a topic the principal may not Describe is left out of an all-topics
/// answer and is TOPIC_AUTHORIZATION_FAILED when named — whether it exists or not, so names do not
/// leak (asked by id, the id is echoed without the name). Auto-creation needs Create on the Cluster
/// or on the topic (else TOPIC_AUTHORIZATION_FAILED). v8+ report authorized operations when asked.
struct MetadataHandler: KafkaAPIHandler {
    typealias Request = MetadataRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...12

    func handle(_ request: MetadataRequest, context: RequestContext) async -> MetadataResponse? {
        var image = await broker.metadata.current()
        let authorization = broker.authorization(context)
        let listener = broker.advertised(for: context.listenerName)
        var response = MetadataResponse()
        response.brokers = listener.map {
            [MetadataResponse.MetadataResponseBroker(nodeId: broker.settings.nodeID, host: $0.host, port: $0.port, rack: nil)]
        } ?? []
        response.clusterId = image.clusterID
        response.controllerId = broker.settings.nodeID
        if (8...10).contains(context.apiVersion) && request.includeClusterAuthorizedOperations {
            response.clusterAuthorizedOperations = authorization.allowsCluster(.describe, audit: false)
                ? authorization.operationBits(.cluster, ResourcePattern.clusterName) : 0
        }
        let withOperations = context.apiVersion >= 8 && request.includeTopicAuthorizedOperations
        func answer(_ topic: TopicMetadata) -> MetadataResponse.MetadataResponseTopic {
            var result = topicResponse(topic)
            if withOperations { result.topicAuthorizedOperations = authorization.operationBits(.topic, topic.name) }
            return result
        }

        // v0: an empty list means every topic; v1+: null means every topic, empty means none.
        let everyTopic = request.topics == nil || (context.apiVersion == 0 && request.topics?.isEmpty == true)
        if everyTopic {
            response.topics = image.topics.values.sorted { $0.name < $1.name }
                .filter { authorization.allows(.describe, .topic, $0.name, audit: false) }
                .map(answer)
            return response
        }
        let allowCreate = broker.settings.autoCreateTopics && (context.apiVersion < 4 || request.allowAutoTopicCreation)
        var clusterCreate: Bool?
        for requested in request.topics ?? [] {
            if let name = requested.name, !name.isEmpty {
                guard authorization.allows(.describe, .topic, name) else {
                    response.topics.append(.init(errorCode: KafkaErrorCode.topicAuthorizationFailed.rawValue, name: name))
                    continue
                }
                if let topic = image.topics[name] {
                    response.topics.append(answer(topic))
                    continue
                }
                if Broker.validateTopicName(name) != nil {
                    response.topics.append(.init(errorCode: KafkaErrorCode.invalidTopic.rawValue, name: name))
                    continue
                }
                guard allowCreate, !name.hasPrefix("__") else {
                    response.topics.append(.init(errorCode: KafkaErrorCode.unknownTopicOrPartition.rawValue, name: name))
                    continue
                }
                if clusterCreate == nil { clusterCreate = authorization.allowsCluster(.create, audit: false) }
                guard clusterCreate == true || authorization.allows(.create, .topic, name) else {
                    response.topics.append(.init(errorCode: KafkaErrorCode.topicAuthorizationFailed.rawValue, name: name))
                    continue
                }
                do {
                    let topic = try await broker.createTopic(name: name)
                    response.topics.append(answer(topic))
                } catch {
                    if error.code == .topicAlreadyExists {
                        // Created concurrently by another request.
                        image = await broker.metadata.current()
                        if let topic = image.topics[name] { response.topics.append(answer(topic)); continue }
                    }
                    response.topics.append(.init(errorCode: error.code.rawValue, name: name))
                }
            } else if requested.topicId != .zero {
                let id = TopicID(mostSignificantBits: requested.topicId.mostSignificantBits,
                                 leastSignificantBits: requested.topicId.leastSignificantBits)
                if let topic = image.topic(id: id) {
                    if authorization.allows(.describe, .topic, topic.name) {
                        response.topics.append(answer(topic))
                    } else {
                        response.topics.append(.init(errorCode: KafkaErrorCode.topicAuthorizationFailed.rawValue, name: nil,
                                                     topicId: requested.topicId))
                    }
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
