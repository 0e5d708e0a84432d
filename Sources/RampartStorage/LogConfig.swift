/// Per-topic log settings, named after Kafka's topic configs (`segment.bytes`, `retention.ms`, …).
///
/// Defaults are Kafka's. `LogManager` holds the broker default (from `log.*` server properties) and
/// per-topic overrides; `init(properties:defaults:)` parses Kafka's topic-config keys.
public struct LogConfig: Hashable, Sendable {
    /// `cleanup.policy`.
    public struct CleanupPolicy: OptionSet, Hashable, Sendable {
        public var rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// Delete whole old segments by time and size.
        public static let delete = CleanupPolicy(rawValue: 1)
        /// Keep the latest record per key.
        public static let compact = CleanupPolicy(rawValue: 2)
    }

    /// `message.timestamp.type`.
    public enum TimestampType: String, Hashable, Sendable {
        case createTime = "CreateTime"
        case logAppendTime = "LogAppendTime"
    }

    /// `segment.bytes`: roll a new segment when the active one would grow past this (default 1 GiB).
    public var segmentBytes: Int = 1_073_741_824
    /// `segment.ms`: roll a new segment after this long (default 7 days).
    public var segmentMs: Int64 = 604_800_000
    /// `index.interval.bytes`: bytes of log between two offset-index entries (default 4096).
    public var indexIntervalBytes: Int = 4096
    /// `retention.ms`: delete segments whose newest record is older (-1: forever; default 7 days).
    public var retentionMs: Int64 = 604_800_000
    /// `retention.bytes`: delete old segments while the log is larger (-1: no limit, the default).
    public var retentionBytes: Int64 = -1
    /// `cleanup.policy` (default `delete`).
    public var cleanupPolicy: CleanupPolicy = .delete
    /// `delete.retention.ms`: how long tombstones survive compaction (default 1 day).
    public var deleteRetentionMs: Int64 = 86_400_000
    /// `min.compaction.lag.ms`: records younger than this are not compacted (default 0).
    public var minCompactionLagMs: Int64 = 0
    /// `flush.messages`: fsync after this many messages even for `acks=1` (default: never).
    public var flushMessages: Int64 = Int64.max
    /// `flush.ms`: fsync when the oldest unflushed message is this old (default: never).
    public var flushMs: Int64 = Int64.max
    /// `message.timestamp.type` (default `CreateTime`).
    public var messageTimestampType: TimestampType = .createTime
    /// `max.message.bytes`: the largest batch accepted (default 1048588).
    public var maxMessageBytes: Int = 1_048_588

    /// Kafka's defaults.
    public init() {}

    /// The topic-config keys this struct understands (others are rejected by `init(properties:defaults:)`).
    public static let knownKeys: Set<String> = [
        "segment.bytes", "segment.ms", "index.interval.bytes", "retention.ms", "retention.bytes", "cleanup.policy",
        "delete.retention.ms", "min.compaction.lag.ms", "flush.messages", "flush.ms", "message.timestamp.type",
        "max.message.bytes", "file.delete.delay.ms", "segment.index.bytes", "segment.jitter.ms",
        "min.cleanable.dirty.ratio", "max.compaction.lag.ms", "preallocate",
    ]

    /// `defaults` with the topic-config `properties` applied. Keys Rampart accepts but ignores:
    /// `file.delete.delay.ms`, `segment.index.bytes`, `segment.jitter.ms`, `min.cleanable.dirty.ratio`,
    /// `max.compaction.lag.ms`, `preallocate`.
    public init(properties: [String: String], defaults: LogConfig = LogConfig()) throws {
        self = defaults
        for (key, value) in properties {
            func int64() throws -> Int64 {
                guard let v = Int64(value.trimmingSpaces) else { throw StorageError.invalidConfig("\(key)=\(value)") }
                return v
            }
            func int(min: Int) throws -> Int {
                guard let v = Int(value.trimmingSpaces), v >= min else { throw StorageError.invalidConfig("\(key)=\(value)") }
                return v
            }
            switch key {
            case "segment.bytes": segmentBytes = try int(min: 14)
            case "segment.ms": segmentMs = try int64()
            case "index.interval.bytes": indexIntervalBytes = try int(min: 0)
            case "retention.ms": retentionMs = try int64()
            case "retention.bytes": retentionBytes = try int64()
            case "cleanup.policy":
                var policy: CleanupPolicy = []
                for part in value.split(separator: ",") {
                    switch part.trimmingSpaces.lowercased() {
                    case "delete": policy.insert(.delete)
                    case "compact": policy.insert(.compact)
                    default: throw StorageError.invalidConfig("\(key)=\(value)")
                    }
                }
                cleanupPolicy = policy
            case "delete.retention.ms": deleteRetentionMs = try int64()
            case "min.compaction.lag.ms": minCompactionLagMs = try int64()
            case "flush.messages": flushMessages = try int64()
            case "flush.ms": flushMs = try int64()
            case "message.timestamp.type":
                guard let t = TimestampType(rawValue: value.trimmingSpaces) else {
                    throw StorageError.invalidConfig("\(key)=\(value)")
                }
                messageTimestampType = t
            case "max.message.bytes": maxMessageBytes = try int(min: 0)
            default:
                guard Self.knownKeys.contains(key) else { throw StorageError.invalidConfig("unknown key \(key)") }
            }
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

/// A topic name and partition index; the log directory is `<topic>-<partition>`.
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// Parses a log directory name `<topic>-<partition>`; nil for other names (including Kafka's
    /// `…-delete`, `…-future` and `…-stray` directories).
    public init?(directoryName name: String) {
        guard let dash = name.lastIndex(of: "-"), dash != name.startIndex,
              let p = Int32(name[name.index(after: dash)...]), p >= 0 else { return nil }
        topic = String(name[..<dash])
        partition = p
    }

    /// `<topic>-<partition>`.
    public var directoryName: String { "\(topic)-\(partition)" }
    public var description: String { directoryName }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }
}

/// The wall clock the log reads for `LogAppendTime`, `segment.ms`, retention and compaction; tests
/// substitute a manual one.
public protocol StorageClock: Sendable {
    /// Milliseconds since the Unix epoch.
    func nowMs() -> Int64
}

/// `CLOCK_REALTIME`.
public struct SystemStorageClock: StorageClock {
    public init() {}
    public func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
