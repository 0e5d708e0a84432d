import KafkaProtocol
import NIOCore

/// The classic (eager) group membership protocol of one group, as Kafka's GroupCoordinator runs it:
/// JoinGroup, SyncGroup, Heartbeat and LeaveGroup, rebalance and session timeouts, the initial
/// rebalance delay of an empty group, and static membership (`group.instance.id`).
///
/// A value type: every event takes the current time in milliseconds and returns the answers it
/// releases. Requests that must wait (JoinGroup during a rebalance, SyncGroup of a follower) get no
/// immediate answer; the coordinator parks them and completes them when an action names the member.
public struct GroupStateMachine: Sendable {
    struct Member: Sendable {
        var memberID: String
        var groupInstanceID: String?
        var clientID: String
        var clientHost: String
        var sessionTimeoutMs: Int32
        var rebalanceTimeoutMs: Int32
        var protocolType: String
        var protocols: [GroupProtocol]
        var assignment = ByteBuffer()
        var awaitingJoin = false
        var awaitingSync = false
        /// Deadline of the session: a member that neither heartbeats nor waits on a request is removed.
        var sessionDeadline: Int64

        func metadata(for protocolName: String) -> ByteBuffer {
            protocols.first { $0.name == protocolName }?.metadata ?? ByteBuffer()
        }
    }

    public let groupID: String
    public private(set) var state: GroupState = .empty
    public private(set) var generationID: Int32 = 0
    public private(set) var protocolType: String?
    public private(set) var protocolName: String?
    public private(set) var leaderID: String?

    private var members: [String: Member] = [:]
    /// Join order, which decides the leader of a new group.
    private var memberOrder: [String] = []
    private var staticMembers: [String: String] = [:]
    /// Member ids handed out with MEMBER_ID_REQUIRED that have not joined yet, with their expiry.
    private var pendingMembers: [String: Int64] = [:]
    /// End of the join phase.
    private var joinDeadline: Int64?
    /// During the initial delay of a group that was empty: when to check again, and the hard limit.
    private var initialDelayDeadline: Int64?
    private var initialDelayLimit: Int64?
    /// End of the sync phase: members that have not sent SyncGroup by then are removed.
    private var syncDeadline: Int64?

    private let config: GroupCoordinatorConfig

    public init(groupID: String, config: GroupCoordinatorConfig) {
        self.groupID = groupID
        self.config = config
    }

    public var memberCount: Int { members.count }
    public var isEmpty: Bool { members.isEmpty && pendingMembers.isEmpty }
    public func hasMember(_ memberID: String) -> Bool { members[memberID] != nil }

    /// The earliest time at which `tick` has something to do.
    public var nextDeadline: Int64? {
        var deadlines = [joinDeadline, initialDelayDeadline, syncDeadline].compactMap { $0 }
        deadlines += members.values.filter { !$0.awaitingJoin && !$0.awaitingSync }.map(\.sessionDeadline)
        deadlines += pendingMembers.values
        return deadlines.min()
    }

    // MARK: - JoinGroup

    /// Handles JoinGroup. `newMemberID` is used if the member needs an id. Returns the immediate answer
    /// (nil when the request waits for the rebalance) and answers released to members, possibly
    /// including this one. A waiting request is completed by a `.completeJoin` naming `parkedMemberID`.
    public mutating func join(_ input: JoinGroupInput, newMemberID: String, now: Int64) -> (JoinGroupResult?, [GroupAction]) {
        parkedMemberID = nil
        return joinEvent(input, newMemberID: newMemberID, now: now)
    }

    /// After `join` returned no immediate answer: the member id under which the request waits.
    public private(set) var parkedMemberID: String?

