import KafkaProtocol
import RampartMetadata
import RampartStorage

/// Runs async critical sections one at a time, in arrival order.
actor AsyncSerialQueue {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        if busy {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            busy = true
        }
    }

    func release() {
        if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
    }
}

extension Broker {
    /// Runs `body` with no other topic change (create, delete, partitions, configs) in flight.
    func serializingTopicChanges<T>(_ body: () async throws(TopicError) -> T) async throws(TopicError) -> T {
        await topicChanges.acquire()
        do {
            let result = try await body()
            await topicChanges.release()
            return result
        } catch {
            await topicChanges.release()
            throw error
        }
    }

    // MARK: - Topic configs

    /// A topic's requested config overrides, validated (INVALID_CONFIG naming the problem), and the log
    /// config they make over the broker's defaults. Shared by topic creation and config changes.
    func validatedTopicConfigs(_ requested: [String: String]) async throws(TopicError) -> (overrides: [String: String], logConfig: LogConfig) {
        let overrides: [String: String]
        switch TopicConfigCatalog.validate(requested) {
        case .success(let valid): overrides = valid
        case .failure(let error): throw TopicError(code: .invalidConfig, message: error.message)
        }
        do {
            return (overrides, try TopicConfigCatalog.logConfig(overrides, defaults: await logs.config(forTopic: "")))
        } catch {
            throw TopicError(code: .invalidConfig, message: "\(error)")
        }
    }

    /// Changes a topic's config overrides: `change` gets the current overrides and returns the new set,
    /// which is validated (INVALID_CONFIG, nothing applied), then recorded in the metadata store and
    /// applied to the topic's live logs. With `validateOnly` nothing is changed.
    @discardableResult
    public func updateTopicConfigs(
        name: String, validateOnly: Bool, _ change: ([String: String]) throws(TopicError) -> [String: String]
    ) async throws(TopicError) -> [String: String] {
        try await serializingTopicChanges { () async throws(TopicError) -> [String: String] in
            guard let topic = await metadata.current().topics[name] else {
                throw TopicError(code: .unknownTopicOrPartition, message: "topic '\(name)' does not exist")
            }
            let (overrides, logConfig) = try await validatedTopicConfigs(change(topic.configs))
            if validateOnly { return overrides }
            do {
                _ = try await metadata.update { image in
                    guard image.topics[name] != nil else {
                        throw TopicError(code: .unknownTopicOrPartition, message: "topic '\(name)' does not exist")
                    }
                    image.topics[name]!.configs = overrides
                }
            } catch let error as TopicError {
                throw error
            } catch {
                throw TopicError(code: .kafkaStorageError, message: "cannot record the configs of '\(name)': \(error)")
            }
            await logs.setTopicConfig(name, overrides.isEmpty ? nil : logConfig)
            logger.info("changed topic configs", metadata: ["topic": "\(name)", "configs": "\(overrides.keys.sorted())"])
            return overrides
        }
    }

    // MARK: - Partitions

    /// CreatePartitions: grows a topic to `count` partitions. `assignments` (one replica list per new
    /// partition) may only name this node. The new logs are created first and recorded in the metadata
    /// store afterwards; a failure removes the new logs, and after a crash in between the start-up
    /// reconciliation removes logs the metadata does not know — either way a restart is consistent.
    public func createPartitions(topic name: String, count: Int32, assignments: [[Int32]]?, validateOnly: Bool) async throws(TopicError) {
        try await serializingTopicChanges { () async throws(TopicError) in
            guard let topic = await metadata.current().topics[name] else {
                throw TopicError(code: .unknownTopicOrPartition, message: "The topic '\(name)' does not exist.")
            }
            let current = Int32(topic.partitions.count)
            if count < current {
                throw TopicError(code: .invalidPartitions,
                                 message: "Topic currently has \(current) partitions, which is higher than the requested \(count).")
            }
            if count == current { throw TopicError(code: .invalidPartitions, message: "Topic already has \(current) partitions.") }
            if let assignments {
                guard assignments.count == Int(count - current) else {
                    throw TopicError(code: .invalidReplicationAssignment,
                                     message: "Increasing the number of partitions by \(count - current) but \(assignments.count) assignments provided.")
                }
                for (i, replicas) in assignments.enumerated() {
                    if let problem = checkReplicas(replicas, partition: current + Int32(i), replicationFactor: topic.partitions.first?.replicas.count ?? 1) {
                        throw TopicError(code: .invalidReplicationAssignment, message: problem)
                    }
                }
            }
            try checkFileDescriptors(newPartitions: Int(count - current), topic: name)
            if validateOnly { return }
            let node = settings.nodeID
            let created = (current..<count).map { TopicPartition(topic: name, partition: $0) }
            func rollBack() async {
                for tp in created { try? await logs.deleteLog(tp) }
            }
            do {
                try await logs.createLogs(created)
            } catch {
                logger.error("cannot create the logs of new partitions", metadata: ["topic": "\(name)", "error": "\(error)"])
                throw TopicError(code: .kafkaStorageError, message: "cannot create the logs of the new partitions of '\(name)': \(error)")
            }
            do {
                _ = try await metadata.update { image in
                    guard image.topics[name]?.partitions.count == Int(current) else {
                        throw TopicError(code: .unknownTopicOrPartition, message: "topic '\(name)' changed meanwhile")
                    }
                    image.topics[name]!.partitions += (current..<count).map {
                        PartitionMetadata(partition: $0, leader: node, replicas: [node], isr: [node])
                    }
                }
            } catch {
                await rollBack()
                if let error = error as? TopicError { throw error }
                throw TopicError(code: .kafkaStorageError, message: "cannot record the new partitions of '\(name)': \(error)")
            }
            logger.info("created partitions", metadata: ["topic": "\(name)", "from": "\(current)", "to": "\(count)"])
        }
    }

    /// Why a manual replica assignment cannot be honoured (nil if it can): only this node exists.
    func checkReplicas(_ replicas: [Int32], partition: Int32, replicationFactor: Int) -> String? {
        if replicas.isEmpty { return "The manual partition assignment of partition \(partition) includes an empty replica list." }
        if Set(replicas).count != replicas.count {
            return "The manual partition assignment of partition \(partition) includes duplicate broker IDs."
        }
        if let unknown = replicas.first(where: { $0 != settings.nodeID }) {
            return "The manual partition assignment of partition \(partition) includes broker \(unknown), which is not registered (this broker is \(settings.nodeID))."
        }
        if replicas.count != replicationFactor {
            return "The manual partition assignment of partition \(partition) has \(replicas.count) replicas, but the topic's replication factor is \(replicationFactor)."
        }
        return nil
    }
}

extension Broker {
    /// A topic id as the wire carries it.
    static func wireTopicID(_ id: TopicID) -> KafkaUUID {
        KafkaUUID(mostSignificantBits: id.mostSignificantBits, leastSignificantBits: id.leastSignificantBits)
    }

    /// A wire topic id as the metadata stores it.
    static func storedTopicID(_ id: KafkaUUID) -> TopicID {
        TopicID(mostSignificantBits: id.mostSignificantBits, leastSignificantBits: id.leastSignificantBits)
    }
}
