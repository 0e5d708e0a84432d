import KafkaProtocol

/// LeaveGroup (key 13): v0–2 one member; v3+ a batch of member identities (static members may leave by
/// instance id alone), each with its own error, the top-level error NONE as in Kafka. Needs Read on
/// the group (GROUP_AUTHORIZATION_FAILED).
struct LeaveGroupHandler: KafkaAPIHandler {
    typealias Request = LeaveGroupRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...5

    func handle(_ request: LeaveGroupRequest, context: RequestContext) async -> LeaveGroupResponse? {
        guard broker.authorization(context).allows(.read, .group, request.groupId) else {
            return errorResponse(request, .groupAuthorizationFailed)
        }
        guard !request.groupId.isEmpty else { return errorResponse(request, .invalidGroupId) }
        if context.apiVersion < 3 {
            let errors = await broker.groups.leaveGroup(groupID: request.groupId, members: [(request.memberId, nil)])
            return LeaveGroupResponse(errorCode: (errors.first ?? .unknownMemberId).rawValue)
        }
        let identities = request.members.map { (memberID: $0.memberId, groupInstanceID: $0.groupInstanceId) }
        let errors = await broker.groups.leaveGroup(groupID: request.groupId, members: identities)
        return LeaveGroupResponse(errorCode: 0, members: zip(request.members, errors).map { member, error in
            LeaveGroupResponse.MemberResponse(memberId: member.memberId, groupInstanceId: member.groupInstanceId, errorCode: error.rawValue)
        })
    }

    func errorResponse(_ request: LeaveGroupRequest, _ error: KafkaErrorCode) -> LeaveGroupResponse {
        LeaveGroupResponse(errorCode: error.rawValue, members: request.members.map {
            LeaveGroupResponse.MemberResponse(memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, errorCode: error.rawValue)
        })
    }
}
