import KafkaProtocol
import Logging
import NIOCore
import RampartAuthorizer
import RampartMetadata
import RampartSASL
import RampartStorage

/// A listener as published to clients (Metadata, FindCoordinator).
public struct AdvertisedListener: Sendable, Hashable {
    public var name: String
    public var host: String
    public var port: Int32

    public init(name: String, host: String, port: Int32) {
        self.name = name
        self.host = host
        self.port = port
    }
}

/// The broker settings handlers need, taken from the validated server configuration.
public struct BrokerSettings: Sendable {
    public var nodeID: Int32
    public var advertisedListeners: [AdvertisedListener]
    public var numPartitions: Int32 = 1
    public var defaultReplicationFactor: Int16 = 1
    public var autoCreateTopics = true
    public var deleteTopicEnable = true
    /// fsync before acknowledging acks=all (Rampart's durability default).
    public var flushOnAckAll = true
    public var offsetsTopicPartitions: Int32 = 50
    public var offsetsRetentionMs: Int64 = 7 * 24 * 3_600_000
    public var group = GroupCoordinatorConfig()
    /// Every broker config key with its value as DescribeConfigs reports it (from `server.properties`,
    /// else the default). Sensitive values are never stored here.
    public var brokerConfigs: [BrokerConfigEntry] = []
    /// Listeners whose traffic is encrypted (SSL, SASL_SSL): SCRAM credentials may be changed only there.
    public var encryptedListeners: Set<String> = []
    /// `rampart.insecure.allow.credential.changes.without.tls`.
    public var allowCredentialChangesWithoutTLS = false
    /// Refuses new partitions that would leave fewer descriptors than its reserve (the server passes the
    /// process's limit and `rampart.file.descriptors.reserve`; the default checks nothing).
    public var fileDescriptors: FileDescriptorBudget = .unlimited

    public init(nodeID: Int32, advertisedListeners: [AdvertisedListener]) {
        self.nodeID = nodeID
        self.advertisedListeners = advertisedListeners
    }
}

/// One broker config key as DescribeConfigs reports it.
public struct BrokerConfigEntry: Sendable, Hashable {
    public var name: String
    /// The value set in `server.properties`; nil when not set or sensitive.
    public var explicitValue: String?
    /// Whether the key is set in `server.properties` (true even for a sensitive key, whose value is hidden).
    public var isExplicit: Bool
    /// The default; nil when none or sensitive.
    public var defaultValue: String?
    public var isSensitive: Bool
    /// Kafka's `ConfigType` code (DescribeConfigs v3+).
    public var typeCode: Int8
    public var documentation: String

    public init(name: String, explicitValue: String?, isExplicit: Bool, defaultValue: String?, isSensitive: Bool,
                typeCode: Int8, documentation: String) {
        self.name = name
        self.explicitValue = isSensitive ? nil : explicitValue
        self.isExplicit = isExplicit
        self.defaultValue = isSensitive ? nil : defaultValue
        self.isSensitive = isSensitive
        self.typeCode = typeCode
        self.documentation = documentation
    }
}

/// Everything the API handlers share: settings, the metadata store, the logs, the group coordinator,
/// the committed offsets and the producer id allocator.
public final class Broker: Sendable {
    public let settings: BrokerSettings
    public let metadata: any MetadataStore
    public let logs: LogManager
    public let groups: GroupCoordinator
    /// Committed offsets, persisted in `__consumer_offsets`.
    public let offsets: OffsetManager
    public let producerIDs: ProducerIDAllocator
    public let logger: Logger
    /// Milliseconds since the epoch.
    public let clock: @Sendable () -> Int64
    /// Serialises changes to topics (create, delete, partitions, configs) so the metadata store and the
    /// live logs see them in the same order.
    let topicChanges = AsyncSerialQueue()
    /// Serialises dynamic ACL changes so the metadata store and the authorizer see them in one order.
    let aclChanges = AsyncSerialQueue()
    /// Signalled after every append, for fetch long polls.
    public let appended = AppendSignal()
    /// Decides, per request, what its principal may do (see `Broker+Authorization.swift`): every
    /// handler checks it before reading or writing anything.
    public let authorizer: Authorizer
    /// Decoy credentials for users without one (`scramCredentialSnapshot`) when the metadata holds no
    /// decoy key (the server stores one at start-up): one key for the broker's life.
    let scramDecoys = SCRAMDecoys()

    public static let consumerOffsetsTopic = "__consumer_offsets"
    public static let transactionStateTopic = "__transaction_state"

