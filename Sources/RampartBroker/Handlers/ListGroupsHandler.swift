import KafkaProtocol

/// ListGroups (key 16): every group this broker coordinates, including groups known only by their
/// committed offsets (state Empty, no protocol type), as Kafka lists them. v4+ filters by state
/// (case-insensitive), v5+ by type (every group here is `classic`). Authorization (Kafka's): Describe
/// on the Cluster lists every group; otherwise only groups the principal may Describe (never an error).
struct ListGroupsHandler: KafkaAPIHandler {
    typealias Request = ListGroupsRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...5

    static let groupType = "classic"

    func handle(_ request: ListGroupsRequest, context: RequestContext) async -> ListGroupsResponse? {
        var listed: [String: (protocolType: String, state: GroupState)] = [:]
        for group in await broker.groups.listGroups() { listed[group.groupID] = (group.protocolType, group.state) }
        for group in await broker.offsets.groupsWithOffsets() where listed[group] == nil { listed[group] = ("", .empty) }

        let authorization = broker.authorization(context)
        if !authorization.allowsCluster(.describe, audit: false) {
            listed = listed.filter { authorization.allows(.describe, .group, $0.key, audit: false) }
        }
        let states = context.apiVersion >= 4 ? Set(request.statesFilter.map { $0.lowercased() }) : []
        let types = context.apiVersion >= 5 ? Set(request.typesFilter.map { $0.lowercased() }) : []
        if !types.isEmpty && !types.contains(Self.groupType) { return ListGroupsResponse(errorCode: 0, groups: []) }
        let groups = listed.keys.sorted().compactMap { id -> ListGroupsResponse.ListedGroup? in
            let group = listed[id]!
            guard states.isEmpty || states.contains(group.state.rawValue.lowercased()) else { return nil }
            return ListGroupsResponse.ListedGroup(groupId: id, protocolType: group.protocolType, groupState: group.state.rawValue,
                                                  groupType: Self.groupType)
        }
        return ListGroupsResponse(errorCode: 0, groups: groups)
    }

    func errorResponse(_ request: ListGroupsRequest, _ error: KafkaErrorCode) -> ListGroupsResponse {
        ListGroupsResponse(errorCode: error.rawValue)
    }
}
