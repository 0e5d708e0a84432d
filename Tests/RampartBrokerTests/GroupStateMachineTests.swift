import KafkaProtocol
import NIOCore
@testable import RampartBroker
import Testing

@Suite struct GroupStateMachineTests {
    let config = GroupCoordinatorConfig(minSessionTimeoutMs: 1000, maxSessionTimeoutMs: 60_000, initialRebalanceDelayMs: 3000)

    func input(_ memberID: String = "", instance: String? = nil, protocols: [String] = ["range"],
               session: Int32 = 10_000, rebalance: Int32 = 30_000, requireKnown: Bool = true) -> JoinGroupInput {
        JoinGroupInput(memberID: memberID, groupInstanceID: instance, clientID: "c", clientHost: "/127.0.0.1",
                       sessionTimeoutMs: session, rebalanceTimeoutMs: rebalance, protocolType: "consumer",
                       protocols: protocols.map { GroupProtocol(name: $0, metadata: ByteBuffer(string: "meta-\($0)")) },
                       requireKnownMemberID: requireKnown)
    }

    func joinResults(_ actions: [GroupAction]) -> [String: JoinGroupResult] {
        var out: [String: JoinGroupResult] = [:]
        for case let .completeJoin(id, result) in actions { out[id] = result }
        return out
    }

    func syncResults(_ actions: [GroupAction]) -> [String: SyncGroupResult] {
        var out: [String: SyncGroupResult] = [:]
        for case let .completeSync(id, result) in actions { out[id] = result }
        return out
    }

    /// One member through MEMBER_ID_REQUIRED, the initial delay, join, sync and heartbeat.
    @Test func singleMemberLifecycle() {
        var group = GroupStateMachine(groupID: "g", config: config)
        let (first, none) = group.join(input(), newMemberID: "m1", now: 0)
        #expect(first?.error == .memberIdRequired)
        #expect(first?.memberID == "m1")
        #expect(none.isEmpty)

        let (parked, actions) = group.join(input("m1"), newMemberID: "unused", now: 10)
        #expect(parked == nil)
        #expect(actions.isEmpty)
        #expect(group.state == .preparingRebalance)
        #expect(group.tick(now: 2000).isEmpty, "initial delay not over")

        let joined = joinResults(group.tick(now: 3010))
        #expect(joined["m1"]?.error == .noError)
        #expect(joined["m1"]?.generationID == 1)
        #expect(joined["m1"]?.leaderID == "m1")
        #expect(joined["m1"]?.protocolName == "range")
        #expect(joined["m1"]?.members.map(\.memberID) == ["m1"])
        #expect(joined["m1"]?.members.first?.metadata == ByteBuffer(string: "meta-range"))
        #expect(group.state == .completingRebalance)

        let (syncNow, syncActions) = group.sync(memberID: "m1", groupInstanceID: nil, generationID: 1, protocolType: "consumer",
                                                protocolName: "range", assignments: ["m1": ByteBuffer(string: "a1")], now: 3100)
        #expect(syncNow == nil)
        #expect(syncResults(syncActions)["m1"]?.assignment == ByteBuffer(string: "a1"))
        #expect(group.state == .stable)
        #expect(group.heartbeat(memberID: "m1", groupInstanceID: nil, generationID: 1, now: 4000) == .noError)
        #expect(group.heartbeat(memberID: "m1", groupInstanceID: nil, generationID: 0, now: 4000) == .illegalGeneration)
        #expect(group.heartbeat(memberID: "nobody", groupInstanceID: nil, generationID: 1, now: 4000) == .unknownMemberId)
    }

    /// Brings a group to Stable with the given members (joined without the id round trip).
    func stableGroup(_ ids: [String]) -> GroupStateMachine {
        var group = GroupStateMachine(groupID: "g", config: GroupCoordinatorConfig(minSessionTimeoutMs: 1000, initialRebalanceDelayMs: 100))
        // Everyone joins within the initial delay, so one join phase takes them all.
        for id in ids { _ = group.join(input(requireKnown: false), newMemberID: id, now: 0) }
        #expect(joinResults(group.tick(now: 100)).count == ids.count)
        let gen = group.generationID
        var assignments: [String: ByteBuffer] = [:]
        for id in ids { assignments[id] = ByteBuffer(string: "a-\(id)") }
        for id in ids where id != group.leaderID {
            _ = group.sync(memberID: id, groupInstanceID: nil, generationID: gen, protocolType: nil, protocolName: nil, assignments: [:], now: 0)
        }
        _ = group.sync(memberID: group.leaderID!, groupInstanceID: nil, generationID: gen, protocolType: nil, protocolName: nil,
                       assignments: assignments, now: 0)
        return group
    }