    private mutating func joinEvent(_ input: JoinGroupInput, newMemberID: String, now: Int64) -> (JoinGroupResult?, [GroupAction]) {
        guard state != .dead else { return (.failure(.coordinatorNotAvailable, memberID: input.memberID), []) }
        guard input.sessionTimeoutMs >= config.minSessionTimeoutMs, input.sessionTimeoutMs <= config.maxSessionTimeoutMs else {
            return (.failure(.invalidSessionTimeout, memberID: input.memberID), [])
        }
        guard !input.protocolType.isEmpty, !input.protocols.isEmpty else {
            return (.failure(.inconsistentGroupProtocol, memberID: input.memberID), [])
        }
        if !members.isEmpty {
            guard input.protocolType == protocolType || protocolType == nil,
                  !candidateProtocols(adding: input.protocols.map(\.name), excluding: input.memberID).isEmpty
            else { return (.failure(.inconsistentGroupProtocol, memberID: input.memberID), []) }
        }

        if input.memberID.isEmpty {
            return joinUnknownMember(input, newMemberID: newMemberID, now: now)
        }
        return joinKnownMember(input, now: now)
    }

    private mutating func joinUnknownMember(_ input: JoinGroupInput, newMemberID: String, now: Int64) -> (JoinGroupResult?, [GroupAction]) {
        if let instanceID = input.groupInstanceID, let oldID = staticMembers[instanceID] {
            return replaceStaticMember(instanceID: instanceID, oldID: oldID, newID: newMemberID, input: input, now: now)
        }
        guard members.count + pendingMembers.count < config.maxGroupSize else {
            return (.failure(.groupMaxSizeReached, memberID: ""), [])
        }
        if input.requireKnownMemberID && input.groupInstanceID == nil {
            // KIP-394: hand out the id and wait for the member to come back with it.
            pendingMembers[newMemberID] = now + Int64(input.sessionTimeoutMs)
            return (.failure(.memberIdRequired, memberID: newMemberID), [])
        }
        var actions: [GroupAction] = []
        addMember(input, memberID: newMemberID, now: now, actions: &actions)
        return (nil, actions)
    }

    private mutating func joinKnownMember(_ input: JoinGroupInput, now: Int64) -> (JoinGroupResult?, [GroupAction]) {
        if pendingMembers.removeValue(forKey: input.memberID) != nil {
            var actions: [GroupAction] = []
            addMember(input, memberID: input.memberID, now: now, actions: &actions)
            return (nil, actions)
        }
        if let instanceID = input.groupInstanceID, let current = staticMembers[instanceID], current != input.memberID {
            return (.failure(.fencedInstanceId, memberID: input.memberID), [])
        }
        guard var member = members[input.memberID] else {
            return (.failure(.unknownMemberId, memberID: input.memberID), [])
        }
        var actions: [GroupAction] = []
        if member.awaitingJoin {
            // A retried join replaces the parked one, which is answered now so the client is not left hanging.
            actions.append(.completeJoin(memberID: input.memberID, .failure(.rebalanceInProgress, memberID: input.memberID)))
        }
        let protocolsChanged = member.protocols != input.protocols
        member.protocols = input.protocols
        member.sessionTimeoutMs = input.sessionTimeoutMs
        member.rebalanceTimeoutMs = input.rebalanceTimeoutMs
        member.clientID = input.clientID
        member.clientHost = input.clientHost

        switch state {
        case .preparingRebalance:
            member.awaitingJoin = true
            members[input.memberID] = member
            parkedMemberID = input.memberID
            actions += completeJoinIfReady(now: now)
            return (nil, actions)
        case .completingRebalance:
            if !protocolsChanged, let protocolName {
                // The member missed its join response: answer from the current generation.
                members[input.memberID] = member
                return (joinResult(for: input.memberID, protocolName: protocolName), actions)
            }
            member.awaitingJoin = true
            members[input.memberID] = member
            parkedMemberID = input.memberID
            actions += prepareRebalance(now: now)
            return (nil, actions)
        case .stable:
            if input.memberID != leaderID && !protocolsChanged, let protocolName {
                // A follower rejoining with unchanged metadata: nothing changes (Kafka does the same).
                members[input.memberID] = member
                return (joinResult(for: input.memberID, protocolName: protocolName), actions)
            }
            member.awaitingJoin = true
            members[input.memberID] = member
            parkedMemberID = input.memberID
            actions += prepareRebalance(now: now)
            return (nil, actions)
        case .empty, .dead:
            return (.failure(.unknownMemberId, memberID: input.memberID), actions)
        }
    }

