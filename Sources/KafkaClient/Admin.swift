import KafkaProtocol
import NIOCore

/// A config resource: a topic or a broker.
public enum ConfigResource: Sendable, Hashable, CustomStringConvertible {
    case topic(String)
    case broker(Int32)

    var type: Int8 {
        switch self {
        case .topic: return 2
        case .broker: return 4
        }
    }

    var name: String {
        switch self {
        case .topic(let name): return name
        case .broker(let id): return String(id)
        }
    }

    public var description: String {
        switch self {
        case .topic(let name): return "topic '\(name)'"
        case .broker(let id): return "broker \(id)"
        }
    }
}

/// One configuration value as DescribeConfigs reports it.
public struct ConfigEntry: Sendable, Hashable {
    /// Where a value comes from (Kafka's `ConfigSource`).
    public enum Source: Int8, Sendable, Hashable {
        case unknown = 0, dynamicTopic = 1, dynamicBroker = 2, dynamicDefaultBroker = 3, staticBroker = 4,
             defaultConfig = 5, dynamicBrokerLogger = 6, clientMetrics = 7, group = 8

        public var name: String {
            switch self {
            case .unknown: "UNKNOWN"
            case .dynamicTopic: "DYNAMIC_TOPIC_CONFIG"
            case .dynamicBroker: "DYNAMIC_BROKER_CONFIG"
            case .dynamicDefaultBroker: "DYNAMIC_DEFAULT_BROKER_CONFIG"
            case .staticBroker: "STATIC_BROKER_CONFIG"
            case .defaultConfig: "DEFAULT_CONFIG"
            case .dynamicBrokerLogger: "DYNAMIC_BROKER_LOGGER_CONFIG"
            case .clientMetrics: "CLIENT_METRICS_CONFIG"
            case .group: "GROUP_CONFIG"
            }
        }
    }

    public var name: String
    public var value: String?
    public var source: Source
    public var isReadOnly: Bool
    public var isSensitive: Bool
    public var isDefault: Bool { source == .defaultConfig || source == .staticBroker || source == .unknown && value == nil }
}

/// A group as ListGroups reports it.
public struct GroupListing: Sendable, Hashable {
    public var groupId: String
    public var protocolType: String
    public var state: String
}

/// A group as DescribeGroups reports it.
public struct GroupDescription: Sendable, Hashable {
    /// A member and its assignment (decoded for the `consumer` protocol).
    public struct Member: Sendable, Hashable {
        public var memberId: String
        public var groupInstanceId: String?
        public var clientId: String
        public var clientHost: String
        public var assignment: [KafkaTopicPartition]
    }

    public var groupId: String
    public var state: String
    public var protocolType: String
    public var protocolName: String
    public var members: [Member]
}

/// Which offset ListOffsets should look up.
public enum OffsetSpec: Sendable, Hashable {
    case earliest
    case latest
    /// The first offset whose timestamp is at or after this (ms).
    case timestamp(Int64)

    var wireValue: Int64 {
        switch self {
        case .earliest: return -2
        case .latest: return -1
        case .timestamp(let ms): return ms
        }
    }
}

/// Topic, config, group and offset administration over a `KafkaCluster`.
public struct KafkaAdmin: Sendable {
    public let cluster: KafkaCluster

    public init(cluster: KafkaCluster) {
        self.cluster = cluster
    }

    // MARK: Topics

    /// Creates a topic. -1 partitions or replication factor means the broker's default.
    public func createTopic(
        _ name: String, partitions: Int32 = -1, replicationFactor: Int16 = -1, configs: [String: String] = [:],
        validateOnly: Bool = false
    ) async throws {
        let connection = try await controllerConnection()
        let version = try connection.version(for: .createTopics)
        if version < 4 && (partitions < 0 || replicationFactor < 0) {
            throw KafkaClientError.unsupportedVersion(
                "the broker's CreateTopics v\(version) needs explicit --partitions and --replication-factor")
        }
        var request = CreateTopicsRequest()
        request.timeoutMs = Int32(cluster.config.requestTimeoutMs)
        if version >= 1 { request.validateOnly = validateOnly }
        request.topics = [.init(name: name, numPartitions: partitions, replicationFactor: replicationFactor,
                                configs: configs.keys.sorted().map { .init(name: $0, value: configs[$0]) })]
        let response = try await connection.send(request, version: version)
        guard let result = response.topics.first(where: { $0.name == name }) else {
            throw KafkaClientError.malformedResponse("CreateTopics response does not mention topic '\(name)'")
        }
        try KafkaClientError.check(result.errorCode, "create topic '\(name)'", detail: result.errorMessage)
    }