    /// `authorizer` defaults to one that allows everything (Kafka without an authorizer): the server
    /// passes the configured one, which is on by default (`rampart.authorizer.enabled`).
    public init(settings: BrokerSettings, metadata: any MetadataStore, logs: LogManager, producerIDBlockEnd: Int64,
                logger: Logger, clock: @escaping @Sendable () -> Int64, authorizer: Authorizer = .disabled()) {
        self.settings = settings
        self.authorizer = authorizer
        self.metadata = metadata
        self.logs = logs
        self.logger = logger
        self.clock = clock
        self.groups = GroupCoordinator(config: settings.group, clock: clock)
        self.offsets = OffsetManager(logs: logs, partitionCount: settings.offsetsTopicPartitions, logger: logger)
        self.producerIDs = ProducerIDAllocator(reservedUpTo: producerIDBlockEnd) { end in
            _ = try await metadata.update { $0.producerIDBlockEnd = end }
        }
    }

    /// The listener this request came in on, as advertised (clients are given addresses on it).
    public func advertised(for listenerName: String) -> AdvertisedListener? {
        settings.advertisedListeners.first { $0.name == listenerName } ?? settings.advertisedListeners.first
    }

    // MARK: - Topics

    /// Kafka's topic name rules: 1–249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
    public static func validateTopicName(_ name: String) -> String? {
        if name.isEmpty { return "topic name is empty" }
        if name == "." || name == ".." { return "topic name cannot be '.' or '..'" }
        if name.utf8.count > 249 { return "topic name is longer than 249 characters" }
        let legal = name.utf8.allSatisfy { c in
            (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x2E || c == 0x5F || c == 0x2D
        }
        return legal ? nil : "topic name '\(name)' has characters other than ASCII alphanumerics, '.', '_' and '-'"
    }

    /// Why a topic creation is refused.
    public struct TopicError: Error, Sendable {
        public var code: KafkaErrorCode
        public var message: String
    }

    /// Creates a topic: validates it, creates its partition logs, then records it in the metadata store
    /// (`createTopics` for one topic). `partitions`/`replicationFactor` of -1 take the broker defaults.
    @discardableResult
    public func createTopic(name: String, partitions: Int32 = -1, replicationFactor: Int16 = -1,
                            configs: [String: String] = [:], validateOnly: Bool = false,
                            isInternal: Bool = false) async throws(TopicError) -> TopicMetadata {
        let request = NewTopicRequest(name: name, partitions: partitions, replicationFactor: replicationFactor,
                                      configs: configs, isInternal: isInternal)
        return try await createTopics([request], validateOnly: validateOnly)[0].get()
    }

    /// Refuses `newPartitions` more partitions when they would eat into the descriptor reserve
    /// (POLICY_VIOLATION, as Kafka answers a creation policy's refusal, with the figures in the message).
    func checkFileDescriptors(newPartitions: Int, topic: String, open: Int? = nil) throws(TopicError) {
        guard let problem = settings.fileDescriptors.refusal(newPartitions: newPartitions, open: open) else { return }
        logger.error("refusing new partitions: too few file descriptors left", metadata: ["topic": "\(topic)", "reason": "\(problem)"])
        throw TopicError(code: .policyViolation, message: problem)
    }

    /// Deletes a topic: removes it from the metadata store, then deletes its logs.
    public func deleteTopic(name: String) async throws(TopicError) {
        guard settings.deleteTopicEnable else { throw TopicError(code: .topicDeletionDisabled, message: "delete.topic.enable is false") }
        try await serializingTopicChanges { () async throws(TopicError) in
            guard let topic = await metadata.current().topics[name] else {
                throw TopicError(code: .unknownTopicOrPartition, message: "topic '\(name)' does not exist")
            }
            do {
                _ = try await metadata.update { $0.topics[name] = nil }
            } catch {
                throw TopicError(code: .kafkaStorageError, message: "cannot record deletion of '\(name)': \(error)")
            }
            for partition in topic.partitions {
                try? await logs.deleteLog(TopicPartition(topic: name, partition: partition.partition))
            }
            await logs.setTopicConfig(name, nil)
        }
        await offsets.deleteOffsets(ofTopic: name, now: clock())
        logger.info("deleted topic", metadata: ["topic": "\(name)"])
    }

    /// Brings the logs in line with the metadata after start-up: creates missing partition logs (a crash
    /// between recording a topic and creating its logs) and deletes logs of topics that no longer exist
    /// (a crash between recording a deletion and deleting the logs). Applies per-topic configs.
    public func reconcileLogs() async throws {
        let image = await metadata.current()
        for (name, topic) in image.topics {
            if !topic.configs.isEmpty, let config = try? TopicConfigCatalog.logConfig(topic.configs, defaults: await logs.config(forTopic: "")) {
                await logs.setTopicConfig(name, config)
            }
            for partition in topic.partitions {
                let tp = TopicPartition(topic: name, partition: partition.partition)
                if await logs.log(for: tp) == nil {
                    logger.warning("creating missing partition log", metadata: ["partition": "\(tp)"])
                    _ = try await logs.createLog(tp)
                }
            }
        }
        for (tp, _) in await logs.allLogs where image.topics[tp.topic]?.partitions.contains(where: { $0.partition == tp.partition }) != true {
            logger.warning("deleting the log of a partition that is not in the metadata", metadata: ["partition": "\(tp)"])
            try await logs.deleteLog(tp)
        }
    }
}