    private mutating func replaceStaticMember(instanceID: String, oldID: String, newID: String,
                                              input: JoinGroupInput, now: Int64) -> (JoinGroupResult?, [GroupAction]) {
        guard var member = members.removeValue(forKey: oldID) else {
            staticMembers[instanceID] = nil
            var actions: [GroupAction] = []
            addMember(input, memberID: newID, now: now, actions: &actions)
            return (nil, actions)
        }
        var actions: [GroupAction] = []
        // The old incarnation is fenced: its parked requests fail.
        if member.awaitingJoin { actions.append(.completeJoin(memberID: oldID, .failure(.fencedInstanceId, memberID: oldID))) }
        if member.awaitingSync { actions.append(.completeSync(memberID: oldID, .failure(.fencedInstanceId))) }
        let protocolsChanged = member.protocols != input.protocols
        member.memberID = newID
        member.protocols = input.protocols
        member.sessionTimeoutMs = input.sessionTimeoutMs
        member.rebalanceTimeoutMs = input.rebalanceTimeoutMs
        member.clientID = input.clientID
        member.clientHost = input.clientHost
        member.awaitingJoin = false
        member.awaitingSync = false
        member.sessionDeadline = now + Int64(input.sessionTimeoutMs)
        members[newID] = member
        if let index = memberOrder.firstIndex(of: oldID) { memberOrder[index] = newID }
        staticMembers[instanceID] = newID
        let wasLeader = leaderID == oldID
        if wasLeader { leaderID = newID }

        if state == .stable && !protocolsChanged, let protocolName {
            var result = joinResult(for: newID, protocolName: protocolName)
            if wasLeader {
                // KIP-814: the returning static leader keeps the current assignment.
                result.skipAssignment = true
                result.members = memberInfos(protocolName: protocolName)
            }
            return (result, actions)
        }
        members[newID]!.awaitingJoin = true
        parkedMemberID = newID
        if state == .preparingRebalance {
            actions += completeJoinIfReady(now: now)
        } else {
            actions += prepareRebalance(now: now)
        }
        return (nil, actions)
    }

    private mutating func addMember(_ input: JoinGroupInput, memberID: String, now: Int64, actions: inout [GroupAction]) {
        if members.isEmpty { protocolType = input.protocolType }
        members[memberID] = Member(
            memberID: memberID, groupInstanceID: input.groupInstanceID, clientID: input.clientID,
            clientHost: input.clientHost, sessionTimeoutMs: input.sessionTimeoutMs,
            rebalanceTimeoutMs: input.rebalanceTimeoutMs, protocolType: input.protocolType,
            protocols: input.protocols, awaitingJoin: true, sessionDeadline: now + Int64(input.sessionTimeoutMs))
        memberOrder.append(memberID)
        parkedMemberID = memberID
        if let instanceID = input.groupInstanceID { staticMembers[instanceID] = memberID }
        if state == .preparingRebalance {
            if initialDelayDeadline != nil {
                // Each new member during the initial delay extends it, up to the rebalance timeout.
                initialDelayDeadline = min(now + Int64(config.initialRebalanceDelayMs), initialDelayLimit ?? now)
            }
            actions += completeJoinIfReady(now: now)
        } else {
            actions += prepareRebalance(now: now)
        }
    }

    private func joinResult(for memberID: String, protocolName: String) -> JoinGroupResult {
        JoinGroupResult(error: .noError, generationID: generationID, protocolType: protocolType,
                        protocolName: protocolName, leaderID: leaderID ?? "", memberID: memberID)
    }

    private func memberInfos(protocolName: String) -> [JoinGroupMemberInfo] {
        memberOrder.compactMap { id in
            members[id].map { JoinGroupMemberInfo(memberID: id, groupInstanceID: $0.groupInstanceID, metadata: $0.metadata(for: protocolName)) }
        }
    }

    // MARK: - Rebalance

