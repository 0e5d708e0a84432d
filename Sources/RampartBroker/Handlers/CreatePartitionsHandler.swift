import KafkaProtocol

/// CreatePartitions (key 37): grows topics to a new partition count (increase only: INVALID_PARTITIONS
/// otherwise), with optional manual assignments naming only this node, and `validateOnly`. A topic
/// given twice is refused (INVALID_REQUEST). Needs Alter on the topic (TOPIC_AUTHORIZATION_FAILED, before
/// the topic's existence).
struct CreatePartitionsHandler: KafkaAPIHandler {
    typealias Request = CreatePartitionsRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...3

    func handle(_ request: CreatePartitionsRequest, context: RequestContext) async -> CreatePartitionsResponse? {
        var counts: [String: Int] = [:]
        for topic in request.topics { counts[topic.name, default: 0] += 1 }
        let authorization = broker.authorization(context)
        var response = CreatePartitionsResponse()
        for topic in request.topics {
            if counts[topic.name, default: 0] > 1 {
                response.results.append(.init(name: topic.name, errorCode: KafkaErrorCode.invalidRequest.rawValue,
                                              errorMessage: "Duplicate topic in request."))
                continue
            }
            guard authorization.allows(.alter, .topic, topic.name) else {
                response.results.append(.init(name: topic.name, errorCode: KafkaErrorCode.topicAuthorizationFailed.rawValue,
                                              errorMessage: "The topic authorization is failed."))
                continue
            }
            let assignments = topic.assignments.flatMap { $0.isEmpty ? nil : $0.map(\.brokerIds) }
            do {
                try await broker.createPartitions(topic: topic.name, count: topic.count, assignments: assignments,
                                                  validateOnly: request.validateOnly)
                response.results.append(.init(name: topic.name, errorCode: 0, errorMessage: nil))
            } catch {
                response.results.append(.init(name: topic.name, errorCode: error.code.rawValue, errorMessage: error.message))
            }
        }
        return response
    }

    func errorResponse(_ request: CreatePartitionsRequest, _ error: KafkaErrorCode) -> CreatePartitionsResponse {
        CreatePartitionsResponse(results: request.topics.map { .init(name: $0.name, errorCode: error.rawValue, errorMessage: nil) })
    }
}
