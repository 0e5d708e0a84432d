import KafkaProtocol
import NIOCore
import RampartBroker
import Synchronization
import Testing

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let value = Mutex<Int64>(0)
    var now: Int64 { value.withLock { $0 } }
    func advance(_ ms: Int64) { value.withLock { $0 += ms } }
}

final class Counter: Sendable {
    private let value = Mutex<Int>(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}

@Suite struct GroupCoordinatorTests {
    func input(_ memberID: String = "", instance: String? = nil) -> JoinGroupInput {
        JoinGroupInput(memberID: memberID, groupInstanceID: instance, clientID: "client", clientHost: "/127.0.0.1",
                       sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 30_000, protocolType: "consumer",
                       protocols: [GroupProtocol(name: "range", metadata: ByteBuffer(string: "sub"))],
                       requireKnownMemberID: true)
    }

    func makeCoordinator(_ clock: ManualClock, delay: Int32 = 3000) -> GroupCoordinator {
        let counter = Counter()
        return GroupCoordinator(
            config: GroupCoordinatorConfig(minSessionTimeoutMs: 1000, initialRebalanceDelayMs: delay),
            clock: { clock.now }, newMemberID: { "\($0)-\(counter.next())" })
    }

    /// Polls until `condition` holds (the parked tasks need a moment to reach the actor).
    func eventually(_ condition: () async -> Bool) async {
        for _ in 0..<500 where !(await condition()) { try? await Task.sleep(for: .milliseconds(2)) }
    }

    @Test func twoConsumersJoinSyncAndShareTheGeneration() async throws {
        let clock = ManualClock()
        let coordinator = makeCoordinator(clock)
        let id1 = await coordinator.joinGroup(groupID: "g", input()).memberID
        let id2 = await coordinator.joinGroup(groupID: "g", input()).memberID
        #expect(id1 == "client-1" && id2 == "client-2")

        // The first member to join leads: let join1 reach the coordinator before join2 starts.
        async let join1 = coordinator.joinGroup(groupID: "g", input(id1))
        await eventually { await coordinator.describeGroup("g").members.count == 1 }
        async let join2 = coordinator.joinGroup(groupID: "g", input(id2))
        await eventually { await coordinator.describeGroup("g").members.count == 2 }
        clock.advance(3000)
        await coordinator.tick()
        let (r1, r2) = await (join1, join2)
        #expect(r1.error == .noError && r2.error == .noError)
        #expect(r1.generationID == 1 && r2.generationID == 1)
        #expect(r1.leaderID == id1)
        #expect(r1.members.count == 2 && r2.members.isEmpty)

        async let follower = coordinator.syncGroup(groupID: "g", memberID: id2, groupInstanceID: nil, generationID: 1,
                                                   protocolType: "consumer", protocolName: "range", assignments: [:])
        await eventually { await coordinator.describeGroup("g").state == .completingRebalance }
        let leader = await coordinator.syncGroup(groupID: "g", memberID: id1, groupInstanceID: nil, generationID: 1,
                                                 protocolType: "consumer", protocolName: "range",
                                                 assignments: [id1: ByteBuffer(string: "A"), id2: ByteBuffer(string: "B")])
        #expect(leader.assignment == ByteBuffer(string: "A"))
        #expect(await follower.assignment == ByteBuffer(string: "B"))
        #expect(await coordinator.describeGroup("g").state == .stable)
        #expect(await coordinator.heartbeat(groupID: "g", memberID: id2, groupInstanceID: nil, generationID: 1) == .noError)
        #expect(await coordinator.listGroups().map(\.groupID) == ["g"])
        #expect(await coordinator.deleteGroup("g") == .nonEmptyGroup)

        #expect(await coordinator.leaveGroup(groupID: "g", members: [(id1, nil), (id2, nil)]) == [.noError, .noError])
        #expect(await coordinator.describeGroup("g").state == .empty)
        #expect(await coordinator.deleteGroup("g") == .noError)
        #expect(await coordinator.deleteGroup("g") == .groupIdNotFound)
    }

    @Test func emptyGroupIDIsInvalid() async {
        let coordinator = makeCoordinator(ManualClock())
        #expect(await coordinator.joinGroup(groupID: "", input()).error == .invalidGroupId)
        #expect(await coordinator.validateOffsetCommit(groupID: "", memberID: "", groupInstanceID: nil, generationID: -1) == .invalidGroupId)
    }

