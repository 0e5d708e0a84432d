import KafkaProtocol
import RampartMetadata
import RampartStorage

/// One topic to create, as a CreateTopics request names it.
public struct NewTopicRequest: Sendable {
    public var name: String
    /// -1 takes `num.partitions`.
    public var partitions: Int32
    /// -1 takes `default.replication.factor`.
    public var replicationFactor: Int16
    public var configs: [String: String]
    public var isInternal: Bool

    public init(name: String, partitions: Int32 = -1, replicationFactor: Int16 = -1, configs: [String: String] = [:],
                isInternal: Bool = false) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
        self.isInternal = isInternal
    }
}

extension Broker {
    /// A validated topic waiting to be created.
    private struct PreparedTopic {
        var index: Int
        var topic: TopicMetadata
        var overrides: [String: String]
        var logConfig: LogConfig
        var partitions: [TopicPartition] { topic.partitions.map { TopicPartition(topic: topic.name, partition: $0.partition) } }
    }

    /// Creates topics (one CreateTopics request): each is validated on its own and fails on its own, with
    /// the Kafka error of its problem. The partition logs of every valid topic are created first (the log
    /// directories fsynced once for all of them), then all the topics are recorded in ONE metadata update
    /// — one rewrite and fsync of the metadata file per request, not per topic. A failure removes the logs,
    /// and a crash in between leaves logs the start-up reconciliation deletes: never a topic recorded
    /// without its logs.
    ///
    /// New partitions are refused (POLICY_VIOLATION) when they would eat into the file descriptor reserve
    /// (`BrokerSettings.fileDescriptors`), counting the topics of the request before them.
    public func createTopics(_ requests: [NewTopicRequest], validateOnly: Bool = false) async -> [Result<TopicMetadata, TopicError>] {
        var results = [Result<TopicMetadata, TopicError>](repeating: .failure(TopicError(code: .unknownServerError, message: "not created")),
                                                          count: requests.count)
        var prepared: [PreparedTopic] = []
        for (index, request) in requests.enumerated() {
            do {
                prepared.append(try await prepare(request, index: index))
            } catch {
                results[index] = .failure(error)
            }
        }
        prepared = admitWithinDescriptorBudget(prepared, results: &results)
        if validateOnly {
            for topic in prepared { results[topic.index] = .success(topic.topic) }
            return results
        }
        // The body reports per topic in `results` and never throws.
        try? await serializingTopicChanges { () async throws(TopicError) in
            let image = await metadata.current()
            var ready: [PreparedTopic] = []
            for topic in prepared {
                if image.topics[topic.topic.name] != nil {
                    results[topic.index] = .failure(TopicError(code: .topicAlreadyExists, message: "topic '\(topic.topic.name)' already exists"))
                } else {
                    ready.append(topic)
                }
            }
            ready = admitWithinDescriptorBudget(ready, results: &results)
            var created: [PreparedTopic] = []
            for topic in ready {
                let name = topic.topic.name
                if !topic.overrides.isEmpty { await logs.setTopicConfig(name, topic.logConfig) }
                do {
                    try await logs.createLogs(topic.partitions, syncLogDirectories: false)
                    created.append(topic)
                } catch {
                    if !topic.overrides.isEmpty { await logs.setTopicConfig(name, nil) }
                    logger.error("cannot create the logs of a new topic", metadata: ["topic": "\(name)", "error": "\(error)"])
                    results[topic.index] = .failure(TopicError(code: .kafkaStorageError, message: "cannot create the logs of topic '\(name)': \(error)"))
                }
            }
            guard !created.isEmpty else { return }
            let topics = created.map(\.topic)
            do {
                try await logs.syncLogDirectories()
                _ = try await metadata.update { image in
                    for topic in topics { image.topics[topic.name] = topic }
                }
            } catch {
                logger.error("cannot record new topics", metadata: ["topics": "\(created.map(\.topic.name))", "error": "\(error)"])
                for topic in created {
                    for tp in topic.partitions { try? await logs.deleteLog(tp) }
                    if !topic.overrides.isEmpty { await logs.setTopicConfig(topic.topic.name, nil) }
                    results[topic.index] = .failure(TopicError(code: .kafkaStorageError, message: "cannot record topic '\(topic.topic.name)': \(error)"))
                }
                return
            }
            for topic in created {
                results[topic.index] = .success(topic.topic)
                logger.info("created topic", metadata: ["topic": "\(topic.topic.name)", "partitions": "\(topic.topic.partitions.count)"])
            }
        }
        return results
    }

    /// Validates one topic: name, partition count, replication factor, configs, not existing yet.
    private func prepare(_ request: NewTopicRequest, index: Int) async throws(TopicError) -> PreparedTopic {
        let name = request.name
        if let problem = Self.validateTopicName(name) { throw TopicError(code: .invalidTopic, message: problem) }
        let count = request.partitions == -1 ? settings.numPartitions : request.partitions
        guard count > 0 else { throw TopicError(code: .invalidPartitions, message: "number of partitions must be larger than 0") }
        let replication = request.replicationFactor == -1 ? settings.defaultReplicationFactor : request.replicationFactor
        guard replication > 0 else { throw TopicError(code: .invalidReplicationFactor, message: "replication factor must be larger than 0") }
        guard replication == 1 else {
            throw TopicError(code: .invalidReplicationFactor,
                             message: "replication factor \(replication) is larger than the 1 available broker")
        }
        let (overrides, logConfig) = try await validatedTopicConfigs(request.configs)
        if await metadata.current().topics[name] != nil {
            throw TopicError(code: .topicAlreadyExists, message: "topic '\(name)' already exists")
        }
        let node = settings.nodeID
        let topic = TopicMetadata(
            name: name,
            partitions: (0..<count).map { PartitionMetadata(partition: $0, leader: node, replicas: [node], isr: [node]) },
            configs: overrides, isInternal: request.isInternal)
        return PreparedTopic(index: index, topic: topic, overrides: overrides, logConfig: logConfig)
    }

    /// The topics whose partitions fit in the descriptor budget, counting those admitted before them; the
    /// others get POLICY_VIOLATION in `results`.
    private func admitWithinDescriptorBudget(_ topics: [PreparedTopic], results: inout [Result<TopicMetadata, TopicError>]) -> [PreparedTopic] {
        var admitted: [PreparedTopic] = []
        var planned = 0
        let open = topics.isEmpty ? nil : settings.fileDescriptors.openCount()  // counted once per request
        for topic in topics {
            do {
                // The partitions of the topics admitted before this one count as open already.
                try checkFileDescriptors(newPartitions: topic.topic.partitions.count, topic: topic.topic.name,
                                         open: open.map { $0 + planned })
                planned += topic.topic.partitions.count
                admitted.append(topic)
            } catch {
                results[topic.index] = .failure(error)
            }
        }
        return admitted
    }
}