    /// Names of the topics in the cluster, sorted; internal topics only when asked.
    public func listTopics(includeInternal: Bool = false) async throws -> [String] {
        let snapshot = try await cluster.refreshMetadata(topics: nil)
        return snapshot.topics.values.filter { includeInternal || !$0.isInternal }.map(\.name).sorted()
    }

    /// Partitions, leaders and replicas of topics (all topics for nil).
    public func describeTopics(_ names: [String]?) async throws -> [ClusterSnapshot.Topic] {
        let snapshot = try await cluster.refreshMetadata(topics: names)
        if let names {
            return try names.map { name in
                guard let topic = snapshot.topics[name] else {
                    throw KafkaClientError.broker(.unknownTopicOrPartition, "describe topic '\(name)'")
                }
                try KafkaClientError.check(topic.error.rawValue, "describe topic '\(name)'")
                return topic
            }
        }
        return snapshot.topics.values.sorted { $0.name < $1.name }
    }

    /// Deletes topics; the first failure is thrown (after all were attempted).
    public func deleteTopics(_ names: [String]) async throws {
        let connection = try await controllerConnection()
        var request = DeleteTopicsRequest()
        request.topicNames = names
        request.timeoutMs = Int32(cluster.config.requestTimeoutMs)
        let response = try await connection.send(request)
        for name in names {
            guard let result = response.responses.first(where: { $0.name == name }) else {
                throw KafkaClientError.malformedResponse("DeleteTopics response does not mention topic '\(name)'")
            }
            try KafkaClientError.check(result.errorCode, "delete topic '\(name)'", detail: result.errorMessage)
        }
    }

    /// Grows a topic to `totalCount` partitions.
    public func createPartitions(topic: String, totalCount: Int32, validateOnly: Bool = false) async throws {
        let connection = try await controllerConnection()
        var request = CreatePartitionsRequest()
        request.topics = [.init(name: topic, count: totalCount, assignments: nil)]
        request.timeoutMs = Int32(cluster.config.requestTimeoutMs)
        request.validateOnly = validateOnly
        let response = try await connection.send(request)
        guard let result = response.results.first(where: { $0.name == topic }) else {
            throw KafkaClientError.malformedResponse("CreatePartitions response does not mention topic '\(topic)'")
        }
        try KafkaClientError.check(result.errorCode, "add partitions to topic '\(topic)'", detail: result.errorMessage)
    }

    // MARK: Configs

    /// Every config of a resource with its value and source (or only `keys`).
    public func describeConfigs(_ resource: ConfigResource, keys: [String]? = nil) async throws -> [ConfigEntry] {
        let connection = try await configConnection(resource)
        let version = try connection.version(for: .describeConfigs)
        var request = DescribeConfigsRequest()
        request.resources = [.init(resourceType: resource.type, resourceName: resource.name, configurationKeys: keys)]
        let response = try await connection.send(request, version: version)
        guard let result = response.results.first(where: { $0.resourceName == resource.name }) else {
            throw KafkaClientError.malformedResponse("DescribeConfigs response does not mention \(resource)")
        }
        try KafkaClientError.check(result.errorCode, "describe configs of \(resource)", detail: result.errorMessage)
        return result.configs.map { entry in
            let source: ConfigEntry.Source
            if version == 0 {
                source = entry.isDefault ? .defaultConfig : (resource.type == 2 ? .dynamicTopic : .staticBroker)
            } else {
                source = ConfigEntry.Source(rawValue: entry.configSource) ?? .unknown
            }
            return ConfigEntry(name: entry.name, value: entry.value, source: source, isReadOnly: entry.readOnly,
                               isSensitive: entry.isSensitive)
        }.sorted { $0.name < $1.name }
    }

