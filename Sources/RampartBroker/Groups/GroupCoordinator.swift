import KafkaProtocol
import NIOCore

/// Owns every consumer group on this broker: runs each group's `GroupStateMachine`, parks JoinGroup
/// and SyncGroup requests that must wait for a rebalance, and drives the groups' timers.
///
/// Time comes from `clock` (milliseconds) so tests can step it; `tick()` advances timers and is called
/// by `run()` every `tickInterval` in production.
public actor GroupCoordinator {
    private struct ParkedKey: Hashable {
        var groupID: String
        var memberID: String
    }

    private let config: GroupCoordinatorConfig
    private let clock: @Sendable () -> Int64
    private let newMemberID: @Sendable (_ clientID: String) -> String
    private var groups: [String: GroupStateMachine] = [:]
    /// The last time each group was seen with members (offset retention counts from it).
    private var lastActiveAt: [String: Int64] = [:]
    private var parkedJoins: [ParkedKey: CheckedContinuation<JoinGroupResult, Never>] = [:]
    private var parkedSyncs: [ParkedKey: CheckedContinuation<SyncGroupResult, Never>] = [:]

    public init(
        config: GroupCoordinatorConfig,
        clock: @escaping @Sendable () -> Int64,
        newMemberID: @escaping @Sendable (_ clientID: String) -> String = { clientID in
            "\(clientID)-\(KafkaUUID.random().javaString)"
        }
    ) {
        self.config = config
        self.clock = clock
        self.newMemberID = newMemberID
    }

    // MARK: - Membership

    public func joinGroup(groupID: String, _ input: JoinGroupInput) async -> JoinGroupResult {
        guard !groupID.isEmpty else { return .failure(.invalidGroupId, memberID: input.memberID) }
        var group = groups[groupID] ?? GroupStateMachine(groupID: groupID, config: config)
        if group.state == .dead { group = GroupStateMachine(groupID: groupID, config: config) }
        let isNew = groups[groupID] == nil
        let now = clock()
        let (immediate, actions) = group.join(input, newMemberID: newMemberID(input.clientID), now: now)
        // A join refused outright (unknown member id, bad timeout) does not create a group.
        if !(isNew && immediate != nil && group.isEmpty && group.state == .empty) { store(group) }
        if let immediate {
            run(actions, groupID: groupID)
            return immediate
        }
        // The request waits under the member id the state machine parked it with. The answer may already
        // be among `actions` (the last member completing the join phase), so park before running them.
        let memberID = group.parkedMemberID ?? input.memberID
        return await withCheckedContinuation { continuation in
            parkedJoins[ParkedKey(groupID: groupID, memberID: memberID)] = continuation
            run(actions, groupID: groupID)
        }
    }

    public func syncGroup(groupID: String, memberID: String, groupInstanceID: String?, generationID: Int32,
                          protocolType: String?, protocolName: String?, assignments: [String: ByteBuffer]) async -> SyncGroupResult {
        guard var group = groups[groupID] else { return .failure(.unknownMemberId) }
        let (immediate, actions) = group.sync(memberID: memberID, groupInstanceID: groupInstanceID, generationID: generationID,
                                              protocolType: protocolType, protocolName: protocolName,
                                              assignments: assignments, now: clock())
        store(group)
        if let immediate {
            run(actions, groupID: groupID)
            return immediate
        }
        return await withCheckedContinuation { continuation in
            parkedSyncs[ParkedKey(groupID: groupID, memberID: memberID)] = continuation
            run(actions, groupID: groupID)
        }
    }

    public func heartbeat(groupID: String, memberID: String, groupInstanceID: String?, generationID: Int32) -> KafkaErrorCode {
        guard var group = groups[groupID] else { return .unknownMemberId }
        let error = group.heartbeat(memberID: memberID, groupInstanceID: groupInstanceID, generationID: generationID, now: clock())
        store(group)
        return error
    }

    /// LeaveGroup; one error per member identity, in order.
    public func leaveGroup(groupID: String, members: [(memberID: String, groupInstanceID: String?)]) -> [KafkaErrorCode] {
        guard var group = groups[groupID] else { return members.map { _ in .unknownMemberId } }
        var errors: [KafkaErrorCode] = []
        var actions: [GroupAction] = []
        for member in members {
            let (error, released) = group.leave(memberID: member.memberID, groupInstanceID: member.groupInstanceID, now: clock())
            errors.append(error)
            actions += released
        }
        store(group)
        run(actions, groupID: groupID)
        return errors
    }

    // MARK: - Offsets and administration

    /// Whether an OffsetCommit from this member may proceed.
    public func validateOffsetCommit(groupID: String, memberID: String, groupInstanceID: String?, generationID: Int32) -> KafkaErrorCode {
        guard !groupID.isEmpty else { return .invalidGroupId }
        guard let group = groups[groupID] else {
            // Kafka: a commit to an unknown group is a simple consumer's (generation -1) or stale.
            return generationID < 0 ? .noError : .illegalGeneration
        }
        return group.validateOffsetCommit(memberID: memberID, groupInstanceID: groupInstanceID, generationID: generationID)
    }

    public func describeGroup(_ groupID: String) -> GroupDescription {
        groups[groupID]?.description
            ?? GroupDescription(groupID: groupID, state: .dead, protocolType: "", protocolName: "", members: [])
    }

    /// Every live group: id, protocol type and state.
    public func listGroups() -> [(groupID: String, protocolType: String, state: GroupState)] {
        groups.values.filter { $0.state != .dead }.sorted { $0.groupID < $1.groupID }.map {
            ($0.groupID, $0.protocolType ?? "", $0.state)
        }
    }

    /// Whether a group has live members (committed offsets may exist without a live group).
    public func groupState(_ groupID: String) -> GroupState? { groups[groupID]?.state }

    /// DeleteGroups for one group: refused while it has members.
    public func deleteGroup(_ groupID: String) -> KafkaErrorCode {
        guard var group = groups[groupID], group.state != .dead else { return .groupIdNotFound }
        guard group.state == .empty else { return .nonEmptyGroup }
        group.markDead()
        groups[groupID] = nil
        lastActiveAt[groupID] = nil
        return .noError
    }

    /// Each group's state and the last time it had members, for offset retention.
    public func activity() -> [String: GroupActivity] {
        groups.mapValues { GroupActivity(state: $0.state, lastActiveAt: lastActiveAt[$0.groupID]) }
    }

    /// Forgets groups that are empty (no members, none pending) unless named in `keeping` (groups with
    /// committed offsets), as Kafka's offset cleanup does.
    public func removeEmptyGroups(keeping: Set<String>) {
        for (id, group) in groups where group.state == .empty && group.isEmpty && !keeping.contains(id) {
            groups[id] = nil
            lastActiveAt[id] = nil
        }
    }

    private func store(_ group: GroupStateMachine) {
        groups[group.groupID] = group
        if group.memberCount > 0 { lastActiveAt[group.groupID] = clock() }
    }

    // MARK: - Timers

    /// Advances every group's timers.
    public func tick() {
        let now = clock()
        for (id, var group) in groups {
            guard let deadline = group.nextDeadline, deadline <= now else { continue }
            let actions = group.tick(now: now)
            store(group)
            run(actions, groupID: id)
        }
    }

    /// Ticks until the task is cancelled.
    public func run(tickInterval: Duration = .milliseconds(100)) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: tickInterval)
            tick()
        }
        // Nothing stays parked past shutdown.
        for (_, continuation) in parkedJoins { continuation.resume(returning: .failure(.coordinatorNotAvailable, memberID: "")) }
        for (_, continuation) in parkedSyncs { continuation.resume(returning: .failure(.coordinatorNotAvailable)) }
        parkedJoins.removeAll()
        parkedSyncs.removeAll()
    }

    private func run(_ actions: [GroupAction], groupID: String) {
        for action in actions {
            switch action {
            case .completeJoin(let memberID, let result):
                parkedJoins.removeValue(forKey: ParkedKey(groupID: groupID, memberID: memberID))?.resume(returning: result)
            case .completeSync(let memberID, let result):
                parkedSyncs.removeValue(forKey: ParkedKey(groupID: groupID, memberID: memberID))?.resume(returning: result)
            }
        }
    }
}
