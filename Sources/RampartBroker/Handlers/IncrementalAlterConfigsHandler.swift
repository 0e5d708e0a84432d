import KafkaProtocol
import RampartAuthorizer

/// IncrementalAlterConfigs (key 44): per topic config SET (0), DELETE (1: back to the default), APPEND
/// (2) and SUBTRACT (3) — the last two only for list configs (`cleanup.policy`), starting from the value
/// in force. The result is validated as a whole (INVALID_CONFIG, nothing applied), persisted and applied
/// to the live logs; `validateOnly` checks only. Broker resources are refused (INVALID_REQUEST). Needs
/// AlterConfigs on the topic (TOPIC_AUTHORIZATION_FAILED) or, for brokers, on the Cluster
/// (CLUSTER_AUTHORIZATION_FAILED).
struct IncrementalAlterConfigsHandler: KafkaAPIHandler {
    typealias Request = IncrementalAlterConfigsRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...1

    enum Operation: Int8 {
        case set = 0
        case delete = 1
        case append = 2
        case subtract = 3
    }

    func handle(_ request: IncrementalAlterConfigsRequest, context: RequestContext) async -> IncrementalAlterConfigsResponse? {
        var seen: [String: Int] = [:]
        for resource in request.resources { seen["\(resource.resourceType)/\(resource.resourceName)", default: 0] += 1 }
        let authorization = broker.authorization(context)
        var response = IncrementalAlterConfigsResponse()
        for resource in request.resources {
            let outcome: (KafkaErrorCode, String?)
            if seen["\(resource.resourceType)/\(resource.resourceName)", default: 0] > 1 {
                outcome = (.invalidRequest, "Duplicate resource in request.")
            } else if let denial = ConfigResourceType(rawValue: resource.resourceType)?.authorize(.alterConfigs, name: resource.resourceName, authorization) {
                outcome = (denial, RequestAuthorization.message(denial))
            } else {
                outcome = await alter(resource, validateOnly: request.validateOnly)
                if outcome.0 == .noError && !request.validateOnly {
                    // Topic configs hold no secrets: the audit event names each operation and value.
                    let names = ["SET", "DELETE", "APPEND", "SUBTRACT"]
                    let changes = resource.configs.map { config in
                        let op = names.indices.contains(Int(config.configOperation)) ? names[Int(config.configOperation)] : "\(config.configOperation)"
                        return config.configOperation == Operation.delete.rawValue ? "\(op) \(config.name)" : "\(op) \(config.name)=\(config.value ?? "")"
                    }.joined(separator: ", ")
                    authorization.auditChange(.alterConfigs, .topic, resource.resourceName,
                                              action: "IncrementalAlterConfigs topic \(resource.resourceName): \(changes)")
                }
            }
            response.responses.append(.init(errorCode: outcome.0.rawValue, errorMessage: outcome.1,
                                            resourceType: resource.resourceType, resourceName: resource.resourceName))
        }
        return response
    }

    private func alter(_ resource: IncrementalAlterConfigsRequest.AlterConfigsResource, validateOnly: Bool) async -> (KafkaErrorCode, String?) {
        switch ConfigResourceType(rawValue: resource.resourceType) {
        case .topic:
            var operations: [(name: String, operation: Operation, value: String?)] = []
            for config in resource.configs {
                guard !operations.contains(where: { $0.name == config.name }) else {
                    return (.invalidRequest, "Error due to duplicate config keys: \(config.name)")
                }
                guard let operation = Operation(rawValue: config.configOperation) else {
                    return (.invalidRequest, "Unknown config operation \(config.configOperation) for \(config.name).")
                }
                if operation != .delete && config.value == nil {
                    return (.invalidRequest, "Null value not supported for: \(config.name)")
                }
                operations.append((config.name, operation, config.value))
            }
            if let problem = Broker.validateTopicName(resource.resourceName) { return (.invalidTopic, problem) }
            let broker = self.broker
            do {
                try await broker.updateTopicConfigs(name: resource.resourceName, validateOnly: validateOnly) { current throws(Broker.TopicError) in
                    try Self.apply(operations, to: current, broker: broker)
                }
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

    /// The overrides after `operations`.
    static func apply(_ operations: [(name: String, operation: Operation, value: String?)], to current: [String: String],
                      broker: Broker) throws(Broker.TopicError) -> [String: String] {
        var result = current
        for op in operations {
            guard let definition = TopicConfigCatalog.byName[op.name] else {
                throw Broker.TopicError(code: .invalidConfig, message: "Unknown topic config name: \(op.name)")
            }
            switch op.operation {
            case .set: result[op.name] = op.value
            case .delete: result[op.name] = nil
            case .append, .subtract:
                guard definition.type.isList else {
                    throw Broker.TopicError(code: .invalidConfig,
                                            message: "Config value \(op.operation == .append ? "append" : "subtract") is not allowed for config key: \(op.name)")
                }
                let split: (String) -> [String] = { $0.split(separator: ",").map { $0.trimmingSpaces }.filter { !$0.isEmpty } }
                var items = split(broker.effectiveTopicConfig(op.name, overrides: result) ?? "")
                let changes = split(op.value ?? "")
                if op.operation == .append {
                    for item in changes where !items.contains(item) { items.append(item) }
                } else {
                    items.removeAll { changes.contains($0) }
                }
                result[op.name] = items.joined(separator: ",")
            }
        }
        return result
    }

    func errorResponse(_ request: IncrementalAlterConfigsRequest, _ error: KafkaErrorCode) -> IncrementalAlterConfigsResponse {
        IncrementalAlterConfigsResponse(responses: request.resources.map {
            .init(errorCode: error.rawValue, errorMessage: nil, resourceType: $0.resourceType, resourceName: $0.resourceName)
        })
    }
}