    /// Sets and removes configs of a resource: IncrementalAlterConfigs when the broker has it, else
    /// AlterConfigs with the merged explicit set (which replaces the whole set, as Kafka's tools did).
    public func alterConfigs(_ resource: ConfigResource, set: [String: String], delete: [String] = []) async throws {
        let connection = try await configConnection(resource)
        if connection.supports(.incrementalAlterConfigs) {
            var request = IncrementalAlterConfigsRequest()
            var configs = set.keys.sorted().map { IncrementalAlterConfigsRequest.AlterableConfig(name: $0, configOperation: 0, value: set[$0]) }
            configs += delete.sorted().map { .init(name: $0, configOperation: 1, value: nil) }
            request.resources = [.init(resourceType: resource.type, resourceName: resource.name, configs: configs)]
            let response = try await connection.send(request)
            guard let result = response.responses.first(where: { $0.resourceName == resource.name }) else {
                throw KafkaClientError.malformedResponse("IncrementalAlterConfigs response does not mention \(resource)")
            }
            try KafkaClientError.check(result.errorCode, "alter configs of \(resource)", detail: result.errorMessage)
            return
        }
        let current = try await describeConfigs(resource)
        let explicitSource: ConfigEntry.Source = resource.type == 2 ? .dynamicTopic : .dynamicBroker
        var merged: [String: String] = [:]
        for entry in current where entry.source == explicitSource { if let value = entry.value { merged[entry.name] = value } }
        for key in delete { merged[key] = nil }
        merged.merge(set) { $1 }
        var request = AlterConfigsRequest()
        request.resources = [.init(resourceType: resource.type, resourceName: resource.name,
                                   configs: merged.keys.sorted().map { .init(name: $0, value: merged[$0]) })]
        let response = try await connection.send(request)
        guard let result = response.responses.first(where: { $0.resourceName == resource.name }) else {
            throw KafkaClientError.malformedResponse("AlterConfigs response does not mention \(resource)")
        }
        try KafkaClientError.check(result.errorCode, "alter configs of \(resource)", detail: result.errorMessage)
    }

    // MARK: Offsets

    /// Looks up offsets of partitions at their leaders (earliest, latest or by timestamp; -1 when no
    /// record has such a timestamp).
    public func listOffsets(_ partitions: [KafkaTopicPartition], spec: OffsetSpec) async throws -> [KafkaTopicPartition: Int64] {
        var byLeader: [Int32: [KafkaTopicPartition]] = [:]
        for tp in partitions { byLeader[try await cluster.leaderId(for: tp), default: []].append(tp) }
        var result: [KafkaTopicPartition: Int64] = [:]
        for (leader, tps) in byLeader {
            let connection = try await cluster.connection(to: leader)
            var request = ListOffsetsRequest()
            request.replicaId = -1
            var topics: [String: [ListOffsetsRequest.ListOffsetsPartition]] = [:]
            for tp in tps { topics[tp.topic, default: []].append(.init(partitionIndex: tp.partition, timestamp: spec.wireValue)) }
            request.topics = topics.keys.sorted().map { .init(name: $0, partitions: topics[$0]!) }
            let response = try await connection.send(request)
            for topic in response.topics {
                for partition in topic.partitions {
                    let tp = KafkaTopicPartition(topic: topic.name, partition: partition.partitionIndex)
                    try KafkaClientError.check(partition.errorCode, "list offsets of \(tp)")
                    result[tp] = partition.offset
                }
            }
            for tp in tps where result[tp] == nil {
                throw KafkaClientError.malformedResponse("ListOffsets response does not mention \(tp)")
            }
        }
        return result
    }

    /// A group's committed offsets (all partitions it has committed for, or only `partitions`).
    public func fetchOffsets(group: String, partitions: [KafkaTopicPartition]? = nil) async throws -> [KafkaTopicPartition: Int64] {
        let connection = try await cluster.coordinator(forGroup: group)
        let version = try connection.version(for: .offsetFetch)
        var request = OffsetFetchRequest()
        request.groupId = group
        if let partitions {
            var topics: [String: [Int32]] = [:]
            for tp in partitions { topics[tp.topic, default: []].append(tp.partition) }
            request.topics = topics.keys.sorted().map { .init(name: $0, partitionIndexes: topics[$0]!) }
        } else {
            guard version >= 2 else {
                throw KafkaClientError.unsupportedVersion("fetching all of a group's offsets needs OffsetFetch v2+")
            }
            request.topics = nil
        }
        let response = try await connection.send(request, version: version)
        if version >= 2 { try KafkaClientError.check(response.errorCode, "fetch offsets of group '\(group)'") }
        var result: [KafkaTopicPartition: Int64] = [:]
        for topic in response.topics {
            for partition in topic.partitions {
                let tp = KafkaTopicPartition(topic: topic.name, partition: partition.partitionIndex)
                try KafkaClientError.check(partition.errorCode, "fetch offset of group '\(group)' for \(tp)")
                if partition.committedOffset >= 0 { result[tp] = partition.committedOffset }
            }
        }
        return result
    }

