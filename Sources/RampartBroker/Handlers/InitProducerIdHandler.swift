import KafkaProtocol

/// InitProducerId (key 22): a new producer id for idempotent producers. Transactional ids need the
/// transaction coordinator, which is not served yet: those requests are refused with UNSUPPORTED_VERSION
/// so the client reports a clear, non-retriable error instead of retrying forever.
///
/// Authorization (Kafka ≥ 3.0): a transactional id needs Write on it (TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
/// an idempotent producer needs IdempotentWrite on the Cluster or Write on some topic
/// (CLUSTER_AUTHORIZATION_FAILED).
struct InitProducerIdHandler: KafkaAPIHandler {
    typealias Request = InitProducerIdRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...5

    func handle(_ request: InitProducerIdRequest, context: RequestContext) async -> InitProducerIdResponse? {
        let authorization = broker.authorization(context)
        if let transactionalId = request.transactionalId, !transactionalId.isEmpty {
            guard authorization.allows(.write, .transactionalId, transactionalId) else {
                return errorResponse(request, .transactionalIdAuthorizationFailed)
            }
            return errorResponse(request, .unsupportedVersion)
        }
        let snapshot = authorization.snapshot
        let idempotentWrite = snapshot.authorize(context.principal, host: context.clientHost, operation: .idempotentWrite,
                                                 .cluster, ResourcePattern.clusterName)
        if !idempotentWrite.isAllowed
            && !snapshot.authorizeByResourceType(context.principal, host: context.clientHost, operation: .write, .topic).isAllowed {
            authorization.denied(idempotentWrite, .idempotentWrite, .cluster, ResourcePattern.clusterName)
            if !authorization.isShadow { return errorResponse(request, .clusterAuthorizationFailed) }
        }
        do {
            let id = try await broker.producerIDs.allocate()
            return InitProducerIdResponse(errorCode: 0, producerId: id, producerEpoch: 0)
        } catch {
            broker.logger.error("cannot allocate a producer id: \(error)")
            return errorResponse(request, .kafkaStorageError)
        }
    }

    func errorResponse(_ request: InitProducerIdRequest, _ error: KafkaErrorCode) -> InitProducerIdResponse {
        InitProducerIdResponse(errorCode: error.rawValue, producerId: -1, producerEpoch: -1)
    }
}
