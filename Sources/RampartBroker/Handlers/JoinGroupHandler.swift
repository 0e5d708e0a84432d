import KafkaProtocol

/// JoinGroup (key 11): the eager rebalance protocol through the `GroupCoordinator`. v0 has no
/// rebalance timeout (the session timeout is used, as in Kafka); v4+ new dynamic members first get
/// MEMBER_ID_REQUIRED with their id (KIP-394); v5+ static membership; v7+ answers the protocol type
/// and a nullable protocol name; v9 `skipAssignment` (KIP-814). Needs Read on the group
/// (GROUP_AUTHORIZATION_FAILED).
struct JoinGroupHandler: KafkaAPIHandler {
    typealias Request = JoinGroupRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...9

    func handle(_ request: JoinGroupRequest, context: RequestContext) async -> JoinGroupResponse? {
        guard broker.authorization(context).allows(.read, .group, request.groupId) else {
            return errorResponse(request, .groupAuthorizationFailed)
        }
        let version = context.apiVersion
        let input = JoinGroupInput(
            memberID: request.memberId,
            groupInstanceID: version >= 5 ? request.groupInstanceId : nil,
            clientID: context.clientId ?? "",
            clientHost: "/\(context.clientHost)",
            sessionTimeoutMs: request.sessionTimeoutMs,
            rebalanceTimeoutMs: version >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
            protocolType: request.protocolType,
            protocols: request.protocols.map { GroupProtocol(name: $0.name, metadata: $0.metadata) },
            requireKnownMemberID: version >= 4)
        let result = await broker.groups.joinGroup(groupID: request.groupId, input)
        return Self.response(result, version: version)
    }

    static func response(_ result: JoinGroupResult, version: Int16) -> JoinGroupResponse {
        JoinGroupResponse(
            errorCode: result.error.rawValue,
            generationId: result.error == .noError ? result.generationID : -1,
            protocolType: result.protocolType,
            // Non-nullable before v7: no protocol is the empty string.
            protocolName: version >= 7 ? result.protocolName : (result.protocolName ?? ""),
            leader: result.leaderID,
            skipAssignment: result.skipAssignment,
            memberId: result.memberID,
            members: result.members.map {
                JoinGroupResponse.JoinGroupResponseMember(memberId: $0.memberID, groupInstanceId: $0.groupInstanceID, metadata: $0.metadata)
            })
    }

    func errorResponse(_ request: JoinGroupRequest, _ error: KafkaErrorCode) -> JoinGroupResponse {
        JoinGroupResponse(errorCode: error.rawValue, generationId: -1, protocolName: "", memberId: request.memberId)
    }
}
