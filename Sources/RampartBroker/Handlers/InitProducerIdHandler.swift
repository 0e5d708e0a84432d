import KafkaProtocol

/// InitProducerId (key 22): a new producer id for idempotent producers. Transactional ids need the
/// transaction coordinator, which is not served yet: those requests are refused with UNSUPPORTED_VERSION
/// so the client reports a clear, non-retriable error instead of retrying forever.
struct InitProducerIdHandler: KafkaAPIHandler {
    typealias Request = InitProducerIdRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...5

    func handle(_ request: InitProducerIdRequest, context: RequestContext) async -> InitProducerIdResponse? {
        if let transactionalId = request.transactionalId, !transactionalId.isEmpty {
            return errorResponse(request, .unsupportedVersion)
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
