import KafkaProtocol

/// Idempotent-producer state of one partition: for each producer id, its epoch and the last five
/// appended batches (Kafka keeps five so that a producer with five requests in flight can have any of
/// them retried and recognised as a duplicate).
///
/// `check` decides, before anything is written, whether a batch is new, a duplicate of one already
/// appended (acknowledged again with the original offsets, not re-appended), or out of order;
/// `record` remembers a batch once it is in the log. Rebuilt at start-up by replaying the batch headers
/// of the log through `record`.
public struct PartitionProducerState: Sendable {
    /// A batch remembered for duplicate detection.
    public struct BatchMetadata: Hashable, Sendable {
        public var firstSequence: Int32
        public var lastSequence: Int32
        public var firstOffset: Int64
        public var lastOffset: Int64
        public var timestamp: Int64

        public init(firstSequence: Int32, lastSequence: Int32, firstOffset: Int64, lastOffset: Int64, timestamp: Int64) {
            self.firstSequence = firstSequence
            self.lastSequence = lastSequence
            self.firstOffset = firstOffset
            self.lastOffset = lastOffset
            self.timestamp = timestamp
        }
    }

    struct Entry: Sendable {
        var epoch: Int16
        var batches: [BatchMetadata] = []
    }

    /// How many recent batches per producer are remembered (Kafka's 5).
    public static let rememberedBatches = 5

    private var producers: [Int64: Entry] = [:]

    public init() {}

    /// The outcome of checking a batch before appending it.
    public enum Check: Hashable, Sendable {
        /// Append it.
        case append
        /// Already in the log: answer with these offsets and do not append.
        case duplicate(BatchMetadata)
        /// Refuse with this error.
        case reject(KafkaErrorCode)
    }

    /// Checks a batch from producer `producerID` (>= 0) with its header's epoch and sequences.
    public func check(producerID: Int64, epoch: Int16, firstSequence: Int32, lastSequence: Int32) -> Check {
        guard let entry = producers[producerID] else {
            // No state (a new producer, or state lost to retention): accept, as Kafka does.
            return .append
        }
        if epoch < entry.epoch { return .reject(.invalidProducerEpoch) }
        if epoch > entry.epoch {
            // A bumped epoch restarts the sequence at 0.
            return firstSequence == 0 ? .append : .reject(.outOfOrderSequenceNumber)
        }
        if let duplicate = entry.batches.first(where: { $0.firstSequence == firstSequence && $0.lastSequence == lastSequence }) {
            return .duplicate(duplicate)
        }
        guard let last = entry.batches.last else { return .append }
        return Self.isNext(firstSequence, after: last.lastSequence) ? .append : .reject(.outOfOrderSequenceNumber)
    }

    /// Sequence numbers wrap from Int32.max to 0.
    static func isNext(_ sequence: Int32, after previous: Int32) -> Bool {
        previous == Int32.max ? sequence == 0 : sequence == previous + 1
    }

    /// Remembers a batch now in the log.
    public mutating func record(producerID: Int64, epoch: Int16, batch: BatchMetadata) {
        var entry = producers[producerID] ?? Entry(epoch: epoch)
        if epoch != entry.epoch {
            entry = Entry(epoch: epoch)
        }
        entry.batches.append(batch)
        if entry.batches.count > Self.rememberedBatches { entry.batches.removeFirst(entry.batches.count - Self.rememberedBatches) }
        producers[producerID] = entry
    }

    /// Remembers a batch from its header (during log replay or after an append).
    public mutating func record(_ header: RecordBatchHeader, timestamp: Int64) {
        guard header.producerId >= 0, header.baseSequence >= 0 else { return }
        record(producerID: header.producerId, epoch: header.producerEpoch, batch: BatchMetadata(
            firstSequence: header.baseSequence, lastSequence: header.lastSequence,
            firstOffset: header.baseOffset, lastOffset: header.lastOffset, timestamp: timestamp))
    }

    /// Remembers a stored batch (append or replay at load). `now` stands in for a batch without a
    /// timestamp, so expiry counts from when the broker saw it.
    mutating func record(_ batch: BatchSummary, now: Int64) {
        guard batch.producerId >= 0, batch.baseSequence >= 0 else { return }
        record(producerID: batch.producerId, epoch: batch.producerEpoch, batch: BatchMetadata(
            firstSequence: batch.baseSequence, lastSequence: batch.lastSequence, firstOffset: batch.baseOffset,
            lastOffset: batch.lastOffset, timestamp: batch.maxTimestamp >= 0 ? max(batch.maxTimestamp, 0) : now))
    }

    /// The epoch last seen for a producer.
    public func epoch(of producerID: Int64) -> Int16? { producers[producerID]?.epoch }

    /// Forgets producers whose last batch is older than `expiry` (Kafka's producer.id.expiration.ms).
    public mutating func expire(olderThan cutoff: Int64) {
        producers = producers.filter { ($0.value.batches.last?.timestamp ?? Int64.max) >= cutoff }
    }

    public var producerCount: Int { producers.count }
}