    private mutating func prepareRebalance(now: Int64) -> [GroupAction] {
        var actions: [GroupAction] = []
        if state == .completingRebalance {
            // Followers waiting on SyncGroup must rejoin.
            for (id, member) in members where member.awaitingSync {
                members[id]!.awaitingSync = false
                actions.append(.completeSync(memberID: id, .failure(.rebalanceInProgress)))
            }
        }
        let wasEmpty = state == .empty
        state = .preparingRebalance
        syncDeadline = nil
        let rebalanceTimeout = Int64(members.values.map(\.rebalanceTimeoutMs).max() ?? 0)
        if wasEmpty && config.initialRebalanceDelayMs > 0 {
            initialDelayDeadline = now + Int64(config.initialRebalanceDelayMs)
            initialDelayLimit = now + max(rebalanceTimeout, Int64(config.initialRebalanceDelayMs))
            joinDeadline = initialDelayLimit
        } else {
            joinDeadline = now + rebalanceTimeout
        }
        return actions + completeJoinIfReady(now: now)
    }

    private var allMembersJoined: Bool {
        pendingMembers.isEmpty && members.values.allSatisfy(\.awaitingJoin)
    }

    private mutating func completeJoinIfReady(now: Int64) -> [GroupAction] {
        guard state == .preparingRebalance else { return [] }
        if let delay = initialDelayDeadline {
            guard now >= delay else { return [] }
            initialDelayDeadline = nil
            initialDelayLimit = nil
        } else if !allMembersJoined, let deadline = joinDeadline, now < deadline {
            return []
        }
        return completeJoin(now: now)
    }

    private mutating func completeJoin(now: Int64) -> [GroupAction] {
        joinDeadline = nil
        initialDelayDeadline = nil
        initialDelayLimit = nil
        // Dynamic members that did not rejoin in time leave; static ones keep their place.
        for (id, member) in members where !member.awaitingJoin && member.groupInstanceID == nil {
            removeMemberRecord(id)
        }
        pendingMembers = pendingMembers.filter { $0.value > now }
        generationID &+= 1
        guard !members.isEmpty else {
            // Kafka keeps the protocol type of an emptied group: it still lists as a consumer group.
            state = .empty
            protocolName = nil
            leaderID = nil
            return []
        }
        let selected = selectProtocol()
        protocolName = selected
        if leaderID == nil || !(members[leaderID!]?.awaitingJoin ?? false) {
            leaderID = memberOrder.first { members[$0]?.awaitingJoin ?? false } ?? memberOrder.first
        }
        state = .completingRebalance
        let rebalanceTimeout = Int64(members.values.map(\.rebalanceTimeoutMs).max() ?? 0)
        syncDeadline = now + rebalanceTimeout
        var actions: [GroupAction] = []
        for id in memberOrder {
            guard var member = members[id] else { continue }
            member.sessionDeadline = now + Int64(member.sessionTimeoutMs)
            member.assignment = ByteBuffer()
            if member.awaitingJoin {
                member.awaitingJoin = false
                var result = joinResult(for: id, protocolName: selected)
                if id == leaderID { result.members = memberInfos(protocolName: selected) }
                actions.append(.completeJoin(memberID: id, result))
            }
            members[id] = member
        }
        return actions
    }

    /// Protocols every member supports, in the order of the joining member's preference.
    private func candidateProtocols(adding names: [String], excluding memberID: String) -> [String] {
        var candidates = names
        for (id, member) in members where id != memberID {
            let theirs = Set(member.protocols.map(\.name))
            candidates = candidates.filter { theirs.contains($0) }
        }
        return candidates
    }

    /// Kafka's vote: among protocols all members support, each member votes for its first choice.
    private func selectProtocol() -> String {
        let memberList = memberOrder.compactMap { members[$0] }
        var candidates = memberList.first.map { $0.protocols.map(\.name) } ?? []
        for member in memberList.dropFirst() {
            let theirs = Set(member.protocols.map(\.name))
            candidates = candidates.filter { theirs.contains($0) }
        }
        var votes: [String: Int] = [:]
        for member in memberList {
            if let choice = member.protocols.first(where: { candidates.contains($0.name) })?.name { votes[choice, default: 0] += 1 }
        }
        return candidates.max { (votes[$0] ?? 0) < (votes[$1] ?? 0) } ?? candidates.first ?? ""
    }

