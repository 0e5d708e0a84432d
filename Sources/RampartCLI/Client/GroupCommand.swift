import ArgumentParser
import Foundation
import KafkaClient

/// `rampart group`: kafka-consumer-groups.
struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group",
        abstract: "List, describe, reset offsets of and delete consumer groups (like kafka-consumer-groups).",
        subcommands: [List.self, Describe.self, ResetOffsets.self, Delete.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List consumer groups.")
        @OptionGroup var connection: ConnectionOptions
        @Flag(help: "Show each group's state and protocol type.") var state = false

        func run() async throws {
            try await runClientCommand(connection) { cluster in
                let groups = try await KafkaAdmin(cluster: cluster).listGroups()
                if state {
                    printTable(["GROUP", "STATE", "PROTOCOL-TYPE"], groups.map { [$0.groupId, $0.state, $0.protocolType] })
                } else {
                    for group in groups { print(group.groupId) }
                }
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show each partition's committed offset, log end offset, lag and owner.")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "The group to describe (repeatable).") var group: [String] = []
        @Flag(name: .customLong("all-groups"), help: "Describe every group.") var allGroups = false

        func validate() throws {
            if group.isEmpty && !allGroups { throw ValidationError("give --group or --all-groups") }
        }

        func run() async throws {
            try await runClientCommand(connection) { cluster in
                let admin = KafkaAdmin(cluster: cluster)
                let names = allGroups ? try await admin.listGroups().map(\.groupId) : group
                for (index, name) in names.enumerated() {
                    if index > 0 { print("") }
                    try await describe(name, admin: admin)
                }
            }
        }

        private func describe(_ name: String, admin: KafkaAdmin) async throws {
            let description = try await admin.describeGroup(name)
            if description.state == "Dead" {
                throw KafkaClientError.invalidArgument("consumer group '\(name)' does not exist")
            }
            let committed = try await admin.fetchOffsets(group: name)
            var owners: [KafkaTopicPartition: GroupDescription.Member] = [:]
            for member in description.members { for tp in member.assignment { owners[tp] = member } }
            let partitions = Set(committed.keys).union(owners.keys).sorted()
            let ends = partitions.isEmpty ? [:] : try await admin.listOffsets(partitions, spec: .latest)
            if description.members.isEmpty {
                printStderr("Consumer group '\(name)' has no active members.")
            }
            let rows = partitions.map { tp -> [String] in
                let current = committed[tp]
                let end = ends[tp]
                let lag = current.flatMap { c in end.map { String(max(0, $0 - c)) } } ?? "-"
                let owner = owners[tp]
                return [name, tp.topic, String(tp.partition), current.map(String.init) ?? "-", end.map(String.init) ?? "-", lag,
                        owner?.memberId ?? "-", owner.map { $0.clientHost } ?? "-", owner?.clientId ?? "-"]
            }
            printTable(["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"], rows)
        }
    }

    struct ResetOffsets: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-offsets",
            abstract: "Reset a group's committed offsets (the group must have no active members).")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "The group.") var group: String
        @Option(help: "A topic, or topic:0,1 for some partitions (repeatable).") var topic: [String] = []
        @Flag(name: .customLong("all-topics"), help: "Every topic the group has offsets for.") var allTopics = false
        @Flag(name: .customLong("to-earliest"), help: "Reset to the earliest offset.") var toEarliest = false
        @Flag(name: .customLong("to-latest"), help: "Reset to the latest offset.") var toLatest = false
        @Option(name: .customLong("to-offset"), help: "Reset to this offset (clamped to the partition's range).") var toOffset: Int64?
        @Option(name: .customLong("shift-by"), help: "Move the committed offset by N (may be negative).") var shiftBy: Int64?
        @Flag(help: "Commit the new offsets.") var execute = false
        @Flag(name: .customLong("dry-run"), help: "Only show the new offsets (the default).") var dryRun = false

        func validate() throws {
            let scenarios = [toEarliest, toLatest, toOffset != nil, shiftBy != nil].filter { $0 }.count
            guard scenarios == 1 else { throw ValidationError("give exactly one of --to-earliest, --to-latest, --to-offset, --shift-by") }
            guard topic.isEmpty != !allTopics else { throw ValidationError("give --topic or --all-topics") }
            if execute && dryRun { throw ValidationError("--execute and --dry-run exclude each other") }
        }

        func run() async throws {
            try await runClientCommand(connection) { cluster in
                let admin = KafkaAdmin(cluster: cluster)
                let description = try await admin.describeGroup(group)
                guard description.state == "Empty" || description.state == "Dead" else {
                    throw KafkaClientError.invalidArgument(
                        "assignments can only be reset if the group '\(group)' is inactive, but the current state is \(description.state)")
                }
                let committed = try await admin.fetchOffsets(group: group)
                let partitions = try await targetPartitions(cluster: cluster, committed: committed)
                guard !partitions.isEmpty else { throw KafkaClientError.invalidArgument("no partitions to reset") }
                let earliest = try await admin.listOffsets(partitions, spec: .earliest)
                let latest = try await admin.listOffsets(partitions, spec: .latest)
                var targets: [KafkaTopicPartition: Int64] = [:]
                for tp in partitions {
                    let low = earliest[tp] ?? 0
                    let high = latest[tp] ?? 0
                    let wanted: Int64
                    if toEarliest { wanted = low }
                    else if toLatest { wanted = high }
                    else if let toOffset { wanted = toOffset }
                    else { wanted = (committed[tp] ?? low) + (shiftBy ?? 0) }
                    targets[tp] = min(max(wanted, low), high)
                }
                if !execute && !dryRun {
                    printStderr("WARN: No action will be performed as the --execute option is missing. Use --execute to commit the new offsets.")
                }
                if execute { try await admin.commitOffsets(group: group, offsets: targets) }
                printTable(["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"],
                           partitions.map { [group, $0.topic, String($0.partition), String(targets[$0]!)] })
            }
        }

        private func targetPartitions(cluster: KafkaCluster, committed: [KafkaTopicPartition: Int64]) async throws -> [KafkaTopicPartition] {
            if allTopics { return committed.keys.sorted() }
            var result: [KafkaTopicPartition] = []
            for spec in topic {
                let parts = spec.split(separator: ":", maxSplits: 1)
                let name = String(parts[0])
                if parts.count == 2 {
                    for item in parts[1].split(separator: ",") {
                        guard let partition = Int32(item), partition >= 0 else {
                            throw ValidationError("--topic '\(spec)': '\(item)' is not a partition number")
                        }
                        result.append(KafkaTopicPartition(topic: name, partition: partition))
                    }
                } else {
                    let info = try await cluster.topic(name)
                    result += info.partitions.map { KafkaTopicPartition(topic: name, partition: $0.partition) }
                }
            }
            return Array(Set(result)).sorted()
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete consumer groups (they must have no active members).")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "The group to delete (repeatable).") var group: [String]

        func run() async throws {
            try await runClientCommand(connection) { cluster in
                let results = try await KafkaAdmin(cluster: cluster).deleteGroups(group)
                let failed = group.filter { results[$0] != .noError }
                if failed.isEmpty {
                    print("Deletion of requested consumer groups (\(group.map { "'\($0)'" }.joined(separator: ", "))) was successful.")
                    return
                }
                for name in failed { printError("group '\(name)': \(results[name]!.name)") }
                throw ExitCode(1)
            }
        }
    }
}
