import KafkaProtocol
import RampartStorage

extension Broker {
    /// Creates `__consumer_offsets` if it does not exist yet (compacted, internal,
    /// `offsets.topic.num.partitions` partitions, Kafka's 100 MiB `offsets.topic.segment.bytes`).
    /// Returns NONE, or COORDINATOR_NOT_AVAILABLE when it cannot be created.
    public func ensureOffsetsTopic() async -> KafkaErrorCode {
        if await metadata.current().topics[OffsetManager.topic] != nil { return .noError }
        do {
            try await createTopic(
                name: OffsetManager.topic, partitions: await offsets.partitionCount, replicationFactor: 1,
                configs: ["cleanup.policy": "compact", "segment.bytes": "104857600"], isInternal: true)
            return .noError
        } catch {
            if error.code == .topicAlreadyExists { return .noError }
            logger.error("cannot create \(OffsetManager.topic)", metadata: ["error": "\(error.message)"])
            return .coordinatorNotAvailable
        }
    }

    /// Loads the committed offsets from `__consumer_offsets`. Called once at start-up, after
    /// `reconcileLogs()` and before clients are served.
    public func loadOffsets() async throws {
        let topic = await metadata.current().topics[OffsetManager.topic]
        try await offsets.load(topicPartitionCount: topic.map { Int32($0.partitions.count) })
    }

    /// One pass of offset retention (`offsets.retention.minutes`), then forgets groups that have
    /// neither members nor committed offsets left (Kafka removes them the same way).
    public func expireOffsets() async {
        let activity = await groups.activity()
        await offsets.expire(now: clock(), retentionMs: settings.offsetsRetentionMs, activity: activity)
        await groups.removeEmptyGroups(keeping: await offsets.groupsWithOffsets())
    }

    /// Runs offset retention every `interval` (Kafka's `offsets.retention.check.interval.ms`, 10 minutes)
    /// until the task is cancelled.
    public func runOffsetsExpiration(interval: Duration = .milliseconds(600_000)) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            await expireOffsets()
        }
    }
}
