import KafkaProtocol
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A record to produce.
public struct ProducerRecord: Sendable {
    public var topic: String
    /// The partition, or nil to let the partitioner choose.
    public var partition: Int32?
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [(key: String, value: [UInt8]?)]
    /// Create time in ms since the epoch; nil for now.
    public var timestamp: Int64?

    public init(topic: String, partition: Int32? = nil, key: [UInt8]? = nil, value: [UInt8]?,
                headers: [(key: String, value: [UInt8]?)] = [], timestamp: Int64? = nil) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    /// A record with UTF-8 key and value.
    public init(topic: String, key: String?, value: String?, headers: [(key: String, value: String)] = []) {
        self.init(topic: topic, key: key.map { Array($0.utf8) }, value: value.map { Array($0.utf8) },
                  headers: headers.map { ($0.key, Array($0.value.utf8)) })
    }
}

/// Where a produced record was written. `offset` is -1 with acks=0 (the broker does not say).
public struct RecordMetadata: Sendable, Hashable {
    public var topicPartition: KafkaTopicPartition
    public var offset: Int64
}

/// Producer settings (Kafka's producer property names in parentheses).
public struct ProducerConfig: Sendable {
    /// -1 (all), 0 or 1 (`acks`).
    public var acks: Int16
    /// Codec of the record batches (`compression.type`).
    public var compression: CompressionCodec
    /// Largest uncompressed records section per batch in bytes (`batch.size`); a batch holds at least one record.
    public var batchSize: Int
    /// How long the broker may take to replicate (Produce `timeoutMs`).
    public var timeoutMs: Int32
    public var partitioner: PartitionerKind

    public init(acks: Int16 = -1, compression: CompressionCodec = .none, batchSize: Int = 16_384,
                timeoutMs: Int32 = 30_000, partitioner: PartitionerKind = .default) {
        self.acks = acks
        self.compression = compression
        self.batchSize = batchSize
        self.timeoutMs = timeoutMs
        self.partitioner = partitioner
    }

    /// Reads `acks`, `compression.type`, `batch.size` and `partitioner.class` from client properties.
    public init(properties: [String: String], base: ProducerConfig = ProducerConfig()) throws {
        self = base
        if let raw = properties["acks"] { acks = try Self.parseAcks(raw) }
        if let raw = properties["compression.type"] { compression = try Self.parseCompression(raw) }
        batchSize = try ClientConfig.int(properties, "batch.size", min: 1) ?? batchSize
    }

    /// Parses Kafka's `acks`: `all`, `-1`, `0` or `1`.
    public static func parseAcks(_ raw: String) throws -> Int16 {
        switch raw.trimmingWhitespace().lowercased() {
        case "all", "-1": return -1
        case "0": return 0
        case "1": return 1
        default: throw KafkaClientError.configuration("acks: '\(raw)' is not one of all, -1, 0, 1")
        }
    }

    /// Parses Kafka's `compression.type` names.
    public static func parseCompression(_ raw: String) throws -> CompressionCodec {
        let name = raw.trimmingWhitespace().lowercased()
        guard let codec = CompressionCodec.allCases.first(where: { $0.description == name }) else {
            throw KafkaClientError.configuration("compression.type: '\(raw)' is not one of none, gzip, snappy, lz4, zstd")
        }
        return codec
    }
}

