import RampartStorage

/// Where a config value comes from, as DescribeConfigs v1+ reports it (Kafka's `ConfigSource`).
public enum ConfigSource: Int8, Sendable, Hashable {
    case unknown = 0
    /// Set on the topic (CreateTopics, AlterConfigs).
    case dynamicTopicConfig = 1
    /// Set at runtime for this broker.
    case dynamicBrokerConfig = 2
    /// Set at runtime as the cluster-wide broker default.
    case dynamicDefaultBrokerConfig = 3
    /// Set in `server.properties`.
    case staticBrokerConfig = 4
    /// Kafka's default.
    case defaultConfig = 5
}

/// Kafka's config value types with their DescribeConfigs v3+ `ConfigType` codes.
public enum ConfigValueType: Sendable, Hashable {
    case boolean
    case int(ClosedRange<Int64>)
    case long(ClosedRange<Int64>)
    case double(ClosedRange<Double>)
    /// A comma-separated list whose items come from `allowed`.
    case list(allowed: [String])
    /// One of a fixed set (case-insensitive, normalised to the listed spelling).
    case choice([String])

    /// Kafka's `ConfigType` code: BOOLEAN 1, STRING 2, INT 3, LONG 5, DOUBLE 6, LIST 7.
    public var kafkaTypeCode: Int8 {
        switch self {
        case .boolean: return 1
        case .choice: return 2
        case .int: return 3
        case .long: return 5
        case .double: return 6
        case .list: return 7
        }
    }

    /// Whether IncrementalAlterConfigs may APPEND to or SUBTRACT from values of this type.
    public var isList: Bool {
        if case .list = self { return true }
        return false
    }
}

/// A broker-level key that supplies a topic config's default, and the factor turning its value into the
/// topic config's unit (`log.retention.hours` × 3 600 000 = `retention.ms`).
public struct BrokerSynonym: Sendable, Hashable {
    public var name: String
    public var multiplier: Int64
    /// Kafka's default for the broker key (nil: none), used when the broker does not define the key itself.
    public var kafkaDefault: String?

    public init(_ name: String, multiplier: Int64 = 1, default kafkaDefault: String?) {
        self.name = name
        self.multiplier = multiplier
        self.kafkaDefault = kafkaDefault
    }
}

/// One topic config Rampart honours or faithfully reports: Kafka's name, type, default, documentation and
/// the broker keys it falls back to (Kafka's `ServerTopicConfigSynonyms`), in precedence order.
public struct TopicConfigDefinition: Sendable {
    public var name: String
    public var type: ConfigValueType
    /// Kafka's default as it prints it.
    public var defaultValue: String
    public var documentation: String
    public var synonyms: [BrokerSynonym]
    /// Values Rampart refuses although Kafka accepts them, with the reason (a single node cannot honour them).
    public var unsupported: (@Sendable (String) -> String?)?

    /// Validates and normalises a value; the error text names the key and the value, as Kafka's does.
    public func validate(_ raw: String) -> Result<String, ConfigValidationError> {
        let value = raw.trimmingSpaces
        func invalid(_ reason: String) -> Result<String, ConfigValidationError> {
            .failure(ConfigValidationError("Invalid value \(raw) for configuration \(name): \(reason)"))
        }
        let normalised: String
        switch type {
        case .boolean:
            switch value.lowercased() {
            case "true", "false": normalised = value.lowercased()
            default: return invalid("Expected value to be either true or false")
            }
        case .int(let range), .long(let range):
            guard let n = Int64(value) else {
                return invalid("Not a number of type \(type.kafkaTypeCode == 3 ? "INT" : "LONG")")
            }
            guard range.contains(n) else {
                return invalid(n < range.lowerBound ? "Value must be at least \(range.lowerBound)" : "Value must be no more than \(range.upperBound)")
            }
            normalised = String(n)
        case .double(let range):
            guard let d = Double(value) else { return invalid("Not a number of type DOUBLE") }
            guard range.contains(d) else { return invalid("Value must be in [\(range.lowerBound), \(range.upperBound)]") }
            normalised = value
        case .list(let allowed):
            let items = value.split(separator: ",").map { $0.trimmingSpaces.lowercased() }.filter { !$0.isEmpty }
            for item in items where !allowed.contains(item) {
                return invalid("String must be one of: \(allowed.joined(separator: ", "))")
            }
            var seen: [String] = []
            for item in items where !seen.contains(item) { seen.append(item) }
            normalised = seen.joined(separator: ",")
        case .choice(let options):
            guard let match = options.first(where: { $0.lowercased() == value.lowercased() }) else {
                return invalid("String must be one of: \(options.joined(separator: ", "))")
            }
            normalised = match
        }
        if let reason = unsupported?(normalised) { return invalid(reason) }
        return .success(normalised)
    }
}

