import ArgumentParser
import Foundation
import KafkaClient

/// `rampart topic`: kafka-topics.
struct TopicCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topic",
        abstract: "Create, list, describe, alter and delete topics (like kafka-topics).",
        subcommands: [Create.self, List.self, Describe.self, Alter.self, Delete.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a topic.")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "The topic to create.") var topic: String
        @Option(help: "Number of partitions (default: the broker's num.partitions).") var partitions: Int32?
        @Option(name: .customLong("replication-factor"), help: "Replication factor (default: the broker's default.replication.factor).")
        var replicationFactor: Int16?
        @Option(name: .customLong("config"), help: "A topic config key=value (repeatable).") var configs: [String] = []
        @Flag(name: .customLong("if-not-exists"), help: "Succeed if the topic already exists.") var ifNotExists = false

        func validate() throws {
            if let partitions, partitions < 1 { throw ValidationError("--partitions must be at least 1") }
            if let replicationFactor, replicationFactor < 1 { throw ValidationError("--replication-factor must be at least 1") }
        }

        func run() async throws {
            try await runClientCommand(connection) { cluster in
                let configs = try parseKeyValues(self.configs, option: "--config")
                do {
                    try await KafkaAdmin(cluster: cluster).createTopic(
                        topic, partitions: partitions ?? -1, replicationFactor: replicationFactor ?? -1, configs: configs)
                    print("Created topic \(topic).")
                } catch let error as KafkaClientError where ifNotExists && error.code == .topicAlreadyExists {
                    return
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List topic names.")
        @OptionGroup var connection: ConnectionOptions
        @Flag(name: .customLong("exclude-internal"), help: "Leave out internal topics.") var excludeInternal = false

        func run() async throws {
            try await runClientCommand(connection) { cluster in
                for name in try await KafkaAdmin(cluster: cluster).listTopics(includeInternal: !excludeInternal) { print(name) }
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Describe partitions and configs of topics (all without --topic).")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "The topic to describe (repeatable).") var topic: [String] = []

        func run() async throws {
            try await runClientCommand(connection) { cluster in
                let admin = KafkaAdmin(cluster: cluster)
                let topics = try await admin.describeTopics(topic.isEmpty ? nil : topic)
                for info in topics {
                    let configs = (try? await admin.describeConfigs(.topic(info.name))) ?? []
                    let explicit = configs.filter { $0.source == .dynamicTopic }
                        .map { "\($0.name)=\($0.isSensitive ? "<sensitive>" : ($0.value ?? "null"))" }.joined(separator: ",")
                    let replication = info.partitions.first?.replicas.count ?? 0
                    print("Topic: \(info.name)\tTopicId: \(info.topicId)\tPartitionCount: \(info.partitions.count)\tReplicationFactor: \(replication)\tConfigs: \(explicit)")
                    for partition in info.partitions {
                        let replicas = partition.replicas.map(String.init).joined(separator: ",")
                        let isr = partition.isr.map(String.init).joined(separator: ",")
                        print("\tTopic: \(info.name)\tPartition: \(partition.partition)\tLeader: \(partition.leader < 0 ? "none" : String(partition.leader))\tReplicas: \(replicas)\tIsr: \(isr)")
                    }
                }
            }
        }
    }

    struct Alter: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add partitions to a topic or change its configs.")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "The topic to alter.") var topic: String
        @Option(help: "The new total number of partitions (only grows).") var partitions: Int32?
        @Option(name: .customLong("config"), help: "Set a topic config key=value (repeatable).") var configs: [String] = []
        @Option(name: .customLong("delete-config"), help: "Remove a topic config override (repeatable).") var deleteConfigs: [String] = []

        func validate() throws {
            if partitions == nil && configs.isEmpty && deleteConfigs.isEmpty {
                throw ValidationError("nothing to alter: give --partitions, --config or --delete-config")
            }
        }

        func run() async throws {
            try await runClientCommand(connection) { cluster in
                let set = try parseKeyValues(configs, option: "--config")
                let admin = KafkaAdmin(cluster: cluster)
                if let partitions {
                    try await admin.createPartitions(topic: topic, totalCount: partitions)
                    print("Topic \(topic) now has \(partitions) partitions.")
                }
                if !set.isEmpty || !deleteConfigs.isEmpty {
                    try await admin.alterConfigs(.topic(topic), set: set, delete: deleteConfigs)
                    print("Updated configs of topic \(topic).")
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete topics.")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "The topic to delete (repeatable).") var topic: [String]
        @Flag(name: .customLong("if-exists"), help: "Succeed if a topic does not exist.") var ifExists = false

        func run() async throws {
            try await runClientCommand(connection) { cluster in
                let admin = KafkaAdmin(cluster: cluster)
                for name in topic {
                    do {
                        try await admin.deleteTopics([name])
                        print("Deleted topic \(name).")
                    } catch let error as KafkaClientError where ifExists && error.code == .unknownTopicOrPartition {
                        continue
                    }
                }
            }
        }
    }
}