    @Test func simpleConsumerCommitsWithoutAGroup() async {
        let coordinator = makeCoordinator(ManualClock())
        #expect(await coordinator.validateOffsetCommit(groupID: "solo", memberID: "", groupInstanceID: nil, generationID: -1) == .noError)
        #expect(await coordinator.validateOffsetCommit(groupID: "solo", memberID: "m", groupInstanceID: nil, generationID: 3) == .illegalGeneration)
    }

    @Test func aStaticMemberJoinsWithoutTheIdRoundTrip() async {
        let clock = ManualClock()
        let coordinator = makeCoordinator(clock, delay: 0)
        let result = await coordinator.joinGroup(groupID: "g", input(instance: "instance-a"))
        #expect(result.error == .noError)
        #expect(result.memberID == "client-1")
        #expect(result.leaderID == "client-1")
    }

    @Test func shutdownReleasesParkedRequests() async {
        let clock = ManualClock()
        let coordinator = makeCoordinator(clock)
        let id = await coordinator.joinGroup(groupID: "g", input()).memberID
        let runner = Task { await coordinator.run(tickInterval: .milliseconds(5)) }
        async let parked = coordinator.joinGroup(groupID: "g", input(id))
        await eventually { await coordinator.describeGroup("g").members.count == 1 }
        runner.cancel()
        #expect(await parked.error == .coordinatorNotAvailable)
    }
}

@Suite struct GroupCoordinatorOffsetsTests {
    @Test func simpleCommitsFollowKafkasOrderOfChecks() async {
        let clock = ManualClock()
        let coordinator = GroupCoordinator(config: GroupCoordinatorConfig(minSessionTimeoutMs: 1000, initialRebalanceDelayMs: 0),
                                           clock: { clock.now })
        // Unknown group: generation -1 is a simple consumer whatever its member id; anything else is stale.
        #expect(await coordinator.validateOffsetCommit(groupID: "g", memberID: "m", groupInstanceID: nil, generationID: -1) == .noError)
        #expect(await coordinator.validateOffsetCommit(groupID: "g", memberID: "", groupInstanceID: nil, generationID: 0) == .illegalGeneration)
    }

    @Test func activityAndForgettingEmptyGroups() async {
        let clock = ManualClock()
        let coordinator = GroupCoordinator(config: GroupCoordinatorConfig(minSessionTimeoutMs: 1000, initialRebalanceDelayMs: 0),
                                           clock: { clock.now }, newMemberID: { "\($0)-1" })
        let input = JoinGroupInput(memberID: "", clientID: "c", clientHost: "/h", sessionTimeoutMs: 5000, rebalanceTimeoutMs: 5000,
                                   protocolType: "consumer", protocols: [GroupProtocol(name: "range", metadata: ByteBuffer())],
                                   requireKnownMemberID: false)
        clock.advance(100)
        let joined = await coordinator.joinGroup(groupID: "g", input)
        #expect(joined.error == .noError)
        #expect(await coordinator.activity()["g"] == GroupActivity(state: .completingRebalance, lastActiveAt: 100))
        clock.advance(50)
        #expect(await coordinator.leaveGroup(groupID: "g", members: [(joined.memberID, nil)]) == [.noError])
        #expect(await coordinator.activity()["g"] == GroupActivity(state: .empty, lastActiveAt: 100))
        await coordinator.removeEmptyGroups(keeping: ["g"])
        #expect(await coordinator.groupState("g") == .empty)
        await coordinator.removeEmptyGroups(keeping: [])
        #expect(await coordinator.groupState("g") == nil)
        #expect(await coordinator.activity().isEmpty)
    }

    @Test func aRefusedJoinCreatesNoGroup() async {
        let coordinator = GroupCoordinator(config: GroupCoordinatorConfig(), clock: { 0 })
        let input = JoinGroupInput(memberID: "stale", clientID: "c", clientHost: "/h", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000,
                                   protocolType: "consumer", protocols: [GroupProtocol(name: "range", metadata: ByteBuffer())],
                                   requireKnownMemberID: true)
        #expect(await coordinator.joinGroup(groupID: "g", input).error == .unknownMemberId)
        #expect(await coordinator.listGroups().isEmpty)
    }
}
