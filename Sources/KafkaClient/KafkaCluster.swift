import KafkaProtocol
import NIOCore
import NIOPosix
import RampartTLS

/// A topic partition, as the client names one.
public struct KafkaTopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)-\(partition)" }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }
}

/// What the client knows of the cluster from its last Metadata answer.
public struct ClusterSnapshot: Sendable {
    /// A broker in the cluster.
    public struct Broker: Sendable, Hashable {
        public var nodeId: Int32
        public var address: BrokerAddress
        public var rack: String?
    }

    /// A partition: its leader and replicas.
    public struct Partition: Sendable, Hashable {
        public var partition: Int32
        public var leader: Int32
        public var leaderEpoch: Int32
        public var replicas: [Int32]
        public var isr: [Int32]
        public var offlineReplicas: [Int32]
        /// The partition's error from Metadata (LEADER_NOT_AVAILABLE while it is being created).
        public var error: KafkaErrorCode
    }

    /// A topic and its partitions (sorted by partition).
    public struct Topic: Sendable, Hashable {
        public var name: String
        public var topicId: KafkaUUID
        public var isInternal: Bool
        public var partitions: [Partition]
        public var error: KafkaErrorCode
    }

    public var clusterId: String?
    public var controllerId: Int32
    public var brokers: [Int32: Broker]
    public var topics: [String: Topic]
}

