import KafkaProtocol

/// Kafka's config resource types.
enum ConfigResourceType: Int8 {
    case topic = 2
    case broker = 4
    case brokerLogger = 8

    /// The ACL check for `operation` on this config resource (Kafka's): topics on the topic, brokers
    /// and broker loggers on the Cluster; with the error a denial answers. Nil for unknown types.
    func authorize(_ operation: AclOperation, name: String, _ authorization: RequestAuthorization) -> KafkaErrorCode? {
        switch self {
        case .topic: authorization.allows(operation, .topic, name) ? nil : .topicAuthorizationFailed
        case .broker, .brokerLogger: authorization.allowsCluster(operation) ? nil : .clusterAuthorizationFailed
        }
    }
}

/// DescribeConfigs (key 32): every config (or the named ones) of a topic (2) or this broker (4) with its
/// value, read-only flag, source (v0: `isDefault`), sensitivity (sensitive values are null), synonyms
/// (v1+ when asked) and, v3+, type and documentation. Broker loggers (8) are answered with an error.
/// Needs DescribeConfigs on the topic (TOPIC_AUTHORIZATION_FAILED) or, for brokers, on the Cluster
/// (CLUSTER_AUTHORIZATION_FAILED).
struct DescribeConfigsHandler: KafkaAPIHandler {
    typealias Request = DescribeConfigsRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...4

    func handle(_ request: DescribeConfigsRequest, context: RequestContext) async -> DescribeConfigsResponse? {
        let image = await broker.metadata.current()
        let authorization = broker.authorization(context)
        var response = DescribeConfigsResponse()
        for resource in request.resources {
            var result = DescribeConfigsResponse.DescribeConfigsResult(
                errorCode: 0, errorMessage: nil, resourceType: resource.resourceType, resourceName: resource.resourceName)
            func fail(_ code: KafkaErrorCode, _ message: String) {
                result.errorCode = code.rawValue
                result.errorMessage = message
            }
            if let denial = ConfigResourceType(rawValue: resource.resourceType)?.authorize(.describeConfigs, name: resource.resourceName, authorization) {
                fail(denial, RequestAuthorization.message(denial))
                response.results.append(result)
                continue
            }
            switch ConfigResourceType(rawValue: resource.resourceType) {
            case .topic:
                if let problem = Broker.validateTopicName(resource.resourceName) {
                    fail(.invalidTopic, problem)
                } else if let topic = image.topics[resource.resourceName] {
                    result.configs = entries(broker.describeTopicConfigs(overrides: topic.configs, keys: resource.configurationKeys),
                                             request: request, version: context.apiVersion)
                } else {
                    fail(.unknownTopicOrPartition, "Topic '\(resource.resourceName)' does not exist.")
                }
            case .broker:
                if let problem = checkBrokerName(resource.resourceName) {
                    fail(.invalidRequest, problem)
                } else if resource.resourceName.isEmpty {
                    // The cluster-wide dynamic defaults: Rampart has none.
                    result.configs = []
                } else {
                    result.configs = entries(broker.describeBrokerConfigs(keys: resource.configurationKeys),
                                             request: request, version: context.apiVersion)
                }
            case .brokerLogger:
                fail(.invalidRequest, "Broker loggers are not exposed over the Kafka protocol; set rampart.log.level in server.properties.")
            case nil:
                fail(.invalidRequest, "Unsupported resource type \(resource.resourceType).")
            }
            response.results.append(result)
        }
        return response
    }

    /// Why a broker resource name is not this broker (nil when it is, or empty: the cluster default).
    func checkBrokerName(_ name: String) -> String? {
        if name.isEmpty || Int32(name) == broker.settings.nodeID { return nil }
        return "Unexpected broker id, expected \(broker.settings.nodeID) or empty string, but received \(name)"
    }

    private func entries(_ configs: [ConfigDescription], request: DescribeConfigsRequest, version: Int16)
        -> [DescribeConfigsResponse.DescribeConfigsResourceResult] {
        configs.map { config in
            .init(name: config.name, value: config.isSensitive ? nil : config.value, readOnly: config.readOnly,
                  isDefault: version == 0 && config.source == .defaultConfig, configSource: config.source.rawValue, isSensitive: config.isSensitive,
                  synonyms: version >= 1 && request.includeSynonyms
                      ? config.synonyms.map { .init(name: $0.name, value: config.isSensitive ? nil : $0.value, source: $0.source.rawValue) }
                      : [],
                  configType: version >= 3 ? config.typeCode : 0,
                  documentation: version >= 3 && request.includeDocumentation ? config.documentation : nil)
        }
    }

    func errorResponse(_ request: DescribeConfigsRequest, _ error: KafkaErrorCode) -> DescribeConfigsResponse {
        DescribeConfigsResponse(results: request.resources.map {
            .init(errorCode: error.rawValue, errorMessage: nil, resourceType: $0.resourceType, resourceName: $0.resourceName)
        })
    }
}
