import KafkaProtocol
import RampartAuthorizer

/// AlterConfigs (key 33): replaces the whole set of a topic's config overrides (keys left out return to
/// their defaults), validated first (INVALID_CONFIG, nothing applied), persisted in the metadata store
/// and applied to the live logs; `validateOnly` checks only. Broker resources are refused with
/// INVALID_REQUEST: Rampart reads broker configs from `server.properties` at start-up only. Needs
/// AlterConfigs on the topic (TOPIC_AUTHORIZATION_FAILED) or, for brokers, on the Cluster
/// (CLUSTER_AUTHORIZATION_FAILED).
struct AlterConfigsHandler: KafkaAPIHandler {
    typealias Request = AlterConfigsRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...2

    func handle(_ request: AlterConfigsRequest, context: RequestContext) async -> AlterConfigsResponse? {
        var seen: [String: Int] = [:]
        for resource in request.resources { seen["\(resource.resourceType)/\(resource.resourceName)", default: 0] += 1 }
        let authorization = broker.authorization(context)
        var response = AlterConfigsResponse()
        for resource in request.resources {
            let outcome: (KafkaErrorCode, String?)
            if seen["\(resource.resourceType)/\(resource.resourceName)", default: 0] > 1 {
                outcome = (.invalidRequest, "Duplicate resource in request.")
            } else if let denial = ConfigResourceType(rawValue: resource.resourceType)?.authorize(.alterConfigs, name: resource.resourceName, authorization) {
                outcome = (denial, RequestAuthorization.message(denial))
            } else {
                outcome = await alter(resource, validateOnly: request.validateOnly)
                if outcome.0 == .noError && !request.validateOnly {
                    // Topic configs hold no secrets: the audit event names the whole new set of overrides.
                    let set = resource.configs.map { "\($0.name)=\($0.value ?? "")" }.joined(separator: ",")
                    authorization.auditChange(.alterConfigs, .topic, resource.resourceName,
                                              action: "AlterConfigs topic \(resource.resourceName): overrides now {\(set)}")
                }
            }
            response.responses.append(.init(errorCode: outcome.0.rawValue, errorMessage: outcome.1,
                                            resourceType: resource.resourceType, resourceName: resource.resourceName))
        }
        return response
    }

    private func alter(_ resource: AlterConfigsRequest.AlterConfigsResource, validateOnly: Bool) async -> (KafkaErrorCode, String?) {
        switch ConfigResourceType(rawValue: resource.resourceType) {
        case .topic:
            var configs: [String: String] = [:]
            for config in resource.configs {
                guard let value = config.value else { return (.invalidRequest, "Null value not supported for: \(config.name)") }
                guard configs[config.name] == nil else { return (.invalidRequest, "Config \(config.name) is given twice.") }
                configs[config.name] = value
            }
            if let problem = Broker.validateTopicName(resource.resourceName) { return (.invalidTopic, problem) }
            do {
                try await broker.updateTopicConfigs(name: resource.resourceName, validateOnly: validateOnly) { _ in configs }
            } catch {
                return (error.code, error.message)
            }
            return (.noError, nil)
        case .broker, .brokerLogger:
            return (.invalidRequest, AlterConfigsHandler.brokerChangeRefusal)
        case nil:
            return (.invalidRequest, "Unsupported resource type \(resource.resourceType).")
        }
    }

    /// The answer to any change of a broker or broker-logger config.
    static let brokerChangeRefusal = "Rampart does not change broker configs at runtime; set them in server.properties and restart the broker."

    func errorResponse(_ request: AlterConfigsRequest, _ error: KafkaErrorCode) -> AlterConfigsResponse {
        AlterConfigsResponse(responses: request.resources.map {
            .init(errorCode: error.rawValue, errorMessage: nil, resourceType: $0.resourceType, resourceName: $0.resourceName)
        })
    }
}
