import KafkaProtocol
import RampartStorage

/// OffsetFetch (key 9): a group's committed offsets; -1 (with empty metadata) for partitions without
/// one. Null topics (v2+) mean every offset of the group. v8+ fetches several groups. `requireStable`
/// (v7+) never has to wait: no transactional offset commit is ever pending on this broker.
///
/// Authorization (Kafka's): Describe on the group (GROUP_AUTHORIZATION_FAILED), then Describe on each
/// topic: named topics the principal may not Describe are TOPIC_AUTHORIZATION_FAILED per partition;
/// with null topics ("all") they are left out.
struct OffsetFetchHandler: KafkaAPIHandler {
    typealias Request = OffsetFetchRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...9

    /// One partition's answer: the committed offset (nil: none) or the error that hides it.
    typealias Fetched = (partition: Int32, value: OffsetRecords.Value?, error: KafkaErrorCode)

    func handle(_ request: OffsetFetchRequest, context: RequestContext) async -> OffsetFetchResponse? {
        let version = context.apiVersion
        var access = TopicAccess(authorization: broker.authorization(context))
        if version >= 8 {
            var response = OffsetFetchResponse()
            for group in request.groups {
                guard access.authorization.allows(.describe, .group, group.groupId) else {
                    response.groups.append(.init(groupId: group.groupId, topics: [], errorCode: KafkaErrorCode.groupAuthorizationFailed.rawValue))
                    continue
                }
                let requested = group.topics.map { $0.map { ($0.name, $0.partitionIndexes) } }
                let (error, topics) = await fetch(groupID: group.groupId, topics: requested, access: &access)
                response.groups.append(.init(groupId: group.groupId, topics: topics.map { topic in
                    .init(name: topic.name, partitions: topic.partitions.map {
                        .init(partitionIndex: $0.partition, committedOffset: $0.value?.offset ?? -1,
                              committedLeaderEpoch: $0.value?.leaderEpoch ?? -1, metadata: $0.value?.metadata ?? "",
                              errorCode: $0.error.rawValue)
                    })
                }, errorCode: error.rawValue))
            }
            return response
        }
        guard access.authorization.allows(.describe, .group, request.groupId) else {
            return errorResponse(request, .groupAuthorizationFailed)
        }
        // v0–1: an empty list cannot mean "all" (the field is not nullable before v2).
        let requested = request.topics.map { $0.map { ($0.name, $0.partitionIndexes) } }
        let (error, topics) = await fetch(groupID: request.groupId, topics: version < 2 ? requested ?? [] : requested, access: &access)
        if error != .noError && version < 2 { return errorResponse(request, error) }
        return OffsetFetchResponse(topics: topics.map { topic in
            .init(name: topic.name, partitions: topic.partitions.map {
                .init(partitionIndex: $0.partition, committedOffset: $0.value?.offset ?? -1,
                      committedLeaderEpoch: $0.value?.leaderEpoch ?? -1, metadata: $0.value?.metadata ?? "", errorCode: $0.error.rawValue)
            })
        }, errorCode: error.rawValue)
    }

    /// Which topics the request may Describe, decided once per name.
    struct TopicAccess {
        let authorization: RequestAuthorization
        var describable: [String: Bool] = [:]

        mutating func mayDescribe(_ topic: String, audit: Bool) -> Bool {
            if let known = describable[topic] { return known }
            let allowed = authorization.allows(.describe, .topic, topic, audit: audit)
            describable[topic] = allowed
            return allowed
        }
    }

    /// The offsets of a group for the requested partitions (nil: every committed offset, by topic).
    private func fetch(groupID: String, topics: [(String, [Int32])]?,
                       access: inout TopicAccess) async -> (KafkaErrorCode, [(name: String, partitions: [Fetched])]) {
        guard !groupID.isEmpty else { return (.invalidGroupId, []) }
        guard let topics else {
            let all = await broker.offsets.committed(groupID: groupID)
            let byTopic = Dictionary(grouping: all, by: { $0.key.topic })
            return (.noError, byTopic.keys.sorted().filter { access.mayDescribe($0, audit: false) }.map { name in
                (name, byTopic[name]!.sorted { $0.key.partition < $1.key.partition }.map { ($0.key.partition, $0.value, .noError) })
            })
        }
        var hidden: Set<String> = []
        for (name, _) in topics where !access.mayDescribe(name, audit: true) { hidden.insert(name) }
        let partitions = topics.filter { !hidden.contains($0.0) }.flatMap { name, indexes in indexes.map { TopicPartition(topic: name, partition: $0) } }
        let committed = await broker.offsets.committed(groupID: groupID, partitions: partitions)
        return (.noError, topics.map { name, indexes in
            (name, indexes.map { index -> Fetched in
                hidden.contains(name) ? (index, nil, .topicAuthorizationFailed) : (index, committed[TopicPartition(topic: name, partition: index)], .noError)
            })
        })
    }

    func errorResponse(_ request: OffsetFetchRequest, _ error: KafkaErrorCode) -> OffsetFetchResponse {
        // Every shape is filled; each version encodes only its own fields.
        OffsetFetchResponse(
            topics: (request.topics ?? []).map { topic in
                .init(name: topic.name, partitions: topic.partitionIndexes.map {
                    .init(partitionIndex: $0, committedOffset: -1, metadata: "", errorCode: error.rawValue)
                })
            },
            errorCode: error.rawValue,
            groups: request.groups.map { .init(groupId: $0.groupId, topics: [], errorCode: error.rawValue) })
    }
}
