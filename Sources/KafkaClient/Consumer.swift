import KafkaProtocol
import NIOCore

/// Reads records: either from partitions given with `assign`, or as a member of a consumer group
/// (`subscribe`: JoinGroup/SyncGroup with the `consumer` protocol and the range assignor, heartbeats in
/// the background, offsets committed to the group). `poll` fetches from each partition's leader.
public actor KafkaConsumer {
    private let cluster: KafkaCluster
    nonisolated public let config: ConsumerConfig
    private var subscription: [String]?
    private var assignment: [KafkaTopicPartition] = []
    private var positions: [KafkaTopicPartition: Int64] = [:]
    private var memberId = ""
    private var generationId: Int32 = -1
    private var needsRejoin = false
    private var joining = false
    private var heartbeatTask: Task<Void, Never>?
    private var lastAutoCommit = ContinuousClock.now
    private var closed = false

    public init(cluster: KafkaCluster, config: ConsumerConfig = ConsumerConfig()) {
        self.cluster = cluster
        self.config = config
    }

    /// The partitions currently assigned (by `assign` or by the group).
    public var assignedPartitions: [KafkaTopicPartition] { assignment }
    /// The group generation and member id, once joined.
    public var groupMembership: (generationId: Int32, memberId: String)? {
        generationId >= 0 ? (generationId, memberId) : nil
    }

    /// Reads exactly these partitions, without a group (offsets may still be committed if `groupId` is set).
    public func assign(_ partitions: [KafkaTopicPartition]) {
        subscription = nil
        assignment = partitions.sorted()
        positions = positions.filter { partitions.contains($0.key) }
    }

    /// Joins `groupId` on the next `poll`, reading what the group assigns from `topics`.
    public func subscribe(_ topics: [String]) throws {
        guard config.groupId != nil else {
            throw KafkaClientError.invalidArgument("subscribing needs a group id (group.id)")
        }
        subscription = topics.sorted()
        needsRejoin = true
    }

    /// Sets the next offset to read from a partition.
    public func seek(_ partition: KafkaTopicPartition, to offset: Int64) {
        positions[partition] = offset
    }

    /// Moves positions to the earliest (or latest) offsets of the given partitions (all assigned ones for nil).
    public func seek(toOffsetsOf spec: OffsetSpec, partitions: [KafkaTopicPartition]? = nil) async throws {
        let targets = partitions ?? assignment
        guard !targets.isEmpty else { return }
        let offsets = try await KafkaAdmin(cluster: cluster).listOffsets(targets, spec: spec)
        for (tp, offset) in offsets { positions[tp] = offset }
    }

    /// The next offset to read from a partition, if known.
    public func position(_ partition: KafkaTopicPartition) -> Int64? { positions[partition] }

    /// Fetches records, waiting up to `timeout` for some to arrive. Joins or rejoins the group first when
    /// needed.
    public func poll(timeout: Duration) async throws -> [ConsumerRecord] {
        guard !closed else { throw KafkaClientError.closed("the consumer is closed") }
        let deadline = ContinuousClock.now + timeout
        if subscription != nil && (needsRejoin || generationId < 0) { try await joinGroup() }
        try await resolvePositions()
        if config.enableAutoCommit, config.groupId != nil,
           ContinuousClock.now - lastAutoCommit >= .milliseconds(config.autoCommitIntervalMs) {
            try? await commit()
        }
        repeat {
            let remaining = deadline - ContinuousClock.now
            let waitMs = max(0, min(Int64(config.fetchMaxWaitMs), remaining.milliseconds))
            let records = try await fetchOnce(maxWaitMs: Int32(waitMs))
            if !records.isEmpty { return records }
            if needsRejoin { return [] }
            if assignment.isEmpty {
                // Nothing to fetch from: wait instead of spinning.
                try await Task.sleep(for: min(remaining, .milliseconds(100)))
            }
        } while ContinuousClock.now < deadline
        return []
    }

    /// Commits the current positions of the assigned partitions to the group.
    public func commit() async throws {
        let offsets = positions.filter { assignment.contains($0.key) }
        try await commit(offsets)
    }

    /// Commits `offsets` (the next offsets to read) to the group.
    public func commit(_ offsets: [KafkaTopicPartition: Int64]) async throws {
        guard let groupId = config.groupId else {
            throw KafkaClientError.invalidArgument("committing offsets needs a group id (group.id)")
        }
        guard !offsets.isEmpty else { return }
        let coordinator = try await cluster.coordinator(forGroup: groupId)
        let isMember = subscription != nil && generationId >= 0
        try await KafkaAdmin.commit(connection: coordinator, group: groupId, offsets: offsets,
                                    generation: isMember ? generationId : -1, memberId: isMember ? memberId : "")
        lastAutoCommit = ContinuousClock.now
    }

    /// Commits (with auto-commit, unless `commit` is false), leaves the group and stops heartbeats.
    /// The cluster stays open.
    public func close(commit: Bool = true) async {
        guard !closed else { return }
        if commit, config.enableAutoCommit, config.groupId != nil { try? await self.commit() }
        closed = true
        heartbeatTask?.cancel()
        heartbeatTask = nil
        if subscription != nil, generationId >= 0, let groupId = config.groupId {
            try? await leaveGroup(groupId)
        }
    }

    // MARK: Positions and fetching

    private func resolvePositions() async throws {
        let missing = assignment.filter { positions[$0] == nil }
        guard !missing.isEmpty else { return }
        let admin = KafkaAdmin(cluster: cluster)
        if let groupId = config.groupId {
            let committed = try await admin.fetchOffsets(group: groupId, partitions: missing)
            for (tp, offset) in committed where missing.contains(tp) { positions[tp] = offset }
        }
        let stillMissing = missing.filter { positions[$0] == nil }
        guard !stillMissing.isEmpty else { return }
        try await reset(stillMissing, reason: "has no committed offset")
    }

    private func reset(_ partitions: [KafkaTopicPartition], reason: String) async throws {
        let spec: OffsetSpec
        switch config.autoOffsetReset {
        case .earliest: spec = .earliest
        case .latest: spec = .latest
        case .none:
            throw KafkaClientError.invalidArgument(
                "\(partitions.map(\.description).joined(separator: ", ")) \(reason) and auto.offset.reset is none")
        }
        let offsets = try await KafkaAdmin(cluster: cluster).listOffsets(partitions, spec: spec)
        for (tp, offset) in offsets { positions[tp] = offset }
    }

    private func fetchOnce(maxWaitMs: Int32) async throws -> [ConsumerRecord] {
        var byLeader: [Int32: [KafkaTopicPartition]] = [:]
        for tp in assignment where positions[tp] != nil {
            byLeader[try await cluster.leaderId(for: tp), default: []].append(tp)
        }
        var records: [ConsumerRecord] = []
        for (leader, partitions) in byLeader.sorted(by: { $0.key < $1.key }) {
            let connection = try await cluster.connection(to: leader)
            var request = FetchRequest()
            request.replicaId = -1
            request.maxWaitMs = maxWaitMs
            request.minBytes = config.fetchMinBytes
            request.maxBytes = config.fetchMaxBytes
            request.isolationLevel = config.isolationLevel
            request.sessionId = 0
            request.sessionEpoch = -1
            var topics: [String: [FetchRequest.FetchPartition]] = [:]
            for tp in partitions {
                topics[tp.topic, default: []].append(.init(
                    partition: tp.partition, fetchOffset: positions[tp]!, partitionMaxBytes: config.maxPartitionFetchBytes))
            }
            request.topics = topics.keys.sorted().map { .init(topic: $0, partitions: topics[$0]!) }
            let timeout = TimeAmount.milliseconds(Int64(cluster.config.requestTimeoutMs) + Int64(maxWaitMs))
            let response = try await connection.send(request, timeout: timeout)
            try KafkaClientError.check(response.errorCode, "fetch from broker \(leader)")
            for topic in response.responses {
                for partition in topic.partitions {
                    let tp = KafkaTopicPartition(topic: topic.topic, partition: partition.partitionIndex)
                    guard partitions.contains(tp), let position = positions[tp] else { continue }
                    records += try await handleFetched(tp, partition, position: position)
                }
            }
        }
        return records
    }

    private func handleFetched(
        _ tp: KafkaTopicPartition, _ data: FetchResponse.PartitionData, position: Int64
    ) async throws -> [ConsumerRecord] {
        let error = KafkaErrorCode(data.errorCode)
        switch error {
        case .noError:
            break
        case .offsetOutOfRange:
            try await reset([tp], reason: "position \(position) is out of range")
            return []
        case .notLeaderForPartition, .leaderNotAvailable, .unknownTopicOrPartition, .fencedLeaderEpoch,
             .unknownLeaderEpoch:
            _ = try? await cluster.leaderId(for: tp, refresh: true)
            return []
        default:
            throw KafkaClientError.broker(error, "fetch from \(tp)")
        }
        guard let recordsBuffer = data.records, recordsBuffer.readableBytes > 0 else { return [] }
        var reader = RecordBatchReader(recordsBuffer)
        var result: [ConsumerRecord] = []
        var next = position
        while true {
            let batch: RecordBatch?
            do {
                batch = try reader.next()
            } catch {
                throw KafkaClientError.malformedResponse("fetch from \(tp): bad record batch: \(error)")
            }
            guard let batch else { break }
            if batch.header.lastOffset < next { continue }
            if !batch.header.attributes.isControl {
                let records: [Record]
                do {
                    try batch.validateCRC()
                    records = try batch.decodeRecords()
                } catch {
                    throw KafkaClientError.malformedResponse("fetch from \(tp): batch at offset \(batch.header.baseOffset): \(error)")
                }
                for record in records {
                    let offset = batch.offset(of: record)
                    guard offset >= next else { continue }
                    result.append(ConsumerRecord(
                        topicPartition: tp, offset: offset, timestamp: batch.timestamp(of: record),
                        key: record.key.map { Array($0.readableBytesView) },
                        value: record.value.map { Array($0.readableBytesView) },
                        headers: record.headers.map { ($0.key, $0.value.map { Array($0.readableBytesView) }) }))
                }
            }
            next = batch.header.lastOffset + 1
        }
        positions[tp] = next
        return result
    }

    // MARK: Group membership

    private func joinGroup() async throws {
        guard let groupId = config.groupId, let topics = subscription else { return }
        if config.enableAutoCommit, generationId >= 0 { try? await commit() }
        joining = true
        defer { joining = false }
        let metadata = try ConsumerProtocolCodec.encodeSubscription(topics: topics)
        var attempts = 0
        while true {
            let coordinator = try await cluster.coordinator(forGroup: groupId)
            let version = try coordinator.version(for: .joinGroup)
            var join = JoinGroupRequest()
            join.groupId = groupId
            join.sessionTimeoutMs = config.sessionTimeoutMs
            if version >= 1 { join.rebalanceTimeoutMs = config.rebalanceTimeoutMs }
            join.memberId = memberId
            if version >= 5 { join.groupInstanceId = config.groupInstanceId }
            join.protocolType = "consumer"
            join.protocols = [.init(name: RangeAssignor.name, metadata: metadata)]
            let waitMs = Int64(config.rebalanceTimeoutMs) + Int64(cluster.config.requestTimeoutMs)
            let joined = try await coordinator.send(join, version: version, timeout: .milliseconds(waitMs))
            let joinError = KafkaErrorCode(joined.errorCode)
            switch joinError {
            case .noError: break
            case .memberIdRequired:
                memberId = joined.memberId
                continue
            case .unknownMemberId:
                memberId = ""
                attempts = try await backoff(attempts, joinError, "join group '\(groupId)'")
                continue
            case .notCoordinator, .coordinatorNotAvailable, .coordinatorLoadInProgress, .rebalanceInProgress:
                await cluster.forgetCoordinator(groupId)
                attempts = try await backoff(attempts, joinError, "join group '\(groupId)'")
                continue
            default:
                throw KafkaClientError.broker(joinError, "join group '\(groupId)'")
            }
            memberId = joined.memberId
            generationId = joined.generationId

            var assignments: [SyncGroupRequest.SyncGroupRequestAssignment] = []
            if joined.leader == joined.memberId {
                assignments = try await leaderAssignments(joined.members)
            }
            let syncVersion = try coordinator.version(for: .syncGroup)
            var sync = SyncGroupRequest()
            sync.groupId = groupId
            sync.generationId = generationId
            sync.memberId = memberId
            if syncVersion >= 3 { sync.groupInstanceId = config.groupInstanceId }
            if syncVersion >= 5 {
                sync.protocolType = "consumer"
                sync.protocolName = RangeAssignor.name
            }
            sync.assignments = assignments
            let synced = try await coordinator.send(sync, version: syncVersion, timeout: .milliseconds(waitMs))
            let syncError = KafkaErrorCode(synced.errorCode)
            switch syncError {
            case .noError: break
            case .rebalanceInProgress, .illegalGeneration:
                attempts = try await backoff(attempts, syncError, "sync group '\(groupId)'")
                continue
            case .unknownMemberId:
                memberId = ""
                attempts = try await backoff(attempts, syncError, "sync group '\(groupId)'")
                continue
            case .notCoordinator, .coordinatorNotAvailable:
                await cluster.forgetCoordinator(groupId)
                attempts = try await backoff(attempts, syncError, "sync group '\(groupId)'")
                continue
            default:
                throw KafkaClientError.broker(syncError, "sync group '\(groupId)'")
            }
            let assigned: [KafkaTopicPartition]
            do {
                assigned = try ConsumerProtocolCodec.decodeAssignment(synced.assignment)
            } catch {
                throw KafkaClientError.malformedResponse("group '\(groupId)': undecodable assignment: \(error)")
            }
            assignment = assigned
            positions = positions.filter { assigned.contains($0.key) }
            needsRejoin = false
            startHeartbeats(groupId: groupId)
            return
        }
    }

    /// Counts a retriable group error and pauses; gives up with the error after enough attempts.
    private func backoff(_ attempts: Int, _ error: KafkaErrorCode, _ what: String) async throws -> Int {
        guard attempts < max(cluster.config.retries, 10) else { throw KafkaClientError.broker(error, what) }
        try await Task.sleep(for: .milliseconds(cluster.config.retryBackoffMs))
        return attempts + 1
    }

    private func leaderAssignments(
        _ members: [JoinGroupResponse.JoinGroupResponseMember]
    ) async throws -> [SyncGroupRequest.SyncGroupRequestAssignment] {
        var subscriptions: [String: [String]] = [:]
        for member in members {
            // A member whose metadata we cannot read gets nothing rather than failing the whole group.
            subscriptions[member.memberId] = (try? ConsumerProtocolCodec.decodeSubscription(member.metadata))?.topics ?? []
        }
        let allTopics = Array(Set(subscriptions.values.flatMap { $0 })).sorted()
        let snapshot = try await cluster.refreshMetadata(topics: allTopics)
        var counts: [String: Int32] = [:]
        for topic in allTopics {
            if let info = snapshot.topics[topic], info.error == .noError { counts[topic] = Int32(info.partitions.count) }
        }
        let plan = RangeAssignor.assign(subscriptions: subscriptions, partitionCounts: counts)
        return try members.map { member in
            .init(memberId: member.memberId, assignment: try ConsumerProtocolCodec.encodeAssignment(plan[member.memberId] ?? []))
        }
    }

    private func startHeartbeats(groupId: String) {
        guard heartbeatTask == nil else { return }
        let interval = config.heartbeatIntervalMs
        heartbeatTask = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(interval))
                guard let self, !Task.isCancelled else { return }
                await self.heartbeat(groupId: groupId)
            }
        }
    }

    private func heartbeat(groupId: String) async {
        guard !joining, !closed, generationId >= 0 else { return }
        do {
            let coordinator = try await cluster.coordinator(forGroup: groupId)
            let version = try coordinator.version(for: .heartbeat)
            var request = HeartbeatRequest()
            request.groupId = groupId
            request.generationId = generationId
            request.memberId = memberId
            if version >= 3 { request.groupInstanceId = config.groupInstanceId }
            let response = try await coordinator.send(request, version: version)
            switch KafkaErrorCode(response.errorCode) {
            case .noError: break
            case .rebalanceInProgress: needsRejoin = true
            case .unknownMemberId, .fencedInstanceId:
                memberId = ""
                generationId = -1
                needsRejoin = true
            case .illegalGeneration: needsRejoin = true
            case .notCoordinator, .coordinatorNotAvailable: await cluster.forgetCoordinator(groupId)
            default: break
            }
        } catch {
            // A failed heartbeat is retried at the next interval; the session timeout decides membership.
        }
    }

    private func leaveGroup(_ groupId: String) async throws {
        let coordinator = try await cluster.coordinator(forGroup: groupId)
        let version = try coordinator.version(for: .leaveGroup)
        var request = LeaveGroupRequest()
        request.groupId = groupId
        if version >= 3 {
            request.members = [.init(memberId: memberId, groupInstanceId: config.groupInstanceId)]
        } else {
            request.memberId = memberId
        }
        _ = try await coordinator.send(request, version: version)
        generationId = -1
    }
}

extension Duration {
    var milliseconds: Int64 {
        let parts = components
        return parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
    }
}
