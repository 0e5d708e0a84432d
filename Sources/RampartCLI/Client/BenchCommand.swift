import ArgumentParser
import Foundation
import KafkaClient
import KafkaProtocol

#if canImport(Glibc)
import Glibc
#endif

/// `rampart bench`: load generators built on the project's own client, modelled on Kafka's
/// kafka-producer-perf-test and kafka-consumer-perf-test.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure produce and consume throughput and latency (like kafka-*-perf-test).",
        subcommands: [BenchProduceCommand.self, BenchConsumeCommand.self]
    )
}

/// `rampart bench produce`: sends `--num-records` records of `--record-size` random bytes, at most
/// `--throughput` records/s, and prints records/s, MB/s and acknowledgement latency percentiles.
///
/// Records are gathered into requests of up to `batch.size` bytes (one partition each, chosen by the
/// sticky partitioner) and sent with up to `max.in.flight.requests.per.connection` requests awaiting
/// their answer. A record's latency runs from the moment it was due (its slot in the throttled
/// schedule, or the moment its request was built when unthrottled) to its acknowledgement, so a client
/// falling behind its schedule shows in the figures instead of hiding (no coordinated omission).
struct BenchProduceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce",
        abstract: "Produce records as fast as allowed and report throughput and latency.",
        discussion: """
            Producer properties (--producer-props or --command-config): batch.size (bytes per request, \
            default 16384), linger.ms (how long a throttled request waits to fill, default 5), \
            max.in.flight.requests.per.connection (default 5), acks, compression.type.
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "The topic to produce to (it must exist, or the broker must create it).") var topic: String
    @Option(name: .customLong("num-records"), help: "How many records to send.") var numRecords: Int
    @Option(name: .customLong("record-size"), help: "Bytes of each record's value (random, no key).") var recordSize: Int
    @Option(parsing: .unconditional, help: "Records per second at most; -1 for no limit.") var throughput: Double = -1
    @Option(help: "Acknowledgements: all, -1, 0 or 1.") var acks: String = "all"
    @Option(help: "Codec: none, gzip, snappy, lz4 or zstd.") var compression: String = "none"
    @Option(name: .customLong("producer-props"), parsing: .upToNextOption,
            help: "Producer properties key=value (batch.size, linger.ms, max.in.flight.requests.per.connection, …).")
    var producerProps: [String] = []
    @Flag(help: "Print the summary as one JSON object instead of Kafka's text line.") var json = false

    func validate() throws {
        if numRecords < 1 { throw ValidationError("--num-records must be at least 1") }
        if recordSize < 0 { throw ValidationError("--record-size must not be negative") }
        if throughput == 0 || (throughput < 0 && throughput != -1) {
            throw ValidationError("--throughput must be positive, or -1 for no limit")
        }
    }

    func run() async throws {
        let extra: [String: String]
        do {
            extra = try parseKeyValues(producerProps, option: "--producer-props")
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        try await runClientCommand(connection, extra: extra) { cluster in
            var config = try ProducerConfig(properties: cluster.config.properties)
            if !extra.keys.contains("acks") {
                guard let parsed = try? ProducerConfig.parseAcks(acks) else {
                    throw ValidationError("--acks '\(acks)' is not one of all, -1, 0, 1")
                }
                config.acks = parsed
            }
            if !extra.keys.contains("compression.type") {
                do {
                    config.compression = try ProducerConfig.parseCompression(compression)
                } catch {
                    throw ValidationError("--compression '\(compression)' is not one of none, gzip, snappy, lz4, zstd")
                }
            }
            let props = cluster.config.properties
            let lingerMs = try ClientConfig.int(props, "linger.ms", min: 0) ?? 5
            let inFlight = try ClientConfig.int(props, "max.in.flight.requests.per.connection", min: 1) ?? 5
            _ = try await cluster.topic(topic, allowAutoCreation: true)
            let producer = KafkaProducer(cluster: cluster, config: config)
            let plan = ProducePlan(
                numRecords: numRecords, recordSize: recordSize, throughput: throughput > 0 ? throughput : nil,
                recordsPerRequest: max(1, config.batchSize / max(1, recordSize + 10)), lingerNs: UInt64(lingerMs) * 1_000_000,
                maxInFlight: inFlight)
            let result = try await plan.run(producer: producer, topic: topic)
            print(result.summary(recordSize: recordSize, json: json))
        }
    }
}

/// Monotonic nanoseconds.
func monotonicNanos() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// The produce loop of `rampart bench produce`.
struct ProducePlan {
    var numRecords: Int
    var recordSize: Int
    /// Records per second, or nil for as fast as the broker acknowledges.
    var throughput: Double?
    var recordsPerRequest: Int
    var lingerNs: UInt64
    var maxInFlight: Int

    /// One acknowledged request: records `first..<first+count`, built at `builtAt`, answered at `ackedAt`.
    struct Ack: Sendable {
        var first: Int
        var count: Int
        var builtAt: UInt64
        var ackedAt: UInt64
    }

    /// When record `index` is due under the throttle (ns after `start`).
    func due(_ index: Int) -> UInt64 {
        guard let throughput else { return 0 }
        return UInt64(Double(index) / throughput * 1e9)
    }

    func run(producer: KafkaProducer, topic: String) async throws -> ProduceResult {
        var value = [UInt8](repeating: 0, count: recordSize)
        for index in value.indices { value[index] = UInt8.random(in: 0...255) }
        let record = ProducerRecord(topic: topic, value: value)
        var latenciesUs = [UInt32](repeating: 0, count: numRecords)
        let start = monotonicNanos()
        var lastAck = start
        try await withThrowingTaskGroup(of: Ack.self) { group in
            var sent = 0
            var inFlight = 0
            func collect(_ ack: Ack) {
                for index in ack.first..<(ack.first + ack.count) {
                    let dueAt = throughput == nil ? ack.builtAt : start + due(index)
                    let micros = ack.ackedAt > dueAt ? (ack.ackedAt - dueAt) / 1_000 : 0
                    latenciesUs[index] = UInt32(clamping: micros)
                }
                lastAck = max(lastAck, ack.ackedAt)
            }
            while sent < numRecords {
                var take = min(recordsPerRequest, numRecords - sent)
                if throughput != nil {
                    // Wait until the request is full or its first record has waited linger.ms.
                    let elapsed = monotonicNanos() - start
                    let fullAt = due(sent + take - 1)
                    let lingerAt = due(sent) + lingerNs
                    let sendAt = min(fullAt, lingerAt)
                    if elapsed < sendAt {
                        try await Task.sleep(for: .nanoseconds(Int64(sendAt - elapsed)))
                    }
                    let now = monotonicNanos() - start
                    var ready = 0
                    while ready < take && due(sent + ready) <= now { ready += 1 }
                    take = max(1, ready)
                }
                if inFlight >= maxInFlight, let ack = try await group.next() {
                    collect(ack)
                    inFlight -= 1
                }
                let first = sent
                let batch = [ProducerRecord](repeating: record, count: take)
                let builtAt = monotonicNanos()
                group.addTask {
                    try await producer.send(batch)
                    return Ack(first: first, count: batch.count, builtAt: builtAt, ackedAt: monotonicNanos())
                }
                inFlight += 1
                sent += take
            }
            while let ack = try await group.next() { collect(ack) }
        }
        return ProduceResult(records: numRecords, seconds: Double(lastAck - start) / 1e9, latenciesUs: latenciesUs)
    }
}

/// Throughput and latency of a produce run.
struct ProduceResult {
    var records: Int
    var seconds: Double
    var latenciesUs: [UInt32]

    func summary(recordSize: Int, json: Bool) -> String {
        let sorted = latenciesUs.sorted()
        func percentileMs(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let rank = min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)
            return Double(sorted[max(0, rank)]) / 1000
        }
        let average = sorted.isEmpty ? 0 : Double(sorted.reduce(0) { $0 + Int($1) }) / Double(sorted.count) / 1000
        let recordsPerSecond = Double(records) / max(seconds, 1e-9)
        let megabytesPerSecond = recordsPerSecond * Double(recordSize) / 1_048_576
        let p50 = percentileMs(0.50), p95 = percentileMs(0.95), p99 = percentileMs(0.99)
        let p999 = percentileMs(0.999), maximum = Double(sorted.last ?? 0) / 1000
        if json {
            return String(format: """
                {"records": %d, "seconds": %.3f, "records_per_sec": %.1f, "mb_per_sec": %.2f, "avg_ms": %.3f, \
                "p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, "p999_ms": %.3f, "max_ms": %.3f}
                """, records, seconds, recordsPerSecond, megabytesPerSecond, average, p50, p95, p99, p999, maximum)
        }
        return String(format: """
            %d records sent, %.1f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, \
            %.2f ms 50th, %.2f ms 95th, %.2f ms 99th, %.2f ms 99.9th.
            """, records, recordsPerSecond, megabytesPerSecond, average, maximum, p50, p95, p99, p999)
    }
}

/// `rampart bench consume`: reads `--num-records` records of a topic from the beginning of every
/// partition (no group) and prints MB/s and records/s, like kafka-consumer-perf-test.
struct BenchConsumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Read records from the beginning of a topic and report throughput."
    )

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "The topic to read.") var topic: String
    @Option(name: .customLong("num-records"), help: "Stop after this many records.") var numRecords: Int
    @Option(name: .customLong("timeout-ms"), help: "Give up when no record arrives for this long.") var timeoutMs: Int = 10_000
    @Option(name: .customLong("consumer-props"), parsing: .upToNextOption,
            help: "Consumer properties key=value (fetch.max.bytes, max.partition.fetch.bytes, fetch.max.wait.ms, …).")
    var consumerProps: [String] = []
    @Flag(help: "Print the summary as one JSON object.") var json = false

    func validate() throws {
        if numRecords < 1 { throw ValidationError("--num-records must be at least 1") }
        if timeoutMs < 1 { throw ValidationError("--timeout-ms must be positive") }
    }

    func run() async throws {
        let extra: [String: String]
        do {
            extra = try parseKeyValues(consumerProps, option: "--consumer-props")
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        try await runClientCommand(connection, extra: extra) { cluster in
            var config = try ConsumerConfig(properties: cluster.config.properties)
            config.groupId = nil
            config.enableAutoCommit = false
            config.autoOffsetReset = .earliest
            if !extra.keys.contains("max.partition.fetch.bytes") { config.maxPartitionFetchBytes = 10_485_760 }
            let info = try await cluster.topic(topic)
            let partitions = info.partitions.map { KafkaTopicPartition(topic: topic, partition: $0.partition) }
            guard !partitions.isEmpty else { throw KafkaClientError.broker(.unknownTopicOrPartition, "topic '\(topic)'") }
            let consumer = KafkaConsumer(cluster: cluster, config: config)
            await consumer.assign(partitions)
            try await consumer.seek(toOffsetsOf: .earliest)
            let start = monotonicNanos()
            var lastRecordAt = start
            var records = 0
            var bytes = 0
            while records < numRecords {
                let batch = try await consumer.poll(timeout: .milliseconds(200))
                let now = monotonicNanos()
                if batch.isEmpty {
                    if now - lastRecordAt > UInt64(timeoutMs) * 1_000_000 { break }
                    continue
                }
                lastRecordAt = now
                records += batch.count
                for record in batch { bytes += (record.value?.count ?? 0) + (record.key?.count ?? 0) }
            }
            await consumer.close(commit: false)
            let seconds = Double(lastRecordAt - start) / 1e9
            let megabytes = Double(bytes) / 1_048_576
            let line = json
                ? String(format: #"{"records": %d, "seconds": %.3f, "mb": %.2f, "mb_per_sec": %.2f, "records_per_sec": %.1f}"#,
                         records, seconds, megabytes, megabytes / max(seconds, 1e-9), Double(records) / max(seconds, 1e-9))
                : String(format: "%d records (%.2f MB) in %.3f s: %.2f MB/sec, %.1f records/sec",
                         records, megabytes, seconds, megabytes / max(seconds, 1e-9), Double(records) / max(seconds, 1e-9))
            print(line)
            if records < numRecords {
                printError("consumed only \(records) of \(numRecords) records: none arrived for \(timeoutMs) ms")
                throw ExitCode(1)
            }
        }
    }
}
