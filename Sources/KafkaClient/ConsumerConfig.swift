import KafkaProtocol
import NIOCore

/// A consumed record.
public struct ConsumerRecord: Sendable {
    public var topicPartition: KafkaTopicPartition
    public var offset: Int64
    /// Create or log-append time in ms since the epoch.
    public var timestamp: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [(key: String, value: [UInt8]?)]

    public var topic: String { topicPartition.topic }
    public var partition: Int32 { topicPartition.partition }
}

/// What to do when a partition has no committed offset or its position is out of range
/// (`auto.offset.reset`).
public enum OffsetResetPolicy: String, Sendable, CaseIterable {
    case earliest, latest, none
}

/// Consumer settings (Kafka's consumer property names in parentheses).
public struct ConsumerConfig: Sendable {
    /// The group to join when subscribing, and to commit offsets for (`group.id`).
    public var groupId: String?
    /// Static membership (`group.instance.id`).
    public var groupInstanceId: String?
    public var autoOffsetReset: OffsetResetPolicy
    /// Commit positions on rebalance, on close and every `autoCommitIntervalMs` in `poll`.
    public var enableAutoCommit: Bool
    public var autoCommitIntervalMs: Int
    public var sessionTimeoutMs: Int32
    public var rebalanceTimeoutMs: Int32
    public var heartbeatIntervalMs: Int
    public var fetchMaxWaitMs: Int32
    public var fetchMinBytes: Int32
    public var fetchMaxBytes: Int32
    public var maxPartitionFetchBytes: Int32
    /// 0 read_uncommitted, 1 read_committed (`isolation.level`).
    public var isolationLevel: Int8

    public init(
        groupId: String? = nil, groupInstanceId: String? = nil, autoOffsetReset: OffsetResetPolicy = .latest,
        enableAutoCommit: Bool = true, autoCommitIntervalMs: Int = 5_000, sessionTimeoutMs: Int32 = 45_000,
        rebalanceTimeoutMs: Int32 = 60_000, heartbeatIntervalMs: Int = 3_000, fetchMaxWaitMs: Int32 = 500,
        fetchMinBytes: Int32 = 1, fetchMaxBytes: Int32 = 52_428_800, maxPartitionFetchBytes: Int32 = 1_048_576,
        isolationLevel: Int8 = 0
    ) {
        self.groupId = groupId
        self.groupInstanceId = groupInstanceId
        self.autoOffsetReset = autoOffsetReset
        self.enableAutoCommit = enableAutoCommit
        self.autoCommitIntervalMs = autoCommitIntervalMs
        self.sessionTimeoutMs = sessionTimeoutMs
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.fetchMaxWaitMs = fetchMaxWaitMs
        self.fetchMinBytes = fetchMinBytes
        self.fetchMaxBytes = fetchMaxBytes
        self.maxPartitionFetchBytes = maxPartitionFetchBytes
        self.isolationLevel = isolationLevel
    }

    /// Reads the consumer keys of client properties; bad values are errors naming the key.
    public init(properties: [String: String], base: ConsumerConfig = ConsumerConfig()) throws {
        self = base
        if let id = properties["group.id"] { groupId = id }
        if let id = properties["group.instance.id"] { groupInstanceId = id }
        if let raw = properties["auto.offset.reset"] {
            guard let policy = OffsetResetPolicy(rawValue: raw.trimmingWhitespace().lowercased()) else {
                throw KafkaClientError.configuration("auto.offset.reset: '\(raw)' is not one of earliest, latest, none")
            }
            autoOffsetReset = policy
        }
        enableAutoCommit = try ClientConfig.bool(properties, "enable.auto.commit") ?? enableAutoCommit
        autoCommitIntervalMs = try ClientConfig.int(properties, "auto.commit.interval.ms", min: 0) ?? autoCommitIntervalMs
        sessionTimeoutMs = try Self.int32(properties, "session.timeout.ms", min: 1) ?? sessionTimeoutMs
        heartbeatIntervalMs = try ClientConfig.int(properties, "heartbeat.interval.ms", min: 1) ?? heartbeatIntervalMs
        rebalanceTimeoutMs = try Self.int32(properties, "max.poll.interval.ms", min: 1) ?? rebalanceTimeoutMs
        fetchMaxWaitMs = try Self.int32(properties, "fetch.max.wait.ms", min: 0) ?? fetchMaxWaitMs
        fetchMinBytes = try Self.int32(properties, "fetch.min.bytes", min: 0) ?? fetchMinBytes
        fetchMaxBytes = try Self.int32(properties, "fetch.max.bytes", min: 1) ?? fetchMaxBytes
        maxPartitionFetchBytes = try Self.int32(properties, "max.partition.fetch.bytes", min: 1) ?? maxPartitionFetchBytes
        if let raw = properties["isolation.level"] {
            switch raw.trimmingWhitespace().lowercased() {
            case "read_uncommitted": isolationLevel = 0
            case "read_committed": isolationLevel = 1
            default: throw KafkaClientError.configuration("isolation.level: '\(raw)' is not read_uncommitted or read_committed")
            }
        }
    }

    private static func int32(_ properties: [String: String], _ key: String, min: Int) throws -> Int32? {
        guard let value = try ClientConfig.int(properties, key, min: min) else { return nil }
        guard let narrowed = Int32(exactly: value) else {
            throw KafkaClientError.configuration("\(key): '\(value)' is too large")
        }
        return narrowed
    }
}
