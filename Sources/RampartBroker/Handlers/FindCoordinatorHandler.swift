import KafkaProtocol

/// FindCoordinator (key 10): this single broker coordinates every consumer group. Makes sure
/// `__consumer_offsets` exists first, as Kafka does. Transaction coordinators (key type 1) are
/// COORDINATOR_NOT_AVAILABLE until transactions are served. v4+ looks up a batch of keys.
///
/// Authorization (Kafka's), per key and before anything is created: Describe on the group
/// (GROUP_AUTHORIZATION_FAILED) or on the transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
struct FindCoordinatorHandler: KafkaAPIHandler {
    typealias Request = FindCoordinatorRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...6

    static let groupKeyType: Int8 = 0
    static let transactionKeyType: Int8 = 1

    func handle(_ request: FindCoordinatorRequest, context: RequestContext) async -> FindCoordinatorResponse? {
        let keys = context.apiVersion >= 4 ? request.coordinatorKeys : [request.key]
        let authorization = broker.authorization(context)
        let denials: [KafkaErrorCode?] = keys.map { key in
            switch request.keyType {
            case Self.groupKeyType:
                authorization.allows(.describe, .group, key) ? nil : .groupAuthorizationFailed
            case Self.transactionKeyType:
                authorization.allows(.describe, .transactionalId, key) ? nil : .transactionalIdAuthorizationFailed
            default:
                nil
            }
        }
        // Only an authorized key may make the broker create `__consumer_offsets`.
        let (error, message) = denials.contains(where: { $0 == nil }) ? await lookup(keyType: request.keyType) : (.noError, nil)
        let node = broker.advertised(for: context.listenerName)
        let coordinators = zip(keys, denials).map { key, denial in
            if let denial { return failed(key, denial, RequestAuthorization.message(denial)) }
            if error == .noError, let node {
                return FindCoordinatorResponse.Coordinator(key: key, nodeId: broker.settings.nodeID, host: node.host, port: node.port,
                                                           errorCode: 0, errorMessage: nil)
            }
            return failed(key, error == .noError ? .coordinatorNotAvailable : error, message)
        }
        return response(coordinators, version: context.apiVersion)
    }

    /// NONE when this broker can coordinate keys of the type, else the error and its message.
    private func lookup(keyType: Int8) async -> (KafkaErrorCode, String?) {
        switch keyType {
        case Self.groupKeyType:
            let error = await broker.ensureOffsetsTopic()
            return (error, error == .noError ? nil : "the \(OffsetManager.topic) topic is not available")
        case Self.transactionKeyType:
            return (.coordinatorNotAvailable, "this broker does not coordinate transactions yet")
        default:
            return (.invalidRequest, "unknown coordinator key type \(keyType)")
        }
    }

    private func failed(_ key: String, _ error: KafkaErrorCode, _ message: String?) -> FindCoordinatorResponse.Coordinator {
        FindCoordinatorResponse.Coordinator(key: key, nodeId: -1, host: "", port: -1, errorCode: error.rawValue,
                                            errorMessage: message)
    }

    /// v0–3 answer one key in the top-level fields; v4+ answer a list.
    private func response(_ coordinators: [FindCoordinatorResponse.Coordinator], version: Int16) -> FindCoordinatorResponse {
        var response = FindCoordinatorResponse()
        if version >= 4 {
            response.coordinators = coordinators
        } else if let only = coordinators.first {
            response.errorCode = only.errorCode
            response.errorMessage = only.errorMessage
            response.nodeId = only.nodeId
            response.host = only.host
            response.port = only.port
        }
        return response
    }

    func errorResponse(_ request: FindCoordinatorRequest, _ error: KafkaErrorCode) -> FindCoordinatorResponse {
        // The version is unknown here: fill both shapes (each version encodes only its own fields).
        var response = FindCoordinatorResponse(errorCode: error.rawValue, errorMessage: nil, nodeId: -1, host: "", port: -1)
        let keys = request.coordinatorKeys.isEmpty ? [request.key] : request.coordinatorKeys
        response.coordinators = keys.map { failed($0, error, nil) }
        return response
    }
}
