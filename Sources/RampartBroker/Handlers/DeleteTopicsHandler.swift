import KafkaProtocol
import RampartAuthorizer
import RampartMetadata

/// DeleteTopics (key 20): by name (v0–5 `topicNames`, v6 `topics`) or by id (v6). Internal topics are
/// refused (INVALID_REQUEST) — deleting `__consumer_offsets` under the group coordinator loses every
/// committed offset. A name or id given twice is refused for those entries.
///
/// Authorization (Kafka's), before the topic's existence: Delete on the topic
/// (TOPIC_AUTHORIZATION_FAILED); a topic named by id whose name the principal may not Describe is
/// answered without its name.
struct DeleteTopicsHandler: KafkaAPIHandler {
    typealias Request = DeleteTopicsRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...6

    private struct Target {
        var name: String?
        var id: KafkaUUID
    }

    func handle(_ request: DeleteTopicsRequest, context: RequestContext) async -> DeleteTopicsResponse? {
        let targets = context.apiVersion >= 6
            ? request.topics.map { Target(name: $0.name, id: $0.topicId) }
            : request.topicNames.map { Target(name: $0, id: .zero) }
        var seenNames: [String: Int] = [:]
        var seenIDs: [KafkaUUID: Int] = [:]
        for target in targets {
            if let name = target.name { seenNames[name, default: 0] += 1 } else if target.id != .zero { seenIDs[target.id, default: 0] += 1 }
        }
        let authorization = broker.authorization(context)
        var response = DeleteTopicsResponse()
        for target in targets {
            response.responses.append(await delete(target, duplicate: target.name.map { seenNames[$0]! > 1 } ?? (seenIDs[target.id, default: 0] > 1),
                                                   authorization: authorization))
        }
        return response
    }

    private func delete(_ target: Target, duplicate: Bool, authorization: RequestAuthorization) async -> DeleteTopicsResponse.DeletableTopicResult {
        func result(_ name: String?, _ id: KafkaUUID, _ code: KafkaErrorCode, _ message: String?) -> DeleteTopicsResponse.DeletableTopicResult {
            .init(name: name, topicId: id, errorCode: code.rawValue, errorMessage: message)
        }
        if duplicate { return result(target.name, target.id, .invalidRequest, "Duplicate topic in request.") }
        let image = await broker.metadata.current()
        let topic: TopicMetadata
        if let name = target.name {
            if target.id != .zero { return result(name, target.id, .invalidRequest, "Give a topic name or a topic id, not both.") }
            guard authorization.allows(.delete, .topic, name) else {
                return result(name, .zero, .topicAuthorizationFailed, RequestAuthorization.message(.topicAuthorizationFailed))
            }
            guard let found = image.topics[name] else {
                return result(name, .zero, .unknownTopicOrPartition, "This server does not host this topic-partition.")
            }
            topic = found
        } else if target.id != .zero {
            guard let found = image.topic(id: Broker.storedTopicID(target.id)) else {
                return result(nil, target.id, .unknownTopicId, "This server does not host this topic ID.")
            }
            guard authorization.allows(.describe, .topic, found.name) else {
                return result(nil, target.id, .topicAuthorizationFailed, RequestAuthorization.message(.topicAuthorizationFailed))
            }
            guard authorization.allows(.delete, .topic, found.name) else {
                return result(found.name, target.id, .topicAuthorizationFailed, RequestAuthorization.message(.topicAuthorizationFailed))
            }
            topic = found
        } else {
            return result(nil, .zero, .invalidRequest, "Neither a topic name nor a topic id was given.")
        }
        let id = Broker.wireTopicID(topic.id)
        if topic.isInternal { return result(topic.name, id, .invalidRequest, "Topic \(topic.name) is an internal topic and cannot be deleted.") }
        do {
            try await broker.deleteTopic(name: topic.name)
        } catch {
            return result(topic.name, id, error.code, error.message)
        }
        authorization.auditChange(.delete, .topic, topic.name, action: "DeleteTopics \(topic.name)")
        return result(topic.name, id, .noError, nil)
    }

    func errorResponse(_ request: DeleteTopicsRequest, _ error: KafkaErrorCode) -> DeleteTopicsResponse {
        let names = request.topicNames.map { DeleteTopicsResponse.DeletableTopicResult(name: $0, errorCode: error.rawValue) }
        let byState = request.topics.map { DeleteTopicsResponse.DeletableTopicResult(name: $0.name, topicId: $0.topicId, errorCode: error.rawValue) }
        return DeleteTopicsResponse(responses: names + byState)
    }
}
