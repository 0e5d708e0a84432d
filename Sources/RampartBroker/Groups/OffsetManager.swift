import KafkaProtocol
import Logging
import NIOCore
import RampartStorage

/// A group's activity as the offset retention needs it.
public struct GroupActivity: Sendable, Hashable {
    public var state: GroupState
    /// The last time the group was seen with members (nil: not since the broker started).
    public var lastActiveAt: Int64?

    public init(state: GroupState, lastActiveAt: Int64?) {
        self.state = state
        self.lastActiveAt = lastActiveAt
    }
}

/// The committed offsets of every group, kept in memory and persisted in the compacted internal topic
/// `__consumer_offsets` in Kafka's record format (see `OffsetRecords`). A group's records go to
/// partition `OffsetRecords.partition(forGroup:partitionCount:)`.
///
/// A commit is acknowledged only once its batch is fsynced (`.flushed`); the in-memory view changes
/// after the append succeeds. Concurrent writes may finish out of order, so each entry remembers the
/// log offset of the record it came from and an older record never replaces a newer one (tombstones
/// are remembered the same way while writes are in flight).
///
/// `load()` rebuilds the view from the topic at start-up; `expire` writes tombstones for offsets past
/// `offsets.retention.minutes` in groups without members.
public actor OffsetManager {
    private struct Entry: Sendable {
        var logOffset: Int64
        /// nil: deleted (a tombstone kept while other writes are in flight).
        var value: OffsetRecords.Value?
    }

    /// The topic holding committed offsets.
    public static let topic = "__consumer_offsets"

    private let logs: LogManager
    private let logger: Logger
    /// The partitions of `__consumer_offsets`: `offsets.topic.num.partitions`, or the count of the
    /// topic as it exists (a changed setting does not move groups to other partitions, as in Kafka).
    public private(set) var partitionCount: Int32
    private var groups: [String: [TopicPartition: Entry]] = [:]
    private var writesInFlight = 0

    public init(logs: LogManager, partitionCount: Int32, logger: Logger) {
        self.logs = logs
        self.partitionCount = max(1, partitionCount)
        self.logger = logger
    }

    /// The `__consumer_offsets` partition of a group.
    public func partition(forGroup groupID: String) -> Int32 {
        OffsetRecords.partition(forGroup: groupID, partitionCount: partitionCount)
    }

    // MARK: - Reading the view

    /// A group's committed offsets; `partitions` nil means all of them.
    public func committed(groupID: String, partitions: [TopicPartition]? = nil) -> [TopicPartition: OffsetRecords.Value] {
        guard let entries = groups[groupID] else { return [:] }
        var result: [TopicPartition: OffsetRecords.Value] = [:]
        if let partitions {
            for tp in partitions { if let value = entries[tp]?.value { result[tp] = value } }
        } else {
            for (tp, entry) in entries { if let value = entry.value { result[tp] = value } }
        }
        return result
    }

    /// Groups that have at least one committed offset.
    public func groupsWithOffsets() -> Set<String> {
        Set(groups.compactMap { group, entries in entries.values.contains { $0.value != nil } ? group : nil })
    }

    /// Whether the group has at least one committed offset.
    public func hasOffsets(_ groupID: String) -> Bool {
        groups[groupID]?.values.contains { $0.value != nil } ?? false
    }

    // MARK: - Writing

    /// Stores offsets of one group atomically (one record batch). Returns the error for every
    /// partition of the commit: NONE, or Kafka's mapping of the append failure.
    public func commit(groupID: String, _ offsets: [(TopicPartition, OffsetRecords.Value)], now: Int64) async -> KafkaErrorCode {
        guard !offsets.isEmpty else { return .noError }
        return await write(groupID: groupID, offsets.map { ($0.0, $0.1) }, now: now)
    }

    /// Deletes committed offsets of a group with tombstones; `partitions` nil deletes all of them.
    /// Returns the partitions whose offsets were deleted, or the error of the write.
    @discardableResult
    public func delete(groupID: String, partitions: [TopicPartition]? = nil, now: Int64) async -> Result<[TopicPartition], KafkaErrorCode> {
        let existing = committed(groupID: groupID, partitions: partitions).keys.sorted()
        guard !existing.isEmpty else { return .success([]) }
        let error = await write(groupID: groupID, existing.map { ($0, nil) }, now: now)
        return error == .noError ? .success(existing) : .failure(error)
    }

    /// Deletes every group's committed offsets on a topic (the topic was deleted, as Kafka does).
    public func deleteOffsets(ofTopic topic: String, now: Int64) async {
        let affected = groups.compactMap { group, entries -> (String, [TopicPartition])? in
            let partitions = entries.filter { $0.key.topic == topic && $0.value.value != nil }.map(\.key)
            return partitions.isEmpty ? nil : (group, partitions)
        }
        for (group, partitions) in affected {
            if case .failure(let error) = await delete(groupID: group, partitions: partitions, now: now) {
                logger.warning("cannot delete the offsets of a deleted topic", metadata: ["group": "\(group)", "topic": "\(topic)", "error": "\(error)"])
            }
        }
    }

    private func write(groupID: String, _ changes: [(TopicPartition, OffsetRecords.Value?)], now: Int64) async -> KafkaErrorCode {
        let tp = TopicPartition(topic: Self.topic, partition: partition(forGroup: groupID))
        guard let log = await logs.log(for: tp) else { return .coordinatorNotAvailable }
        let records = changes.enumerated().map { index, change in
            Record(offsetDelta: Int32(index),
                   key: OffsetRecords.encode(OffsetRecords.Key(group: groupID, topic: change.0.topic, partition: change.0.partition)),
                   value: change.1.map(OffsetRecords.encode))
        }
        let batch: ByteBuffer
        do {
            var buffer = ByteBuffer()
            try RecordBatch(records: records, baseTimestamp: now).write(to: &buffer)
            batch = buffer
        } catch {
            return .invalidCommitOffsetSize
        }
        writesInFlight += 1
        defer {
            writesInFlight -= 1
            if writesInFlight == 0 { purgeTombstones() }
        }
        let result: AppendResult
        do {
            result = try await log.append(batch, durability: .flushed, origin: .coordinator)
        } catch {
            logger.warning("cannot write to \(tp)", metadata: ["group": "\(groupID)", "error": "\(error)"])
            return Self.commitError(Broker.errorCode(error))
        }
        for (index, change) in changes.enumerated() {
            apply(group: groupID, change.0, change.1, logOffset: result.baseOffset + Int64(index))
        }
        return .noError
    }

    /// Kafka's mapping of append errors to OffsetCommit errors.
    static func commitError(_ error: KafkaErrorCode) -> KafkaErrorCode {
        switch error {
        case .unknownTopicOrPartition, .notEnoughReplicas, .notEnoughReplicasAfterAppend: return .coordinatorNotAvailable
        case .notLeaderForPartition, .kafkaStorageError: return .notCoordinator
        case .messageSizeTooLarge, .recordListTooLarge, .invalidFetchSize: return .invalidCommitOffsetSize
        default: return error
        }
    }

    private func apply(group: String, _ tp: TopicPartition, _ value: OffsetRecords.Value?, logOffset: Int64) {
        if let existing = groups[group]?[tp], existing.logOffset > logOffset { return }
        groups[group, default: [:]][tp] = Entry(logOffset: logOffset, value: value)
    }

    private func purgeTombstones() {
        for (group, entries) in groups {
            let live = entries.filter { $0.value.value != nil }
            if live.isEmpty { groups[group] = nil } else if live.count != entries.count { groups[group] = live }
        }
    }

    // MARK: - Loading

    /// Rebuilds the view from every partition of `__consumer_offsets` (which may not exist yet;
    /// `topicPartitionCount` is its partition count when it does).
    /// Returns the number of committed offsets loaded. Records that cannot be decoded are skipped with a
    /// warning; control and transactional batches are skipped (transactional offset commits belong to
    /// the transactions issue).
    @discardableResult
    public func load(topicPartitionCount: Int32? = nil) async throws -> Int {
        if let topicPartitionCount, topicPartitionCount > 0 { partitionCount = topicPartitionCount }
        groups.removeAll()
        for index in 0..<partitionCount {
            guard let log = await logs.log(for: TopicPartition(topic: Self.topic, partition: index)) else { continue }
            try await load(log, partition: index)
        }
        purgeTombstones()
        let count = groups.values.reduce(0) { $0 + $1.count }
        logger.info("loaded committed offsets", metadata: ["offsets": "\(count)", "groups": "\(groups.count)"])
        return count
    }

    private func load(_ log: PartitionLog, partition: Int32) async throws {
        var offset = await log.logStartOffset
        let end = await log.logEndOffset
        while offset < end {
            let read = try await log.read(from: offset, maxBytes: 1 << 20, limit: .logEndOffset)
            var reader = RecordBatchReader(read.records)
            let start = offset
            while let batch = try reader.next() {
                offset = max(offset, batch.header.baseOffset + Int64(batch.header.lastOffsetDelta) + 1)
                if batch.header.attributes.isControl || batch.header.attributes.isTransactional { continue }
                var records = try batch.records()
                while let record = try records.next() {
                    apply(record, logOffset: batch.offset(of: record), partition: partition)
                }
            }
            if offset == start { break }
        }
    }

    private func apply(_ record: Record, logOffset: Int64, partition: Int32) {
        guard let keyBytes = record.key else { return }
        do {
            switch try OffsetRecords.decodeKey(keyBytes) {
            case .groupMetadata:
                return
            case .offsetCommit(let key):
                let value = try record.value.map(OffsetRecords.decodeValue)
                apply(group: key.group, TopicPartition(topic: key.topic, partition: key.partition), value, logOffset: logOffset)
            }
        } catch {
            logger.warning("skipping an undecodable record", metadata: [
                "partition": "\(Self.topic)-\(partition)", "offset": "\(logOffset)", "error": "\(error)"])
        }
    }

    // MARK: - Retention

    /// Deletes (with tombstones) the offsets that `offsets.retention.minutes` has expired: in groups
    /// without members, an offset expires `retentionMs` after the later of its commit and the last time
    /// the group had members (or at its explicit expire timestamp, OffsetCommit v2–v4). Offsets of
    /// groups with members never expire. Returns the number of offsets deleted.
    @discardableResult
    public func expire(now: Int64, retentionMs: Int64, activity: [String: GroupActivity]) async -> Int {
        var expired: [String: [TopicPartition]] = [:]
        for (group, entries) in groups {
            let active = activity[group]
            if let state = active?.state, state != .empty, state != .dead { continue }
            let lastActive = active?.lastActiveAt ?? Int64.min
            for (tp, entry) in entries {
                guard let value = entry.value else { continue }
                let isExpired: Bool
                if let expireAt = value.expireTimestamp {
                    isExpired = now >= expireAt
                } else {
                    isExpired = now - max(value.commitTimestamp, lastActive) >= retentionMs
                }
                if isExpired { expired[group, default: []].append(tp) }
            }
        }
        var count = 0
        for (group, partitions) in expired {
            if case .success(let deleted) = await delete(groupID: group, partitions: partitions, now: now) {
                count += deleted.count
                logger.info("expired committed offsets", metadata: ["group": "\(group)", "partitions": "\(deleted.count)"])
            }
        }
        return count
    }
}