    @Test func aSecondMemberTriggersAnEagerRebalance() {
        var group = GroupStateMachine(groupID: "g", config: GroupCoordinatorConfig(minSessionTimeoutMs: 1000, initialRebalanceDelayMs: 0))
        let (_, a1) = group.join(input(requireKnown: false), newMemberID: "m1", now: 0)
        #expect(joinResults(a1)["m1"]?.generationID == 1, "no delay configured: completes at once")
        _ = group.sync(memberID: "m1", groupInstanceID: nil, generationID: 1, protocolType: nil, protocolName: nil,
                       assignments: ["m1": ByteBuffer(string: "all")], now: 1)
        #expect(group.state == .stable)

        let (parked, a2) = group.join(input(requireKnown: false), newMemberID: "m2", now: 100)
        #expect(parked == nil)
        #expect(a2.isEmpty, "waits for m1 to rejoin")
        #expect(group.heartbeat(memberID: "m1", groupInstanceID: nil, generationID: 1, now: 200) == .rebalanceInProgress)

        let (_, a3) = group.join(input("m1", requireKnown: false), newMemberID: "x", now: 300)
        let joined = joinResults(a3)
        #expect(joined.keys.sorted() == ["m1", "m2"])
        #expect(joined["m1"]?.generationID == 2)
        #expect(joined["m1"]?.leaderID == "m1", "the leader stays the leader")
        #expect(joined["m1"]?.members.count == 2)
        #expect(joined["m2"]?.members.isEmpty == true)

        // The follower's sync waits for the leader's.
        let (followerNow, f) = group.sync(memberID: "m2", groupInstanceID: nil, generationID: 2, protocolType: nil, protocolName: nil, assignments: [:], now: 400)
        #expect(followerNow == nil && f.isEmpty)
        let (_, l) = group.sync(memberID: "m1", groupInstanceID: nil, generationID: 2, protocolType: "consumer", protocolName: "range",
                                assignments: ["m1": ByteBuffer(string: "p0"), "m2": ByteBuffer(string: "p1")], now: 500)
        let synced = syncResults(l)
        #expect(synced["m1"]?.assignment == ByteBuffer(string: "p0"))
        #expect(synced["m2"]?.assignment == ByteBuffer(string: "p1"))
        #expect(group.state == .stable)
    }

    @Test func sessionExpiryRemovesTheMemberAndRebalances() {
        var group = stableGroup(["m1", "m2"])
        #expect(group.state == .stable)
        #expect(group.heartbeat(memberID: "m1", groupInstanceID: nil, generationID: group.generationID, now: 9000) == .noError)
        // m2 stays silent past its 10 s session.
        let actions = group.tick(now: 10_001)
        #expect(actions.isEmpty)
        #expect(!group.hasMember("m2"))
        #expect(group.state == .preparingRebalance)
        let (_, rejoin) = group.join(input("m1", requireKnown: false), newMemberID: "x", now: 10_100)
        #expect(joinResults(rejoin)["m1"]?.members.map(\.memberID) == ["m1"])
    }

    @Test func membersThatDoNotRejoinInTheRebalanceTimeoutAreDropped() {
        var group = stableGroup(["m1", "m2"])
        let gen = group.generationID
        let (_, _) = group.join(input("m1", protocols: ["range", "roundrobin"], requireKnown: false), newMemberID: "x", now: 100)
        #expect(group.state == .preparingRebalance)
        // m2 keeps heartbeating (told to rejoin) but never rejoins; the 30 s rebalance timeout ends the phase.
        for t: Int64 in [5000, 14_000, 23_000] {
            #expect(group.heartbeat(memberID: "m2", groupInstanceID: nil, generationID: gen, now: t) == .rebalanceInProgress)
            #expect(group.tick(now: t + 1000).isEmpty)
        }
        let joined = joinResults(group.tick(now: 30_100))
        #expect(joined.keys.sorted() == ["m1"])
        #expect(!group.hasMember("m2"))
        #expect(joined["m1"]?.generationID == gen + 1)
    }