/// Why a config value was refused.
public struct ConfigValidationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The topic configs of the broker. Every key `LogConfig` knows, plus the Kafka keys clients commonly
/// read whose value a single-node Rampart honours: `compression.type` (only `producer`: batches are
/// stored as the producer compressed them), `min.insync.replicas` (only 1: there is one replica),
/// `unclean.leader.election.enable` (a single replica is always in sync, so either value holds).
public enum TopicConfigCatalog {
    static let long: ClosedRange<Int64> = Int64.min...Int64.max
    static let nonNegativeLong: ClosedRange<Int64> = 0...Int64.max
    static let maxLong = String(Int64.max)
    static let minusOne: Int64 = -1
    static let positiveLong: ClosedRange<Int64> = 1...Int64.max
    static let nonNegativeInt: ClosedRange<Int64> = 0...Int64(Int32.max)
    static let positiveInt: ClosedRange<Int64> = 1...Int64(Int32.max)
    static let segmentBytesRange: ClosedRange<Int64> = 14...Int64(Int32.max)
    static let indexBytesRange: ClosedRange<Int64> = 4...Int64(Int32.max)

    /// Definitions sorted by name.
    public static let all: [TopicConfigDefinition] = [
        TopicConfigDefinition(name: "cleanup.policy", type: .list(allowed: ["compact", "delete"]), defaultValue: "delete",
              documentation: "delete removes old segments by time and size; compact keeps the latest record per key; both may be set.",
              synonyms: [.init("log.cleanup.policy", default: "delete")]),
        TopicConfigDefinition(name: "compression.type", type: .choice(["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]),
              defaultValue: "producer",
              documentation: "Final compression of the topic's batches; Rampart keeps the producer's compression (producer).",
              synonyms: [.init("compression.type", default: "producer")],
              unsupported: { (value: String) -> String? in value == "producer" ? nil : "Rampart stores batches as the producer compressed them; only producer is supported" }),
        TopicConfigDefinition(name: "delete.retention.ms", type: .long(nonNegativeLong), defaultValue: "86400000",
              documentation: "How long tombstones of a compacted topic are retained.",
              synonyms: [.init("log.cleaner.delete.retention.ms", default: "86400000")]),
        TopicConfigDefinition(name: "file.delete.delay.ms", type: .long(nonNegativeLong), defaultValue: "60000",
              documentation: "Accepted for compatibility; Rampart removes deleted segment files at once.",
              synonyms: [.init("log.segment.delete.delay.ms", default: "60000")]),
        TopicConfigDefinition(name: "flush.messages", type: .long(positiveLong), defaultValue: maxLong,
              documentation: "fsync the log after this many messages.",
              synonyms: [.init("log.flush.interval.messages", default: maxLong)]),
        TopicConfigDefinition(name: "flush.ms", type: .long(nonNegativeLong), defaultValue: maxLong,
              documentation: "fsync the log when its oldest unflushed message is this old.",
              synonyms: [.init("log.flush.interval.ms", default: nil), .init("log.flush.scheduler.interval.ms", default: maxLong)]),
        TopicConfigDefinition(name: "index.interval.bytes", type: .int(nonNegativeInt), defaultValue: "4096",
              documentation: "Bytes of log between two offset index entries.",
              synonyms: [.init("log.index.interval.bytes", default: "4096")]),
        TopicConfigDefinition(name: "max.compaction.lag.ms", type: .long(positiveLong), defaultValue: maxLong,
              documentation: "Accepted for compatibility; not used by Rampart's cleaner.",
              synonyms: [.init("log.cleaner.max.compaction.lag.ms", default: maxLong)]),
        TopicConfigDefinition(name: "max.message.bytes", type: .int(nonNegativeInt), defaultValue: "1048588",
              documentation: "The largest record batch size accepted.",
              synonyms: [.init("message.max.bytes", default: "1048588")]),
        TopicConfigDefinition(name: "message.timestamp.type", type: .choice(["CreateTime", "LogAppendTime"]), defaultValue: "CreateTime",
              documentation: "Whether batch timestamps are the producer's (CreateTime) or the broker's (LogAppendTime).",
              synonyms: [.init("log.message.timestamp.type", default: "CreateTime")]),
        TopicConfigDefinition(name: "min.cleanable.dirty.ratio", type: .double(0...1), defaultValue: "0.5",
              documentation: "Accepted for compatibility; not used by Rampart's cleaner.",
              synonyms: [.init("log.cleaner.min.cleanable.ratio", default: "0.5")]),
        TopicConfigDefinition(name: "min.compaction.lag.ms", type: .long(nonNegativeLong), defaultValue: "0",
              documentation: "Records younger than this are not compacted.",
              synonyms: [.init("log.cleaner.min.compaction.lag.ms", default: "0")]),
        TopicConfigDefinition(name: "min.insync.replicas", type: .int(positiveInt), defaultValue: "1",
              documentation: "Replicas that must acknowledge an acks=all write; a single node has one.",
              synonyms: [.init("min.insync.replicas", default: "1")],
              unsupported: { (value: String) -> String? in value == "1" ? nil : "a single-node broker has 1 replica per partition" }),
        TopicConfigDefinition(name: "preallocate", type: .boolean, defaultValue: "false",
              documentation: "Accepted for compatibility; Rampart does not preallocate segment files.",
              synonyms: [.init("log.preallocate", default: "false")]),
        TopicConfigDefinition(name: "retention.bytes", type: .long(long), defaultValue: "-1",
              documentation: "Delete old segments while a partition is larger than this; -1 means no limit.",
              synonyms: [.init("log.retention.bytes", default: "-1")]),
        TopicConfigDefinition(name: "retention.ms", type: .long(minusOne...Int64.max), defaultValue: "604800000",
              documentation: "Delete segments whose newest record is older than this; -1 keeps them forever.",
              synonyms: [.init("log.retention.ms", default: nil), .init("log.retention.minutes", multiplier: 60_000, default: nil),
                         .init("log.retention.hours", multiplier: 3_600_000, default: "168")]),
        TopicConfigDefinition(name: "segment.bytes", type: .int(segmentBytesRange), defaultValue: "1073741824",
              documentation: "Roll a new segment when the active one reaches this size.",
              synonyms: [.init("log.segment.bytes", default: "1073741824")]),
        TopicConfigDefinition(name: "segment.index.bytes", type: .int(indexBytesRange), defaultValue: "10485760",
              documentation: "Accepted for compatibility; Rampart sizes index files itself.",
              synonyms: [.init("log.index.size.max.bytes", default: "10485760")]),
        TopicConfigDefinition(name: "segment.jitter.ms", type: .long(nonNegativeLong), defaultValue: "0",
              documentation: "Accepted for compatibility; Rampart rolls segments without jitter.",
              synonyms: [.init("log.roll.jitter.ms", default: nil), .init("log.roll.jitter.hours", multiplier: 3_600_000, default: "0")]),
        TopicConfigDefinition(name: "segment.ms", type: .long(positiveLong), defaultValue: "604800000",
              documentation: "Roll a new segment after this long.",
              synonyms: [.init("log.roll.ms", default: nil), .init("log.roll.hours", multiplier: 3_600_000, default: "168")]),
        TopicConfigDefinition(name: "unclean.leader.election.enable", type: .boolean, defaultValue: "false",
              documentation: "Whether an out-of-sync replica may become leader; a single node's only replica is always in sync.",
              synonyms: [.init("unclean.leader.election.enable", default: "false")]),
    ]

    /// Definitions by name.
    public static let byName: [String: TopicConfigDefinition] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// The broker keys that supply topic defaults, grouped as Kafka lists synonyms (`log.retention.ms`,
    /// `log.retention.minutes`, `log.retention.hours`), for describing broker configs.
    public static let brokerSynonymGroups: [[BrokerSynonym]] = all.map(\.synonyms)

    /// Validates a whole set of topic config overrides, normalising the values. Unknown keys are refused
    /// with Kafka's message.
    public static func validate(_ configs: [String: String]) -> Result<[String: String], ConfigValidationError> {
        var result: [String: String] = [:]
        for (key, value) in configs.sorted(by: { $0.key < $1.key }) {
            guard let definition = byName[key] else { return .failure(ConfigValidationError("Unknown topic config name: \(key)")) }
            switch definition.validate(value) {
            case .success(let v): result[key] = v
            case .failure(let e): return .failure(e)
            }
        }
        return .success(result)
    }

    /// The `LogConfig` of a topic with these (validated) overrides over the broker default; keys that
    /// `LogConfig` does not know (reported-only keys) are left out.
    public static func logConfig(_ overrides: [String: String], defaults: LogConfig) throws -> LogConfig {
        try LogConfig(properties: overrides.filter { LogConfig.knownKeys.contains($0.key) }, defaults: defaults)
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
