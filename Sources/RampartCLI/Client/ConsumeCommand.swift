import ArgumentParser
import Foundation
import KafkaClient

/// `rampart consume`: kafka-console-consumer.
struct ConsumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Print records of a topic to standard output (like kafka-console-consumer).",
        discussion: """
            Formatter properties (--property): print.key, print.headers, print.timestamp, print.partition, \
            print.offset, print.value (true/false), key.separator (default TAB), line.separator (default \
            newline), headers.separator (default ','), headers.key.separator (default ':'), null.literal \
            (default 'null').
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "The topic to read.") var topic: String
    @Option(help: "Consumer group to join (offsets are committed to it); without it, every partition is read without a group.")
    var group: String?
    @Flag(name: .customLong("from-beginning"), help: "Start at the earliest offset when there is no committed offset.")
    var fromBeginning = false
    @Option(help: "Read only this partition (no group).") var partition: Int32?
    @Option(help: "With --partition: earliest, latest or an offset.") var offset: String?
    @Option(name: .customLong("max-messages"), help: "Exit after this many records.") var maxMessages: Int?
    @Option(name: .customLong("timeout-ms"), help: "Exit when no record arrives for this long.") var timeoutMs: Int?
    @Option(name: .customLong("property"), help: "A formatter property key=value (repeatable).") var properties: [String] = []
    @Option(name: .customLong("consumer-property"), help: "A consumer property key=value (repeatable).") var consumerProperties: [String] = []

    func validate() throws {
        if group != nil && partition != nil { throw ValidationError("--group cannot be combined with --partition") }
        if offset != nil && partition == nil { throw ValidationError("--offset needs --partition") }
        if let maxMessages, maxMessages < 1 { throw ValidationError("--max-messages must be at least 1") }
        if let timeoutMs, timeoutMs < 0 { throw ValidationError("--timeout-ms must not be negative") }
    }

    func run() async throws {
        let extra: [String: String]
        do {
            extra = try parseKeyValues(consumerProperties, option: "--consumer-property")
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        try await runClientCommand(connection, extra: extra) { cluster in
            let formatter = try RecordFormatter(try parseKeyValues(properties, option: "--property"))
            var config = try ConsumerConfig(properties: cluster.config.properties)
            if let group { config.groupId = group }
            if !extra.keys.contains("auto.offset.reset") { config.autoOffsetReset = fromBeginning ? .earliest : .latest }
            if config.groupId == nil { config.enableAutoCommit = false }
            let consumer = KafkaConsumer(cluster: cluster, config: config)
            if let partition {
                let tp = KafkaTopicPartition(topic: topic, partition: partition)
                await consumer.assign([tp])
                switch offset?.lowercased() {
                case nil: try await consumer.seek(toOffsetsOf: fromBeginning ? .earliest : .latest, partitions: [tp])
                case "earliest": try await consumer.seek(toOffsetsOf: .earliest, partitions: [tp])
                case "latest": try await consumer.seek(toOffsetsOf: .latest, partitions: [tp])
                case let text?:
                    guard let value = Int64(text), value >= 0 else {
                        throw ValidationError("--offset '\(text)' is not earliest, latest or a non-negative offset")
                    }
                    await consumer.seek(tp, to: value)
                }
            } else if config.groupId != nil {
                try await consumer.subscribe([topic])
            } else {
                let info = try await cluster.topic(topic)
                await consumer.assign(info.partitions.map { KafkaTopicPartition(topic: topic, partition: $0.partition) })
            }
            var printed = 0
            var nextOffsets: [KafkaTopicPartition: Int64] = [:]
            var lastRecord = ContinuousClock.now
            let idleLimit = timeoutMs.map { Duration.milliseconds($0) }
            consuming: while true {
                let wait = idleLimit.map { max(.zero, min(.seconds(1), $0 - (ContinuousClock.now - lastRecord))) } ?? .seconds(1)
                let records = try await consumer.poll(timeout: wait)
                if !records.isEmpty { lastRecord = ContinuousClock.now }
                var output = Data()
                for record in records {
                    output.append(formatter.format(record))
                    printed += 1
                    nextOffsets[record.topicPartition] = record.offset + 1
                    if let maxMessages, printed >= maxMessages {
                        FileHandle.standardOutput.write(output)
                        // Commit exactly what was printed, not what was fetched beyond it.
                        if config.groupId != nil && config.enableAutoCommit { try await consumer.commit(nextOffsets) }
                        break consuming
                    }
                }
                if !output.isEmpty { FileHandle.standardOutput.write(output) }
                if !records.isEmpty, config.groupId != nil, config.enableAutoCommit { try await consumer.commit() }
                if let idleLimit, ContinuousClock.now - lastRecord >= idleLimit { break }
            }
            // After --max-messages the commit above covered exactly the records printed.
            await consumer.close(commit: maxMessages == nil || printed < maxMessages!)
            printStderr("Processed a total of \(printed) messages")
        }
    }
}

/// Formats records like Kafka's DefaultMessageFormatter: timestamp, partition, offset, headers, key,
/// value, each printed only when asked for, separated by key.separator.
struct RecordFormatter {
    var printKey = false
    var printHeaders = false
    var printTimestamp = false
    var printPartition = false
    var printOffset = false
    var printValue = true
    var keySeparator = "\t"
    var lineSeparator = "\n"
    var headersSeparator = ","
    var headersKeySeparator = ":"
    var nullLiteral = "null"

    init(_ properties: [String: String]) throws {
        for (key, value) in properties {
            switch key {
            case "print.key": printKey = try Self.bool(key, value)
            case "print.headers": printHeaders = try Self.bool(key, value)
            case "print.timestamp": printTimestamp = try Self.bool(key, value)
            case "print.partition": printPartition = try Self.bool(key, value)
            case "print.offset": printOffset = try Self.bool(key, value)
            case "print.value": printValue = try Self.bool(key, value)
            case "key.separator": keySeparator = value
            case "line.separator": lineSeparator = value
            case "headers.separator": headersSeparator = value
            case "headers.key.separator": headersKeySeparator = value
            case "null.literal": nullLiteral = value
            default: throw ValidationError("--property: unknown formatter property '\(key)'")
            }
        }
    }

    private static func bool(_ key: String, _ value: String) throws -> Bool {
        switch value.lowercased() {
        case "true": return true
        case "false": return false
        default: throw ValidationError("--property \(key): '\(value)' is not true or false")
        }
    }

    func format(_ record: ConsumerRecord) -> Data {
        var fields: [String] = []
        if printTimestamp { fields.append("CreateTime:\(record.timestamp)") }
        if printPartition { fields.append("Partition:\(record.partition)") }
        if printOffset { fields.append("Offset:\(record.offset)") }
        if printHeaders {
            fields.append(record.headers.isEmpty ? "NO_HEADERS" : record.headers.map {
                "\($0.key)\(headersKeySeparator)\($0.value.map { String(decoding: $0, as: UTF8.self) } ?? nullLiteral)"
            }.joined(separator: headersSeparator))
        }
        if printKey { fields.append(record.key.map { String(decoding: $0, as: UTF8.self) } ?? nullLiteral) }
        if printValue { fields.append(record.value.map { String(decoding: $0, as: UTF8.self) } ?? nullLiteral) }
        return Data((fields.joined(separator: keySeparator) + lineSeparator).utf8)
    }
}