    @Test func leavingMembers() {
        var group = stableGroup(["m1", "m2"])
        let gen = group.generationID
        let (error, _) = group.leave(memberID: "m2", groupInstanceID: nil, now: 10)
        #expect(error == .noError)
        #expect(group.state == .preparingRebalance)
        #expect(group.leave(memberID: "m2", groupInstanceID: nil, now: 11).0 == .unknownMemberId)
        let (last, actions) = group.leave(memberID: "m1", groupInstanceID: nil, now: 12)
        #expect(last == .noError)
        #expect(actions.isEmpty)
        #expect(group.state == .empty)
        #expect(group.generationID == gen + 1)
        #expect(group.isEmpty)
    }

    @Test func joinValidation() {
        var group = stableGroup(["m1"])
        #expect(group.join(input(session: 10), newMemberID: "n", now: 0).0?.error == .invalidSessionTimeout)
        #expect(group.join(input(protocols: ["other"]), newMemberID: "n", now: 0).0?.error == .inconsistentGroupProtocol)
        #expect(group.join(input("ghost"), newMemberID: "n", now: 0).0?.error == .unknownMemberId)
        var other = input(requireKnown: false)
        other.protocolType = "connect"
        #expect(group.join(other, newMemberID: "n", now: 0).0?.error == .inconsistentGroupProtocol)
        #expect(group.sync(memberID: "m1", groupInstanceID: nil, generationID: 99, protocolType: nil, protocolName: nil, assignments: [:], now: 0).0?.error == .illegalGeneration)
        #expect(group.sync(memberID: "m1", groupInstanceID: nil, generationID: group.generationID, protocolType: "connect", protocolName: nil, assignments: [:], now: 0).0?.error == .inconsistentGroupProtocol)
    }

    @Test func protocolSelectionByVote() {
        var group = GroupStateMachine(groupID: "g", config: GroupCoordinatorConfig(minSessionTimeoutMs: 1000, initialRebalanceDelayMs: 100))
        _ = group.join(input(protocols: ["roundrobin", "range"], requireKnown: false), newMemberID: "a", now: 0)
        _ = group.join(input(protocols: ["range", "roundrobin"], requireKnown: false), newMemberID: "b", now: 0)
        _ = group.join(input(protocols: ["range", "sticky", "roundrobin"], requireKnown: false), newMemberID: "c", now: 0)
        let joined = joinResults(group.tick(now: 200))
        #expect(joined.count == 3)
        #expect(joined["a"]?.protocolName == "range")
    }

    @Test func staticMemberRestartKeepsItsAssignmentWithoutRebalance() {
        var group = GroupStateMachine(groupID: "g", config: GroupCoordinatorConfig(minSessionTimeoutMs: 1000, initialRebalanceDelayMs: 100))
        _ = group.join(input(instance: "i1"), newMemberID: "m1", now: 0)
        _ = group.join(input(instance: "i2"), newMemberID: "m2", now: 0)
        _ = group.tick(now: 100)
        #expect(group.state == .completingRebalance)
        let gen = group.generationID
        _ = group.sync(memberID: "m2", groupInstanceID: "i2", generationID: gen, protocolType: nil, protocolName: nil, assignments: [:], now: 1)
        _ = group.sync(memberID: "m1", groupInstanceID: "i1", generationID: gen, protocolType: nil, protocolName: nil,
                       assignments: ["m1": ByteBuffer(string: "p0"), "m2": ByteBuffer(string: "p1")], now: 1)
        #expect(group.state == .stable)

        // i2 restarts: a new member id, same instance id, unchanged protocols.
        let (result, _) = group.join(input(instance: "i2"), newMemberID: "m2b", now: 100)
        #expect(result?.error == .noError)
        #expect(result?.memberID == "m2b")
        #expect(result?.generationID == gen)
        #expect(group.state == .stable)
        let (sync, _) = group.sync(memberID: "m2b", groupInstanceID: "i2", generationID: gen, protocolType: nil, protocolName: nil, assignments: [:], now: 101)
        #expect(sync?.assignment == ByteBuffer(string: "p1"))
        // The old incarnation is fenced.
        #expect(group.heartbeat(memberID: "m2", groupInstanceID: "i2", generationID: gen, now: 102) == .fencedInstanceId)
        // Leaving by instance id.
        #expect(group.leave(memberID: "", groupInstanceID: "i2", now: 103).0 == .noError)
        #expect(!group.hasMember("m2b"))
    }

