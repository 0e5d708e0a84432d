import KafkaProtocol
import NIOCore
import RampartBroker
import Testing

/// The versions of one membership flow: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups.
struct FlowVersions: Sendable, CustomTestStringConvertible {
    var join: Int16, sync: Int16, heartbeat: Int16, leave: Int16, describe: Int16
    var testDescription: String { "Join v\(join) Sync v\(sync) Heartbeat v\(heartbeat) Leave v\(leave) Describe v\(describe)" }
}

@Suite struct GroupHandlerTests {
    func joinRequest(_ memberID: String = "", instance: String? = nil, topics: [String] = ["t"]) throws -> JoinGroupRequest {
        JoinGroupRequest(groupId: "g", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 20_000, memberId: memberID,
                         groupInstanceId: instance, protocolType: "consumer",
                         protocols: [.init(name: "range", metadata: try subscription(topics))])
    }

    /// Joins a new member, going through MEMBER_ID_REQUIRED at v4+.
    func join(_ f: GroupsFixture, version: Int16) async throws -> JoinGroupResponse {
        var request = try joinRequest()
        var response = try await f.call(request, version: version)
        if version >= 4 {
            #expect(KafkaErrorCode(response.errorCode) == .memberIdRequired)
            #expect(response.memberId.hasPrefix("client-"))
            #expect(response.generationId == -1)
            request.memberId = response.memberId
            response = try await f.call(request, version: version)
        }
        return response
    }