/// Sends records: partitions them, packs each partition's records into v2 record batches (compressed
/// with the configured codec) and sends one Produce request per leader per round, each carrying at
/// most one batch per partition (as Kafka requires). Retriable errors (no leader yet, leader moved)
/// refresh metadata and retry. Not idempotent: a retried batch may be written twice.
public actor KafkaProducer {
    private let cluster: KafkaCluster
    nonisolated public let config: ProducerConfig
    private var partitioner: Partitioner

    public init(cluster: KafkaCluster, config: ProducerConfig = ProducerConfig()) {
        self.cluster = cluster
        self.config = config
        self.partitioner = Partitioner(kind: config.partitioner)
    }

    /// Sends one record and waits for the broker's acknowledgement.
    @discardableResult
    public func send(_ record: ProducerRecord) async throws -> RecordMetadata {
        try await send([record])[0]
    }

    /// Sends records and waits until all are acknowledged; returns where each went, in input order.
    /// Records of one partition keep their order.
    @discardableResult
    public func send(_ records: [ProducerRecord]) async throws -> [RecordMetadata] {
        guard !records.isEmpty else { return [] }
        // Partition everything first, so the sticky partitioner sees batch boundaries.
        var partitionCounts: [String: Int32] = [:]
        for topic in Set(records.map(\.topic)) {
            let info = try await cluster.topic(topic, allowAutoCreation: true)
            guard !info.partitions.isEmpty else { throw KafkaClientError.broker(.unknownTopicOrPartition, "topic '\(topic)'") }
            partitionCounts[topic] = Int32(info.partitions.count)
        }
        var perPartition: [KafkaTopicPartition: [Int]] = [:]
        var order: [KafkaTopicPartition] = []
        var stickyBytes: [String: Int] = [:]
        for (index, record) in records.enumerated() {
            let count = partitionCounts[record.topic]!
            let partition: Int32
            if let explicit = record.partition {
                guard explicit >= 0, explicit < count else {
                    throw KafkaClientError.invalidArgument("topic '\(record.topic)' has no partition \(explicit) (it has \(count))")
                }
                partition = explicit
            } else {
                partition = partitioner.partition(topic: record.topic, key: record.key, partitionCount: count)
                if record.key == nil {
                    stickyBytes[record.topic, default: 0] += Self.estimatedSize(record)
                    if stickyBytes[record.topic]! >= config.batchSize {
                        partitioner.batchCompleted(topic: record.topic, partitionCount: count)
                        stickyBytes[record.topic] = 0
                    }
                }
            }
            let tp = KafkaTopicPartition(topic: record.topic, partition: partition)
            if perPartition[tp] == nil { order.append(tp) }
            perPartition[tp, default: []].append(index)
        }

        // Split each partition's records into batches of at most batchSize bytes (uncompressed).
        var batches: [KafkaTopicPartition: [[Int]]] = [:]
        for tp in order {
            var current: [Int] = []
            var size = 0
            var list: [[Int]] = []
            for index in perPartition[tp]! {
                let recordSize = Self.estimatedSize(records[index])
                if !current.isEmpty && size + recordSize > config.batchSize {
                    list.append(current)
                    current = []
                    size = 0
                }
                current.append(index)
                size += recordSize
            }
            if !current.isEmpty { list.append(current) }
            batches[tp] = list
        }

        var results = [RecordMetadata?](repeating: nil, count: records.count)
        let rounds = batches.values.map(\.count).max() ?? 0
        for round in 0..<rounds {
            var roundBatches: [(KafkaTopicPartition, [Int])] = []
            for tp in order { if let list = batches[tp], round < list.count { roundBatches.append((tp, list[round])) } }
            let offsets = try await produceRound(roundBatches, records: records)
            for (tp, indices) in roundBatches {
                let base = offsets[tp] ?? -1
                for (position, index) in indices.enumerated() {
                    results[index] = RecordMetadata(topicPartition: tp, offset: base < 0 ? -1 : base + Int64(position))
                }
            }
        }
        return results.map { $0! }
    }

    /// Sends one batch per partition, grouped by leader; retries retriable partition errors.
    private func produceRound(
        _ batches: [(KafkaTopicPartition, [Int])], records: [ProducerRecord]
    ) async throws -> [KafkaTopicPartition: Int64] {
        var encoded: [KafkaTopicPartition: ByteBuffer] = [:]
        for (tp, indices) in batches {
            encoded[tp] = try Self.encodeBatch(indices.map { records[$0] }, compression: config.compression)
        }
        var remaining = batches.map(\.0)
        var baseOffsets: [KafkaTopicPartition: Int64] = [:]
        var attempt = 0
        while !remaining.isEmpty {
            var byLeader: [Int32: [KafkaTopicPartition]] = [:]
            for tp in remaining {
                byLeader[try await cluster.leaderId(for: tp, refresh: attempt > 0), default: []].append(tp)
            }
            var retry: [KafkaTopicPartition] = []
            var lastError: KafkaClientError?
            for (leader, partitions) in byLeader.sorted(by: { $0.key < $1.key }) {
                let connection = try await cluster.connection(to: leader)
                var request = ProduceRequest()
                request.acks = config.acks
                request.timeoutMs = config.timeoutMs
                var topics: [String: [ProduceRequest.PartitionProduceData]] = [:]
                for tp in partitions {
                    topics[tp.topic, default: []].append(.init(index: tp.partition, records: encoded[tp]))
                }
                request.topicData = topics.keys.sorted().map { .init(name: $0, partitionData: topics[$0]!) }
                if config.acks == 0 {
                    try await connection.sendWithoutResponse(request)
                    continue
                }
                let response = try await connection.send(request)
                var answered = Set<KafkaTopicPartition>()
                for topic in response.responses {
                    for partition in topic.partitionResponses {
                        let tp = KafkaTopicPartition(topic: topic.name, partition: partition.index)
                        answered.insert(tp)
                        let error = KafkaErrorCode(partition.errorCode)
                        if error == .noError {
                            baseOffsets[tp] = partition.baseOffset
                        } else if error.isRetriable && attempt < cluster.config.retries {
                            retry.append(tp)
                            lastError = .broker(error, "produce to \(tp)", detail: partition.errorMessage)
                        } else {
                            let detail = partition.errorMessage ?? partition.recordErrors.first?.batchIndexErrorMessage
                            throw KafkaClientError.broker(error, "produce to \(tp)", detail: detail)
                        }
                    }
                }
                for tp in partitions where !answered.contains(tp) {
                    throw KafkaClientError.malformedResponse("produce response from broker \(leader) does not mention \(tp)")
                }
            }
            remaining = retry
            if !retry.isEmpty {
                attempt += 1
                if attempt > cluster.config.retries, let lastError { throw lastError }
                try await Task.sleep(for: .milliseconds(cluster.config.retryBackoffMs * attempt))
            }
        }
        return baseOffsets
    }

    static func estimatedSize(_ record: ProducerRecord) -> Int {
        var size = 10 + (record.key?.count ?? 0) + (record.value?.count ?? 0)
        for header in record.headers { size += 4 + header.key.utf8.count + (header.value?.count ?? 0) }
        return size
    }

    /// Encodes records as one v2 record batch, offsets numbered from 0.
    public static func encodeBatch(
        _ records: [ProducerRecord], compression: CompressionCodec, now: Int64 = currentTimeMillis()
    ) throws -> ByteBuffer {
        let allocator = ByteBufferAllocator()
        let baseTimestamp = records.compactMap(\.timestamp).min().map { min($0, now) } ?? now
        var encoded: [Record] = []
        encoded.reserveCapacity(records.count)
        for (index, record) in records.enumerated() {
            let headers = RecordHeaders(record.headers.map { header in
                RecordHeader(key: header.key, value: header.value.map { allocator.buffer(bytes: $0) })
            })
            encoded.append(Record(
                offsetDelta: Int32(index), timestampDelta: (record.timestamp ?? now) - baseTimestamp,
                key: record.key.map { allocator.buffer(bytes: $0) }, value: record.value.map { allocator.buffer(bytes: $0) },
                headers: headers))
        }
        let batch: RecordBatch
        do {
            batch = try RecordBatch(records: encoded, baseTimestamp: baseTimestamp, compression: compression, allocator: allocator)
        } catch {
            throw KafkaClientError.invalidArgument("cannot build a \(compression) record batch: \(error)")
        }
        var buffer = allocator.buffer(capacity: batch.totalSize)
        batch.write(to: &buffer)
        return buffer
    }
}

/// Milliseconds since the Unix epoch (wall clock), for record timestamps.
public func currentTimeMillis() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}