    @Test func offsetCommitValidation() {
        var group = GroupStateMachine(groupID: "g", config: config)
        #expect(group.validateOffsetCommit(memberID: "", groupInstanceID: nil, generationID: -1) == .noError)
        #expect(group.validateOffsetCommit(memberID: "someone", groupInstanceID: nil, generationID: -1) == .noError,
                "Kafka lets generation -1 commit to an empty group whatever the member id")
        group = stableGroup(["m1"])
        #expect(group.validateOffsetCommit(memberID: "m1", groupInstanceID: nil, generationID: group.generationID) == .noError)
        #expect(group.validateOffsetCommit(memberID: "m1", groupInstanceID: nil, generationID: 0) == .illegalGeneration)
        #expect(group.validateOffsetCommit(memberID: "x", groupInstanceID: nil, generationID: group.generationID) == .unknownMemberId)
        #expect(group.validateOffsetCommit(memberID: "", groupInstanceID: nil, generationID: -1) == .unknownMemberId)
    }

    @Test func aLeaderThatNeverSyncsIsRemovedAndParkedFollowersAreReleased() {
        var group = GroupStateMachine(groupID: "g", config: GroupCoordinatorConfig(minSessionTimeoutMs: 1000, initialRebalanceDelayMs: 100))
        _ = group.join(input(requireKnown: false), newMemberID: "m1", now: 0)
        _ = group.join(input(requireKnown: false), newMemberID: "m2", now: 0)
        #expect(group.tick(now: 5).isEmpty, "the initial delay holds even when everyone has joined")
        #expect(joinResults(group.tick(now: 100)).count == 2)
        #expect(group.state == .completingRebalance)
        let gen = group.generationID
        let (parked, none) = group.sync(memberID: "m2", groupInstanceID: nil, generationID: gen, protocolType: nil, protocolName: nil, assignments: [:], now: 200)
        #expect(parked == nil && none.isEmpty)
        // The leader m1 goes silent: its session (10 s from the join response) expires.
        let released = syncResults(group.tick(now: 10_200))
        #expect(!group.hasMember("m1"))
        #expect(released["m2"]?.error == .rebalanceInProgress)
        #expect(group.state == .preparingRebalance)
    }

    @Test func describeReportsMembersAndState() {
        let group = stableGroup(["m1", "m2"])
        let d = group.description
        #expect(d.state == .stable)
        #expect(d.protocolType == "consumer")
        #expect(d.protocolName == "range")
        #expect(d.members.map(\.memberID) == ["m1", "m2"])
        #expect(d.members[1].assignment == ByteBuffer(string: "a-m2"))
    }

    /// librdkafka's 0084_destroy_flags: a consumer dies without leaving, a new one joins; the rebalance
    /// completes when the dead member's session expires, not at the (much longer) rebalance timeout.
    @Test func aDeadMemberExpiresDuringARebalance() {
        var group = stableGroup(["m1", "m2"])
        #expect(group.heartbeat(memberID: "m1", groupInstanceID: nil, generationID: group.generationID, now: 5000) == .noError)
        let (parked, _) = group.join(input(requireKnown: false), newMemberID: "m3", now: 5000)
        #expect(parked == nil && group.state == .preparingRebalance)
        _ = group.join(input("m1", requireKnown: false), newMemberID: "x", now: 5100)
        #expect(group.tick(now: 9000).isEmpty, "m2's session (10 s from the join at 100) is still running")
        let joined = joinResults(group.tick(now: 10_200))
        #expect(joined.keys.sorted() == ["m1", "m3"])
        #expect(!group.hasMember("m2"))
        #expect(group.state == .completingRebalance)
    }
}