    /// Commits offsets for a group that has no active members (as kafka-consumer-groups
    /// --reset-offsets does), or for a member when `generation`/`memberId` are given.
    public func commitOffsets(
        group: String, offsets: [KafkaTopicPartition: Int64], generation: Int32 = -1, memberId: String = ""
    ) async throws {
        let connection = try await cluster.coordinator(forGroup: group)
        try await Self.commit(connection: connection, group: group, offsets: offsets, generation: generation, memberId: memberId)
    }

    static func commit(
        connection: BrokerConnection, group: String, offsets: [KafkaTopicPartition: Int64], generation: Int32,
        memberId: String
    ) async throws {
        var request = OffsetCommitRequest()
        request.groupId = group
        request.generationIdOrMemberEpoch = generation
        request.memberId = memberId
        var topics: [String: [OffsetCommitRequest.OffsetCommitRequestPartition]] = [:]
        for (tp, offset) in offsets.sorted(by: { $0.key < $1.key }) {
            topics[tp.topic, default: []].append(.init(partitionIndex: tp.partition, committedOffset: offset))
        }
        request.topics = topics.keys.sorted().map { .init(name: $0, partitions: topics[$0]!) }
        let response = try await connection.send(request)
        for topic in response.topics {
            for partition in topic.partitions {
                try KafkaClientError.check(partition.errorCode, "commit offset of group '\(group)' for \(topic.name)-\(partition.partitionIndex)")
            }
        }
    }

    // MARK: Groups

    /// Every group known to every broker.
    public func listGroups() async throws -> [GroupListing] {
        let snapshot = try await cluster.refreshMetadata(topics: [])
        var groups: [GroupListing] = []
        for nodeId in snapshot.brokers.keys.sorted() {
            let connection = try await cluster.connection(to: nodeId)
            let response = try await connection.send(ListGroupsRequest())
            try KafkaClientError.check(response.errorCode, "list groups on broker \(nodeId)")
            groups += response.groups.map { GroupListing(groupId: $0.groupId, protocolType: $0.protocolType, state: $0.groupState) }
        }
        return groups.sorted { $0.groupId < $1.groupId }
    }

    /// State and members of a group; members of a `consumer` group have their assignments decoded.
    public func describeGroup(_ group: String) async throws -> GroupDescription {
        let connection = try await cluster.coordinator(forGroup: group)
        var request = DescribeGroupsRequest()
        request.groups = [group]
        let response = try await connection.send(request)
        guard let described = response.groups.first(where: { $0.groupId == group }) else {
            throw KafkaClientError.malformedResponse("DescribeGroups response does not mention group '\(group)'")
        }
        try KafkaClientError.check(described.errorCode, "describe group '\(group)'")
        let members = described.members.map { member in
            let assignment = described.protocolType == "consumer" ? (try? ConsumerProtocolCodec.decodeAssignment(member.memberAssignment)) ?? [] : []
            return GroupDescription.Member(memberId: member.memberId, groupInstanceId: member.groupInstanceId,
                                           clientId: member.clientId, clientHost: member.clientHost, assignment: assignment)
        }
        return GroupDescription(groupId: described.groupId, state: described.groupState, protocolType: described.protocolType,
                                protocolName: described.protocolData, members: members)
    }

    /// Deletes groups; returns each group's outcome (NONE or the error).
    public func deleteGroups(_ groups: [String]) async throws -> [String: KafkaErrorCode] {
        var result: [String: KafkaErrorCode] = [:]
        for group in groups {
            let connection = try await cluster.coordinator(forGroup: group)
            var request = DeleteGroupsRequest()
            request.groupsNames = [group]
            let response = try await connection.send(request)
            guard let entry = response.results.first(where: { $0.groupId == group }) else {
                throw KafkaClientError.malformedResponse("DeleteGroups response does not mention group '\(group)'")
            }
            result[group] = KafkaErrorCode(entry.errorCode)
        }
        return result
    }

    // Single-node: any broker acts as controller. Metadata names the controller when there is one.
    func controllerConnection() async throws -> BrokerConnection {
        let snapshot = try await cluster.refreshMetadata(topics: [])
        if snapshot.controllerId >= 0, snapshot.brokers[snapshot.controllerId] != nil {
            return try await cluster.connection(to: snapshot.controllerId)
        }
        return try await cluster.anyConnection()
    }

    private func configConnection(_ resource: ConfigResource) async throws -> BrokerConnection {
        if case .broker(let id) = resource { return try await cluster.connection(to: id) }
        return try await controllerConnection()
    }
}