    private mutating func removeMemberRecord(_ id: String) {
        guard let member = members.removeValue(forKey: id) else { return }
        memberOrder.removeAll { $0 == id }
        if let instanceID = member.groupInstanceID, staticMembers[instanceID] == id { staticMembers[instanceID] = nil }
        if leaderID == id { leaderID = nil }
    }

    /// Removes members and starts a rebalance (or completes one that was waiting on them).
    private mutating func removeMembers(_ ids: [String], now: Int64) -> [GroupAction] {
        var actions: [GroupAction] = []
        for id in ids {
            guard let member = members[id] else { continue }
            if member.awaitingJoin { actions.append(.completeJoin(memberID: id, .failure(.unknownMemberId, memberID: id))) }
            if member.awaitingSync { actions.append(.completeSync(memberID: id, .failure(.unknownMemberId))) }
            removeMemberRecord(id)
        }
        switch state {
        case .stable, .completingRebalance:
            if members.isEmpty {
                // Kafka bumps the generation when the last member leaves.
                actions += prepareRebalanceOnEmptied(now: now)
            } else {
                actions += prepareRebalance(now: now)
            }
        case .preparingRebalance:
            if members.isEmpty { actions += completeJoin(now: now) } else { actions += completeJoinIfReady(now: now) }
        case .empty, .dead:
            break
        }
        return actions
    }

    private mutating func prepareRebalanceOnEmptied(now: Int64) -> [GroupAction] {
        state = .preparingRebalance
        return completeJoin(now: now)
    }

    // MARK: - SyncGroup, Heartbeat, LeaveGroup

    public mutating func sync(memberID: String, groupInstanceID: String?, generationID: Int32,
                              protocolType: String?, protocolName: String?,
                              assignments: [String: ByteBuffer], now: Int64) -> (SyncGroupResult?, [GroupAction]) {
        if let error = validateMember(memberID, groupInstanceID: groupInstanceID) { return (.failure(error), []) }
        guard generationID == self.generationID else { return (.failure(.illegalGeneration), []) }
        if let protocolType, protocolType != self.protocolType { return (.failure(.inconsistentGroupProtocol), []) }
        if let protocolName, protocolName != self.protocolName { return (.failure(.inconsistentGroupProtocol), []) }
        switch state {
        case .preparingRebalance:
            return (.failure(.rebalanceInProgress), [])
        case .completingRebalance:
            members[memberID]!.awaitingSync = true
            members[memberID]!.sessionDeadline = now + Int64(members[memberID]!.sessionTimeoutMs)
            guard memberID == leaderID else { return (nil, []) }
            for id in members.keys { members[id]!.assignment = assignments[id] ?? ByteBuffer() }
            state = .stable
            syncDeadline = nil
            var actions: [GroupAction] = []
            for (id, member) in members where member.awaitingSync {
                members[id]!.awaitingSync = false
                actions.append(.completeSync(memberID: id, syncResult(member.assignment)))
            }
            return (nil, actions)
        case .stable:
            members[memberID]!.sessionDeadline = now + Int64(members[memberID]!.sessionTimeoutMs)
            return (syncResult(members[memberID]!.assignment), [])
        case .empty, .dead:
            return (.failure(.unknownMemberId), [])
        }
    }

    private func syncResult(_ assignment: ByteBuffer) -> SyncGroupResult {
        SyncGroupResult(error: .noError, protocolType: protocolType, protocolName: protocolName, assignment: assignment)
    }

    private func validateMember(_ memberID: String, groupInstanceID: String?) -> KafkaErrorCode? {
        if let groupInstanceID, let current = staticMembers[groupInstanceID], current != memberID { return .fencedInstanceId }
        guard state != .dead, members[memberID] != nil else { return .unknownMemberId }
        return nil
    }

