import KafkaProtocol
import RampartMetadata

/// CreateTopics (key 19): per topic a partition count and replication factor (-1 takes the broker
/// defaults) or a manual assignment (only this node can hold replicas), validated configs, `validateOnly`.
/// Names given twice in one request are refused (INVALID_REQUEST). v5+ answers with the partition count,
/// replication factor and every config of the topic; v7 with the topic id.
///
/// Authorization (Kafka's): Create on the Cluster covers every topic; otherwise Create on each topic
/// (TOPIC_AUTHORIZATION_FAILED). The configs in a v5+ answer need DescribeConfigs on the topic; without
/// it they are left out and `topicConfigErrorCode` is TOPIC_AUTHORIZATION_FAILED.
struct CreateTopicsHandler: KafkaAPIHandler {
    typealias Request = CreateTopicsRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...7

    func handle(_ request: CreateTopicsRequest, context: RequestContext) async -> CreateTopicsResponse? {
        var counts: [String: Int] = [:]
        for topic in request.topics { counts[topic.name, default: 0] += 1 }
        let authorization = broker.authorization(context)
        let clusterCreate = authorization.allowsCluster(.create, audit: false)
        var response = CreateTopicsResponse()
        // Topics that pass the request-level checks are created together (one metadata update).
        var pending: [(slot: Int, request: NewTopicRequest)] = []
        for topic in request.topics {
            if counts[topic.name, default: 0] > 1 {
                response.topics.append(failure(topic.name, .invalidRequest, "Found multiple entries for topic '\(topic.name)' in the request."))
                continue
            }
            guard clusterCreate || authorization.allows(.create, .topic, topic.name) else {
                response.topics.append(failure(topic.name, .topicAuthorizationFailed, "Authorization failed."))
                continue
            }
            switch prepare(topic) {
            case .answer(let result): response.topics.append(result)
            case .create(let new):
                pending.append((response.topics.count, new))
                response.topics.append(failure(topic.name, .unknownServerError, "not created"))
            }
        }
        let outcomes = await broker.createTopics(pending.map(\.request), validateOnly: request.validateOnly)
        for ((slot, new), outcome) in zip(pending, outcomes) {
            switch outcome {
            case .failure(let error):
                response.topics[slot] = failure(new.name, error.code, error.message)
            case .success(let created):
                var result = success(created, validateOnly: request.validateOnly, version: context.apiVersion)
                if context.apiVersion >= 5 && !authorization.allows(.describeConfigs, .topic, new.name) {
                    result.configs = nil
                    result.topicConfigErrorCode = KafkaErrorCode.topicAuthorizationFailed.rawValue
                }
                response.topics[slot] = result
            }
        }
        return response
    }

    /// The request-level checks of one topic (assignments, null or repeated configs): the topic to create,
    /// or the failure to answer.
    private func prepare(_ topic: CreateTopicsRequest.CreatableTopic) -> Prepared {
        var partitions = topic.numPartitions
        var replication = topic.replicationFactor
        if !topic.assignments.isEmpty {
            guard partitions == -1, replication == -1 else {
                return .answer(failure(topic.name, .invalidRequest,
                                       "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time."))
            }
            let indexes = topic.assignments.map(\.partitionIndex).sorted()
            guard indexes == Array(0..<Int32(indexes.count)) else {
                return .answer(failure(topic.name, .invalidReplicationAssignment,
                                       "Partitions should be a consecutive 0-based integer sequence, got \(indexes)."))
            }
            let factor = topic.assignments[0].brokerIds.count
            for assignment in topic.assignments {
                if let problem = broker.checkReplicas(assignment.brokerIds, partition: assignment.partitionIndex, replicationFactor: factor) {
                    return .answer(failure(topic.name, .invalidReplicationAssignment, problem))
                }
            }
            partitions = Int32(topic.assignments.count)
            replication = Int16(factor)
        }
        var configs: [String: String] = [:]
        for config in topic.configs {
            guard let value = config.value else {
                return .answer(failure(topic.name, .invalidConfig, "Null value not supported for topic configs: \(config.name)"))
            }
            guard configs[config.name] == nil else {
                return .answer(failure(topic.name, .invalidRequest, "Config \(config.name) is given twice."))
            }
            configs[config.name] = value
        }
        return .create(NewTopicRequest(name: topic.name, partitions: partitions, replicationFactor: replication, configs: configs))
    }

    private enum Prepared {
        case create(NewTopicRequest)
        case answer(CreateTopicsResponse.CreatableTopicResult)
    }

    private func success(_ topic: TopicMetadata, validateOnly: Bool, version: Int16) -> CreateTopicsResponse.CreatableTopicResult {
        let created = topic
        var result = CreateTopicsResponse.CreatableTopicResult(
            name: topic.name, topicId: validateOnly ? .zero : Broker.wireTopicID(created.id), errorCode: 0, errorMessage: nil,
            numPartitions: Int32(created.partitions.count), replicationFactor: Int16(created.partitions.first?.replicas.count ?? 1))
        if version >= 5 {
            result.configs = broker.describeTopicConfigs(overrides: created.configs).map {
                .init(name: $0.name, value: $0.value, readOnly: $0.readOnly, configSource: $0.source.rawValue, isSensitive: $0.isSensitive)
            }
        }
        return result
    }

    private func failure(_ name: String, _ code: KafkaErrorCode, _ message: String) -> CreateTopicsResponse.CreatableTopicResult {
        .init(name: name, errorCode: code.rawValue, errorMessage: message, numPartitions: -1, replicationFactor: -1, configs: nil)
    }

    func errorResponse(_ request: CreateTopicsRequest, _ error: KafkaErrorCode) -> CreateTopicsResponse {
        CreateTopicsResponse(topics: request.topics.map {
            .init(name: $0.name, errorCode: error.rawValue, errorMessage: nil, numPartitions: -1, replicationFactor: -1, configs: nil)
        })
    }
}