/// The client's view of a cluster: bootstrap servers, then one connection per broker learned from
/// Metadata. Connections are opened lazily and replaced when they close. With `security.protocol=SSL`
/// they all share one `TLSContext`, built on the first connection, and each verifies the broker's
/// certificate against the host it connects to (a bootstrap host or a host advertised in Metadata).
public actor KafkaCluster {
    /// The settings in force.
    nonisolated public let config: ClientConfig
    private let group: EventLoopGroup
    private var connections: [Int32: Task<BrokerConnection, Error>] = [:]
    private var bootstrapConnection: BrokerConnection?
    private var snapshot: ClusterSnapshot?
    private var coordinators: [String: Int32] = [:]
    private var closed = false
    private var tlsContext: TLSContext?

    public init(config: ClientConfig, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.config = config
        self.group = group
    }

    /// The last snapshot, fetching one (all topics) if there is none yet.
    public func currentSnapshot() async throws -> ClusterSnapshot {
        if let snapshot { return snapshot }
        return try await refreshMetadata(topics: nil)
    }

    /// Any live connection: a broker connection already open, else the first bootstrap server that
    /// answers.
    public func anyConnection() async throws -> BrokerConnection {
        try checkOpen()
        for (_, task) in connections.sorted(by: { $0.key < $1.key }) {
            if let connection = try? await task.value, connection.isActive { return connection }
        }
        if let bootstrapConnection, bootstrapConnection.isActive { return bootstrapConnection }
        let tls = try sharedTLSContext()
        var failures: [String] = []
        for address in config.bootstrapServers {
            do {
                let connection = try await BrokerConnection.connect(to: address, config: config, tlsContext: tls, group: group)
                bootstrapConnection = connection
                return connection
            } catch let error as KafkaClientError where error.isAuthenticationFailure || error.isSameKind(as: .configuration("")) {
                // Another bootstrap server would refuse the same credentials: say so, unwrapped.
                throw error
            } catch {
                failures.append("\(error)")
            }
        }
        throw KafkaClientError.connection(
            "no bootstrap server answered (\(config.bootstrapServers.map(\.description).joined(separator: ", "))): "
                + failures.joined(separator: "; "))
    }

    /// The connection to broker `nodeId`, opened if needed.
    public func connection(to nodeId: Int32) async throws -> BrokerConnection {
        try checkOpen()
        if let task = connections[nodeId], let existing = try? await task.value, existing.isActive {
            return existing
        }
        var broker = snapshot?.brokers[nodeId]
        if broker == nil { broker = try await refreshMetadata(topics: []).brokers[nodeId] }
        guard let broker else {
            throw KafkaClientError.connection("broker \(nodeId) is not in the cluster metadata")
        }
        let config = self.config
        let group = self.group
        let tls = try sharedTLSContext()
        let task = Task {
            try await BrokerConnection.connect(to: broker.address, nodeId: nodeId, config: config, tlsContext: tls, group: group)
        }
        connections[nodeId] = task
        do {
            return try await task.value
        } catch {
            connections[nodeId] = nil
            throw error
        }
    }

    /// Asks for metadata of `topics` (nil = every topic; [] = brokers only) and remembers the answer.
    @discardableResult
    public func refreshMetadata(topics: [String]?, allowAutoCreation: Bool = false) async throws -> ClusterSnapshot {
        let connection = try await anyConnection()
        let version = try connection.version(for: .metadata)
        var request = MetadataRequest()
        request.topics = topics.map { $0.map { MetadataRequest.MetadataRequestTopic(name: $0) } }
        if version >= 4 { request.allowAutoTopicCreation = allowAutoCreation }
        let response = try await connection.send(request, version: version)
        var brokers: [Int32: ClusterSnapshot.Broker] = [:]
        for broker in response.brokers {
            brokers[broker.nodeId] = .init(nodeId: broker.nodeId,
                                           address: BrokerAddress(host: broker.host, port: Int(broker.port)), rack: broker.rack)
        }
        var topicsByName = topics == nil ? [:] : (snapshot?.topics ?? [:])
        for topic in response.topics {
            guard let name = topic.name else { continue }
            let partitions = topic.partitions.map {
                ClusterSnapshot.Partition(partition: $0.partitionIndex, leader: $0.leaderId, leaderEpoch: $0.leaderEpoch,
                                          replicas: $0.replicaNodes, isr: $0.isrNodes, offlineReplicas: $0.offlineReplicas,
                                          error: KafkaErrorCode($0.errorCode))
            }.sorted { $0.partition < $1.partition }
            let error = KafkaErrorCode(topic.errorCode)
            if error == .unknownTopicOrPartition {
                topicsByName[name] = nil
                continue
            }
            topicsByName[name] = ClusterSnapshot.Topic(name: name, topicId: topic.topicId, isInternal: topic.isInternal,
                                                       partitions: partitions, error: error)
        }
        let fresh = ClusterSnapshot(clusterId: response.clusterId, controllerId: response.controllerId,
                                    brokers: brokers, topics: topicsByName)
        snapshot = fresh
        return fresh
    }

    /// The topic's metadata, refreshed from the broker; retries while its partitions have no leader yet
    /// (a topic just created). Throws UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist.
    public func topic(_ name: String, allowAutoCreation: Bool = false) async throws -> ClusterSnapshot.Topic {
        var attempt = 0
        while true {
            let snapshot = try await refreshMetadata(topics: [name], allowAutoCreation: allowAutoCreation)
            if let topic = snapshot.topics[name] {
                let retriable = topic.error.isRetriable
                    || topic.partitions.contains { $0.leader < 0 || $0.error == .leaderNotAvailable }
                if topic.error == .noError && !retriable { return topic }
                if !retriable || attempt >= config.retries {
                    if topic.error != .noError { throw KafkaClientError.broker(topic.error, "topic '\(name)'") }
                    return topic
                }
            } else if !allowAutoCreation || attempt >= config.retries {
                throw KafkaClientError.broker(.unknownTopicOrPartition, "topic '\(name)'")
            }
            attempt += 1
            try await Task.sleep(for: .milliseconds(config.retryBackoffMs * attempt))
        }
    }

    /// The connection to the partition's leader.
    public func leaderConnection(for partition: KafkaTopicPartition) async throws -> BrokerConnection {
        let leader = try await leaderId(for: partition)
        return try await connection(to: leader)
    }

    /// The node id leading `partition`, from the cache or fresh metadata.
    public func leaderId(for partition: KafkaTopicPartition, refresh: Bool = false) async throws -> Int32 {
        if !refresh, let cached = snapshot?.topics[partition.topic]?.partitions.first(where: { $0.partition == partition.partition }),
           cached.leader >= 0 {
            return cached.leader
        }
        let topic = try await self.topic(partition.topic)
        guard let info = topic.partitions.first(where: { $0.partition == partition.partition }) else {
            throw KafkaClientError.broker(.unknownTopicOrPartition, "partition \(partition)")
        }
        guard info.leader >= 0 else { throw KafkaClientError.broker(.leaderNotAvailable, "partition \(partition)") }
        return info.leader
    }

    /// The connection to the group coordinator of `groupId` (FindCoordinator, retried while the
    /// coordinator is loading).
    public func coordinator(forGroup groupId: String, refresh: Bool = false) async throws -> BrokerConnection {
        if !refresh, let node = coordinators[groupId], let connection = try? await connection(to: node) {
            return connection
        }
        var attempt = 0
        while true {
            let connection = try await anyConnection()
            let version = try connection.version(for: .findCoordinator)
            var request = FindCoordinatorRequest()
            request.key = groupId
            if version >= 1 { request.keyType = 0 }
            let response = try await connection.send(request, version: version)
            let error = KafkaErrorCode(response.errorCode)
            if error == .noError {
                coordinators[groupId] = response.nodeId
                if snapshot?.brokers[response.nodeId] == nil {
                    var updated = snapshot ?? ClusterSnapshot(clusterId: nil, controllerId: -1, brokers: [:], topics: [:])
                    updated.brokers[response.nodeId] = .init(
                        nodeId: response.nodeId, address: BrokerAddress(host: response.host, port: Int(response.port)), rack: nil)
                    snapshot = updated
                }
                return try await self.connection(to: response.nodeId)
            }
            guard error.isRetriable, attempt < config.retries else {
                throw KafkaClientError.broker(error, "find coordinator for group '\(groupId)'", detail: response.errorMessage)
            }
            attempt += 1
            try await Task.sleep(for: .milliseconds(config.retryBackoffMs * attempt))
        }
    }

    /// Forgets the coordinator of `groupId` (after NOT_COORDINATOR).
    public func forgetCoordinator(_ groupId: String) {
        coordinators[groupId] = nil
    }

    /// Closes every connection; later calls fail with `closed`.
    public func close() async {
        closed = true
        for (_, task) in connections {
            if let connection = try? await task.value { await connection.close() }
        }
        connections.removeAll()
        await bootstrapConnection?.close()
        bootstrapConnection = nil
    }

    /// The context every connection of this client uses (nil for PLAINTEXT), built once; a failure
    /// (a missing file) is not remembered, so a later attempt reads the files again.
    private func sharedTLSContext() throws -> TLSContext? {
        if let tlsContext { return tlsContext }
        tlsContext = try config.makeTLSContext()
        return tlsContext
    }

    private func checkOpen() throws {
        if closed { throw KafkaClientError.closed("the client is closed") }
    }
}