    public mutating func heartbeat(memberID: String, groupInstanceID: String?, generationID: Int32, now: Int64) -> KafkaErrorCode {
        if let error = validateMember(memberID, groupInstanceID: groupInstanceID) { return error }
        switch state {
        case .empty, .dead:
            return .unknownMemberId
        case .preparingRebalance:
            members[memberID]!.sessionDeadline = now + Int64(members[memberID]!.sessionTimeoutMs)
            return .rebalanceInProgress
        case .completingRebalance, .stable:
            guard generationID == self.generationID else { return .illegalGeneration }
            members[memberID]!.sessionDeadline = now + Int64(members[memberID]!.sessionTimeoutMs)
            return .noError
        }
    }

    /// LeaveGroup for one member identity (v3+ batches several). `memberID` may be empty for a static
    /// member identified by its instance id.
    public mutating func leave(memberID: String, groupInstanceID: String?, now: Int64) -> (KafkaErrorCode, [GroupAction]) {
        var id = memberID
        if let groupInstanceID {
            guard let current = staticMembers[groupInstanceID] else { return (.unknownMemberId, []) }
            if !memberID.isEmpty && memberID != current { return (.fencedInstanceId, []) }
            id = current
        }
        if pendingMembers.removeValue(forKey: id) != nil {
            return (.noError, completeJoinIfReady(now: now))
        }
        guard state != .dead, members[id] != nil else { return (.unknownMemberId, []) }
        return (.noError, removeMembers([id], now: now))
    }

    /// Checks an OffsetCommit against the group, in Kafka's order: simple consumers (generation -1)
    /// may commit to an empty group; otherwise the member must be known (static members not fenced),
    /// the group not waiting for its assignment, and the generation current.
    public func validateOffsetCommit(memberID: String, groupInstanceID: String?, generationID: Int32) -> KafkaErrorCode {
        if generationID < 0 && (state == .empty || state == .dead) { return .noError }
        if let groupInstanceID, let current = staticMembers[groupInstanceID], current != memberID { return .fencedInstanceId }
        if state == .completingRebalance { return .rebalanceInProgress }
        if let error = validateMember(memberID, groupInstanceID: groupInstanceID) { return error }
        guard generationID == self.generationID else { return .illegalGeneration }
        return .noError
    }

    /// Advances timers: ends join phases, expires sessions and members that never synced.
    public mutating func tick(now: Int64) -> [GroupAction] {
        var actions: [GroupAction] = []
        pendingMembers = pendingMembers.filter { $0.value > now }
        if state == .preparingRebalance {
            actions += completeJoinIfReady(now: now)
        }
        if state == .completingRebalance, let deadline = syncDeadline, now >= deadline {
            let laggards = members.filter { !$0.value.awaitingSync }.map(\.key)
            syncDeadline = nil
            if !laggards.isEmpty { actions += removeMembers(laggards, now: now) }
        }
        // Sessions expire in every live state: a member that died without leaving must not hold a
        // rebalance open until the rebalance timeout (Kafka expires it at its session timeout too).
        if state == .stable || state == .completingRebalance || state == .preparingRebalance {
            let expired = members.filter { !$0.value.awaitingJoin && !$0.value.awaitingSync && $0.value.sessionDeadline <= now }.map(\.key)
            if !expired.isEmpty { actions += removeMembers(expired, now: now) }
        }
        return actions
    }

    /// Marks the group deleted (DeleteGroups on an empty group).
    public mutating func markDead() { state = .dead }

    public var description: GroupDescription {
        let selected = (state == .stable || state == .completingRebalance) ? (protocolName ?? "") : ""
        return GroupDescription(
            groupID: groupID, state: state, protocolType: protocolType ?? "", protocolName: selected,
            members: memberOrder.compactMap { id in
                members[id].map {
                    GroupMemberDescription(memberID: id, groupInstanceID: $0.groupInstanceID, clientID: $0.clientID,
                                           clientHost: $0.clientHost, metadata: $0.metadata(for: protocolName ?? ""),
                                           assignment: $0.assignment)
                }
            })
    }
}
