import KafkaProtocol

/// DeleteGroups (key 42): removes empty groups and their committed offsets (tombstones in
/// `__consumer_offsets`). NON_EMPTY_GROUP while a group has members; GROUP_ID_NOT_FOUND for a group
/// with neither members nor offsets. A group the principal may not Delete is GROUP_AUTHORIZATION_FAILED.
struct DeleteGroupsHandler: KafkaAPIHandler {
    typealias Request = DeleteGroupsRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...2

    func handle(_ request: DeleteGroupsRequest, context: RequestContext) async -> DeleteGroupsResponse? {
        let authorization = broker.authorization(context)
        var results: [DeleteGroupsResponse.DeletableGroupResult] = []
        for groupID in request.groupsNames {
            guard authorization.allows(.delete, .group, groupID) else {
                results.append(.init(groupId: groupID, errorCode: KafkaErrorCode.groupAuthorizationFailed.rawValue))
                continue
            }
            results.append(.init(groupId: groupID, errorCode: await delete(groupID).rawValue))
        }
        return DeleteGroupsResponse(results: results)
    }

    private func delete(_ groupID: String) async -> KafkaErrorCode {
        guard !groupID.isEmpty else { return .invalidGroupId }
        let live = await broker.groups.deleteGroup(groupID)
        guard live != .nonEmptyGroup else { return .nonEmptyGroup }
        let hasOffsets = await broker.offsets.hasOffsets(groupID)
        if live == .groupIdNotFound && !hasOffsets { return .groupIdNotFound }
        guard hasOffsets else { return .noError }
        switch await broker.offsets.delete(groupID: groupID, now: broker.clock()) {
        case .success: return .noError
        case .failure(let error): return error
        }
    }

    func errorResponse(_ request: DeleteGroupsRequest, _ error: KafkaErrorCode) -> DeleteGroupsResponse {
        DeleteGroupsResponse(results: request.groupsNames.map { .init(groupId: $0, errorCode: error.rawValue) })
    }
}
