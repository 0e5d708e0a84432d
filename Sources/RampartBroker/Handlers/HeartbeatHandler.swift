import KafkaProtocol

/// Heartbeat (key 12): keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to rejoin.
/// v3+ static members. Needs Read on the group (GROUP_AUTHORIZATION_FAILED).
struct HeartbeatHandler: KafkaAPIHandler {
    typealias Request = HeartbeatRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...4

    func handle(_ request: HeartbeatRequest, context: RequestContext) async -> HeartbeatResponse? {
        guard broker.authorization(context).allows(.read, .group, request.groupId) else {
            return errorResponse(request, .groupAuthorizationFailed)
        }
        guard !request.groupId.isEmpty else { return errorResponse(request, .invalidGroupId) }
        let error = await broker.groups.heartbeat(
            groupID: request.groupId, memberID: request.memberId,
            groupInstanceID: context.apiVersion >= 3 ? request.groupInstanceId : nil,
            generationID: request.generationId)
        return HeartbeatResponse(errorCode: error.rawValue)
    }

    func errorResponse(_ request: HeartbeatRequest, _ error: KafkaErrorCode) -> HeartbeatResponse {
        HeartbeatResponse(errorCode: error.rawValue)
    }
}
