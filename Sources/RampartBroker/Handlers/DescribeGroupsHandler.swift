import KafkaProtocol
import NIOCore

/// DescribeGroups (key 15): state, protocol and members of each group. As in Kafka, member metadata
/// and assignments (and the protocol name) are reported only for a Stable group; a group known only
/// by its committed offsets is Empty; an unknown group is Dead with no error. v3+ can ask for the
/// principal's authorized operations on each group, v4+ reports instance ids. A group the principal
/// may not Describe is GROUP_AUTHORIZATION_FAILED.
struct DescribeGroupsHandler: KafkaAPIHandler {
    typealias Request = DescribeGroupsRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...5

    func handle(_ request: DescribeGroupsRequest, context: RequestContext) async -> DescribeGroupsResponse? {
        let authorization = broker.authorization(context)
        var response = DescribeGroupsResponse()
        for groupID in request.groups {
            guard authorization.allows(.describe, .group, groupID) else {
                response.groups.append(.init(errorCode: KafkaErrorCode.groupAuthorizationFailed.rawValue, groupId: groupID, groupState: "",
                                             protocolType: "", protocolData: "", members: []))
                continue
            }
            var description = await broker.groups.describeGroup(groupID)
            if description.state == .dead, await broker.offsets.hasOffsets(groupID) {
                description.state = .empty
            }
            let stable = description.state == .stable
            response.groups.append(DescribeGroupsResponse.DescribedGroup(
                errorCode: 0, groupId: groupID, groupState: description.state.rawValue,
                protocolType: description.protocolType, protocolData: stable ? description.protocolName : "",
                members: description.members.map {
                    .init(memberId: $0.memberID, groupInstanceId: $0.groupInstanceID, clientId: $0.clientID, clientHost: $0.clientHost,
                          memberMetadata: stable ? $0.metadata : ByteBuffer(), memberAssignment: stable ? $0.assignment : ByteBuffer())
                },
                authorizedOperations: request.includeAuthorizedOperations ? authorization.operationBits(.group, groupID) : Int32.min))
        }
        return response
    }

    func errorResponse(_ request: DescribeGroupsRequest, _ error: KafkaErrorCode) -> DescribeGroupsResponse {
        DescribeGroupsResponse(groups: request.groups.map {
            .init(errorCode: error.rawValue, groupId: $0, groupState: "", protocolType: "", protocolData: "", members: [])
        })
    }
}
