import KafkaProtocol
import NIOCore

/// SyncGroup (key 14): the leader hands out the assignment, every member receives its own. v3+ static
/// members; v5+ checks the protocol type and name against the group's and echoes them. Needs Read on
/// the group (GROUP_AUTHORIZATION_FAILED).
struct SyncGroupHandler: KafkaAPIHandler {
    typealias Request = SyncGroupRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...5

    func handle(_ request: SyncGroupRequest, context: RequestContext) async -> SyncGroupResponse? {
        guard broker.authorization(context).allows(.read, .group, request.groupId) else {
            return errorResponse(request, .groupAuthorizationFailed)
        }
        let version = context.apiVersion
        guard !request.groupId.isEmpty else { return errorResponse(request, .invalidGroupId) }
        var assignments: [String: ByteBuffer] = [:]
        for assignment in request.assignments { assignments[assignment.memberId] = assignment.assignment }
        let result = await broker.groups.syncGroup(
            groupID: request.groupId, memberID: request.memberId,
            groupInstanceID: version >= 3 ? request.groupInstanceId : nil,
            generationID: request.generationId,
            protocolType: version >= 5 ? request.protocolType : nil,
            protocolName: version >= 5 ? request.protocolName : nil,
            assignments: assignments)
        guard result.error == .noError else { return errorResponse(request, result.error) }
        return SyncGroupResponse(errorCode: 0, protocolType: result.protocolType, protocolName: result.protocolName,
                                 assignment: result.assignment)
    }

    func errorResponse(_ request: SyncGroupRequest, _ error: KafkaErrorCode) -> SyncGroupResponse {
        SyncGroupResponse(errorCode: error.rawValue)
    }
}
