/// Kafka's murmur2 hash (the 32-bit MurmurHash2 variant with seed 0x9747b28c that Kafka's default
/// partitioner uses), so that a key lands on the same partition as with the Java client and librdkafka's
/// `murmur2_random` partitioner.
public enum Murmur2 {
    /// The signed 32-bit hash of `bytes`, as Java's `Utils.murmur2` returns it.
    public static func hash<Bytes: Collection>(_ bytes: Bytes) -> Int32 where Bytes.Element == UInt8 {
        let data = Array(bytes)
        let length = data.count
        let m: UInt32 = 0x5bd1_e995
        let r: UInt32 = 24
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)
        let blocks = length / 4
        for i in 0..<blocks {
            let base = i * 4
            var k = UInt32(data[base]) | UInt32(data[base + 1]) << 8 | UInt32(data[base + 2]) << 16
                | UInt32(data[base + 3]) << 24
            k &*= m
            k ^= k >> r
            k &*= m
            h &*= m
            h ^= k
        }
        let tail = blocks * 4
        let remaining = length % 4
        if remaining == 3 { h ^= UInt32(data[tail + 2]) << 16 }
        if remaining >= 2 { h ^= UInt32(data[tail + 1]) << 8 }
        if remaining >= 1 {
            h ^= UInt32(data[tail])
            h &*= m
        }
        h ^= h >> 13
        h &*= m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }

    /// Kafka's `Utils.toPositive`: clears the sign bit (not `abs`, which overflows on Int32.min).
    public static func toPositive(_ value: Int32) -> Int32 { value & 0x7fff_ffff }

    /// The partition Kafka's default partitioner picks for a key.
    public static func partition<Bytes: Collection>(forKey key: Bytes, partitionCount: Int32) -> Int32
    where Bytes.Element == UInt8 {
        precondition(partitionCount > 0, "partitionCount must be positive")
        return toPositive(hash(key)) % partitionCount
    }
}

/// How the producer picks a partition for a record that does not name one.
public enum PartitionerKind: String, Sendable, CaseIterable {
    /// Kafka's default: murmur2 of the key; records without a key stick to one partition until a batch
    /// is full, then move to the next (KIP-480).
    case `default`
    /// murmur2 of the key; records without a key go round-robin, one record per partition in turn.
    case roundRobin = "round-robin"
}

/// Chooses partitions. Keyed records always use murmur2; unkeyed records use the sticky or
/// round-robin policy, with per-topic state.
public struct Partitioner: Sendable {
    public let kind: PartitionerKind
    private var sticky: [String: Int32] = [:]
    private var counters: [String: Int32] = [:]
    private var seed: UInt64

    public init(kind: PartitionerKind = .default, seed: UInt64 = UInt64.random(in: 0...UInt64.max)) {
        self.kind = kind
        self.seed = seed
    }

    /// The partition for a record with `key` (nil for none) in a topic of `partitionCount` partitions.
    public mutating func partition(topic: String, key: [UInt8]?, partitionCount: Int32) -> Int32 {
        if let key { return Murmur2.partition(forKey: key, partitionCount: partitionCount) }
        switch kind {
        case .default:
            if let current = sticky[topic], current < partitionCount { return current }
            let chosen = Int32(truncatingIfNeeded: nextRandom() % UInt64(partitionCount))
            sticky[topic] = chosen
            return chosen
        case .roundRobin:
            let start = Int32(truncatingIfNeeded: nextRandom() % UInt64(partitionCount))
            let next = counters[topic] ?? start
            counters[topic] = (next &+ 1) % partitionCount
            return next % partitionCount
        }
    }

    /// Tells the sticky policy the batch for `topic` is complete: unkeyed records move to another
    /// partition (a different one whenever the topic has more than one).
    public mutating func batchCompleted(topic: String, partitionCount: Int32) {
        guard kind == .default, partitionCount > 0 else { return }
        let previous = sticky[topic]
        var chosen = Int32(truncatingIfNeeded: nextRandom() % UInt64(partitionCount))
        if partitionCount > 1, chosen == previous { chosen = (chosen + 1) % partitionCount }
        sticky[topic] = chosen
    }

    // splitmix64: enough to spread partitions, and deterministic under a given seed for tests.
    private mutating func nextRandom() -> UInt64 {
        seed &+= 0x9e37_79b9_7f4a_7c15
        var z = seed
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