    @Test(arguments: [
        FlowVersions(join: 0, sync: 0, heartbeat: 0, leave: 0, describe: 0),
        FlowVersions(join: 5, sync: 3, heartbeat: 2, leave: 2, describe: 3),
        FlowVersions(join: 9, sync: 5, heartbeat: 4, leave: 5, describe: 5),
    ])
    func oneMemberJoinsSyncsHeartbeatsAndLeaves(_ v: FlowVersions) async throws {
        try await withBroker { f in
            let joined = try await join(f, version: v.join)
            #expect(joined.errorCode == 0)
            #expect(joined.generationId == 1)
            #expect(joined.leader == joined.memberId)
            #expect(joined.protocolName == "range")
            #expect(joined.protocolType == (v.join >= 7 ? "consumer" : nil))
            #expect(joined.members.map(\.memberId) == [joined.memberId])
            #expect(joined.members.first?.metadata == (try subscription(["t"])))
            let id = joined.memberId

            let sync = SyncGroupRequest(groupId: "g", generationId: 1, memberId: id, protocolType: "consumer", protocolName: "range",
                                        assignments: [.init(memberId: id, assignment: ByteBuffer(string: "assigned"))])
            let synced = try await f.call(sync, version: v.sync)
            #expect(synced.errorCode == 0)
            #expect(synced.assignment == ByteBuffer(string: "assigned"))
            #expect(synced.protocolName == (v.sync >= 5 ? "range" : nil))

            #expect(try await f.call(HeartbeatRequest(groupId: "g", generationId: 1, memberId: id), version: v.heartbeat).errorCode == 0)
            let stale = try await f.call(HeartbeatRequest(groupId: "g", generationId: 7, memberId: id), version: v.heartbeat)
            #expect(KafkaErrorCode(stale.errorCode) == .illegalGeneration)

            let described = try await f.call(DescribeGroupsRequest(groups: ["g"]), version: v.describe).groups
            #expect(described.map(\.groupState) == ["Stable"])
            #expect(described.first?.protocolData == "range")
            #expect(described.first?.members.map(\.clientHost) == ["/127.0.0.1"])
            #expect(described.first?.members.first?.memberAssignment == ByteBuffer(string: "assigned"))

            let leave = v.leave >= 3
                ? LeaveGroupRequest(groupId: "g", members: [.init(memberId: id)])
                : LeaveGroupRequest(groupId: "g", memberId: id)
            let left = try await f.call(leave, version: v.leave)
            #expect(left.errorCode == 0)
            if v.leave >= 3 { #expect(left.members.map(\.errorCode) == [0]) }
            #expect(try await f.call(DescribeGroupsRequest(groups: ["g"]), version: v.describe).groups.map(\.groupState) == ["Empty"])
            let gone = try await f.call(HeartbeatRequest(groupId: "g", generationId: 2, memberId: id), version: v.heartbeat)
            #expect(KafkaErrorCode(gone.errorCode) == .unknownMemberId)
        }
    }

    @Test func memberIDRequiredRoundTripAndUnknownMembers() async throws {
        try await withBroker { f in
            let first = try await f.call(try joinRequest(), version: 4)
            #expect(KafkaErrorCode(first.errorCode) == .memberIdRequired)
            // v3 has no MEMBER_ID_REQUIRED: the member joins at once.
            var v3 = try joinRequest()
            v3.groupId = "g3"
            let old = try await f.call(v3, version: 3)
            #expect(old.errorCode == 0 && old.generationId == 1)
            // An id the group never handed out.
            var stranger = try joinRequest("nobody")
            stranger.groupId = "other"
            #expect(KafkaErrorCode(try await f.call(stranger, version: 5).errorCode) == .unknownMemberId)
            #expect(try await f.call(ListGroupsRequest(), version: 0).groups.map(\.groupId) == ["g", "g3"], "a refused join creates no group")
            // The id handed out is accepted on the second join.
            let second = try await f.call(try joinRequest(first.memberId), version: 4)
            #expect(second.errorCode == 0 && second.memberId == first.memberId && second.generationId == 1)
            var badTimeout = try joinRequest()
            badTimeout.sessionTimeoutMs = 10
            #expect(KafkaErrorCode(try await f.call(badTimeout, version: 5).errorCode) == .invalidSessionTimeout)
            var noGroup = try joinRequest()
            noGroup.groupId = ""
            #expect(KafkaErrorCode(try await f.call(noGroup, version: 9).errorCode) == .invalidGroupId)
            #expect(try await f.call(noGroup, version: 7).protocolName == nil)
            #expect(try await f.call(noGroup, version: 6).protocolName == "")
        }
    }

    @Test func aSecondMemberTriggersARebalanceAndBothLeaveInOneBatch() async throws {
        try await withBroker { f in
            let a = try await join(f, version: 9)
            let idA = a.memberId
            _ = try await f.call(SyncGroupRequest(groupId: "g", generationId: 1, memberId: idA, protocolType: "consumer", protocolName: "range",
                                                  assignments: [.init(memberId: idA, assignment: ByteBuffer(string: "all"))]), version: 5)
            let required = try await f.call(try joinRequest(topics: ["t", "u"]), version: 9)
            let idB = required.memberId
            async let joinB = f.call(try joinRequest(idB, topics: ["t", "u"]), version: 9)
            await eventually { await f.broker.groups.describeGroup("g").state == .preparingRebalance }
            let beat = try await f.call(HeartbeatRequest(groupId: "g", generationId: 1, memberId: idA), version: 4)
            #expect(KafkaErrorCode(beat.errorCode) == .rebalanceInProgress)
            let rejoinA = try await f.call(try joinRequest(idA), version: 9)
            let b = try await joinB
            #expect(rejoinA.generationId == 2 && b.generationId == 2)
            #expect(rejoinA.leader == idA && b.leader == idA)
            #expect(Set(rejoinA.members.map(\.memberId)) == [idA, idB])
            #expect(b.members.isEmpty)

            async let syncB = f.call(SyncGroupRequest(groupId: "g", generationId: 2, memberId: idB), version: 3)
            await eventually { await f.broker.groups.describeGroup("g").state == .completingRebalance }
            let syncA = try await f.call(SyncGroupRequest(
                groupId: "g", generationId: 2, memberId: idA, protocolType: "consumer", protocolName: "range",
                assignments: [.init(memberId: idA, assignment: ByteBuffer(string: "A")), .init(memberId: idB, assignment: ByteBuffer(string: "B"))]),
                version: 5)
            #expect(syncA.assignment == ByteBuffer(string: "A"))
            #expect(try await syncB.assignment == ByteBuffer(string: "B"))
            // v5: a protocol name that is not the group's.
            let wrong = try await f.call(SyncGroupRequest(groupId: "g", generationId: 2, memberId: idA, protocolType: "consumer",
                                                          protocolName: "roundrobin"), version: 5)
            #expect(KafkaErrorCode(wrong.errorCode) == .inconsistentGroupProtocol)

            let left = try await f.call(LeaveGroupRequest(groupId: "g", members: [.init(memberId: idA), .init(memberId: idB), .init(memberId: "ghost")]),
                                        version: 5)
            #expect(left.errorCode == 0)
            #expect(left.members.map { KafkaErrorCode($0.errorCode) } == [.noError, .noError, .unknownMemberId])
            #expect(await f.broker.groups.describeGroup("g").state == .empty)
            let listed = try await f.call(ListGroupsRequest(), version: 4).groups
            #expect(listed.map(\.protocolType) == ["consumer"], "an emptied group keeps its protocol type, as in Kafka")
        }
    }

    @Test func findCoordinatorCreatesTheOffsetsTopicAndAnswersBatches() async throws {
        try await withBroker { f in
            let v0 = try await f.call(FindCoordinatorRequest(key: "g"), version: 0)
            #expect(v0.errorCode == 0 && v0.nodeId == 1 && v0.host == "127.0.0.1" && v0.port == 19192)
            let topic = try #require(await f.broker.metadata.current().topics["__consumer_offsets"])
            #expect(topic.isInternal)
            #expect(topic.partitions.count == 3)
            #expect(topic.configs["cleanup.policy"] == "compact")
            #expect(await f.broker.logs.config(forTopic: "__consumer_offsets").cleanupPolicy == .compact)

            let v3 = try await f.call(FindCoordinatorRequest(key: "g", keyType: 0), version: 3)
            #expect(v3.errorCode == 0 && v3.nodeId == 1)
            let batch = try await f.call(FindCoordinatorRequest(keyType: 0, coordinatorKeys: ["a", "b"]), version: 4)
            #expect(batch.coordinators.map(\.key) == ["a", "b"])
            #expect(batch.coordinators.allSatisfy { $0.errorCode == 0 && $0.nodeId == 1 && $0.port == 19192 })
            let txn = try await f.call(FindCoordinatorRequest(keyType: 1, coordinatorKeys: ["tx"]), version: 6)
            #expect(txn.coordinators.map { KafkaErrorCode($0.errorCode) } == [.coordinatorNotAvailable])
            #expect(txn.coordinators.first?.nodeId == -1)
            let bad = try await f.call(FindCoordinatorRequest(key: "x", keyType: 5), version: 2)
            #expect(KafkaErrorCode(bad.errorCode) == .invalidRequest)
        }
    }

    @Test func listAndDescribeShowOffsetOnlyGroupsAndFilter() async throws {
        try await withBroker { f in
            try await f.createTopic("t")
            let live = try await join(f, version: 5)
            _ = try await f.call(SyncGroupRequest(groupId: "g", generationId: 1, memberId: live.memberId,
                                                  assignments: [.init(memberId: live.memberId, assignment: ByteBuffer(string: "x"))]), version: 3)
            let commit = OffsetCommitRequest(groupId: "solo", generationIdOrMemberEpoch: -1, memberId: "",
                                             topics: [.init(name: "t", partitions: [.init(partitionIndex: 0, committedOffset: 5)])])
            #expect(try await f.call(commit, version: 2).topics.first?.partitions.first?.errorCode == 0)

            let all = try await f.call(ListGroupsRequest(), version: 0).groups
            #expect(all.map(\.groupId) == ["g", "solo"])
            #expect(all.map(\.protocolType) == ["consumer", ""])
            let stable = try await f.call(ListGroupsRequest(statesFilter: ["stable"]), version: 4).groups
            #expect(stable.map(\.groupId) == ["g"])
            #expect(stable.map(\.groupState) == ["Stable"])
            #expect(try await f.call(ListGroupsRequest(statesFilter: ["EMPTY"]), version: 4).groups.map(\.groupId) == ["solo"])
            #expect(try await f.call(ListGroupsRequest(typesFilter: ["consumer"]), version: 5).groups.isEmpty)
            let classic = try await f.call(ListGroupsRequest(typesFilter: ["Classic"]), version: 5).groups
            #expect(classic.map(\.groupId) == ["g", "solo"])
            #expect(classic.map(\.groupType) == ["classic", "classic"])

            let described = try await f.call(DescribeGroupsRequest(groups: ["g", "solo", "nope"], includeAuthorizedOperations: true), version: 5).groups
            #expect(described.map(\.groupState) == ["Stable", "Empty", "Dead"])
            #expect(described.map(\.errorCode) == [0, 0, 0])
            #expect(described[0].protocolType == "consumer" && described[0].protocolData == "range")
            #expect(described[0].members.first?.memberMetadata == (try subscription(["t"])))
            #expect(described[0].authorizedOperations == (1 << 3) | (1 << 6) | (1 << 8))
            #expect(described[1].members.isEmpty)
            let plain = try await f.call(DescribeGroupsRequest(groups: ["g"]), version: 3).groups
            #expect(plain.first?.authorizedOperations == Int32.min)
        }
    }
}
