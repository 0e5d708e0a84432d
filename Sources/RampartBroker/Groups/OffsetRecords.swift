import KafkaProtocol
import NIOCore

/// The records of the `__consumer_offsets` topic, byte for byte as Apache Kafka writes them, so a
/// Kafka tool reading the topic (or a broker reading our data directory) understands them.
///
/// Every key and value starts with an int16 schema version; strings are int16-length UTF-8 (the
/// schemas below version 4 are not flexible).
///
/// Key, `OffsetCommitKey` (versions 0 and 1 share the layout; Kafka writes 1):
///
///     int16 version = 1 | string group | string topic | int32 partition
///
/// Value, `OffsetCommitValue` (Kafka writes 3, or 1 when the commit carries an expire timestamp):
///
///     v0:      int16 0 | int64 offset | string metadata | int64 commitTimestamp
///     v1:      int16 1 | int64 offset | string metadata | int64 commitTimestamp | int64 expireTimestamp
///     v2:      int16 2 | int64 offset | string metadata | int64 commitTimestamp
///     v3:      int16 3 | int64 offset | int32 leaderEpoch | string metadata | int64 commitTimestamp
///     v4:      int16 4 | int64 offset | int32 leaderEpoch | compact string metadata | int64 commitTimestamp | tagged fields
///
/// A null value (tombstone) deletes the committed offset; compaction eventually drops both.
///
/// Kafka also stores the membership of each group under `GroupMetadataKey` (key version 2: int16 2 |
/// string group). Rampart does not write those records (a restarted broker starts every group with
/// no members, and clients simply rejoin); it skips them when it reads a topic that has them.
public enum OffsetRecords {
    /// The key version Kafka writes for a committed offset.
    public static let offsetCommitKeyVersion: Int16 = 1
    /// The key version of Kafka's group metadata records (skipped by Rampart).
    public static let groupMetadataKeyVersion: Int16 = 2

    /// The key of one committed offset.
    public struct Key: Hashable, Sendable {
        public var group: String
        public var topic: String
        public var partition: Int32

        public init(group: String, topic: String, partition: Int32) {
            self.group = group
            self.topic = topic
            self.partition = partition
        }
    }

    /// A committed offset as stored.
    public struct Value: Hashable, Sendable {
        public var offset: Int64
        /// -1 when unknown (and in value versions below 3).
        public var leaderEpoch: Int32
        public var metadata: String
        public var commitTimestamp: Int64
        /// Set by OffsetCommit v2–v4 with an explicit retention time (value version 1).
        public var expireTimestamp: Int64?

        public init(offset: Int64, leaderEpoch: Int32 = -1, metadata: String = "", commitTimestamp: Int64,
                    expireTimestamp: Int64? = nil) {
            self.offset = offset
            self.leaderEpoch = leaderEpoch
            self.metadata = metadata
            self.commitTimestamp = commitTimestamp
            self.expireTimestamp = expireTimestamp
        }
    }

    /// What a record key of the topic names.
    public enum DecodedKey: Hashable, Sendable {
        case offsetCommit(Key)
        /// Group membership (Kafka's `GroupMetadataKey`), not used by Rampart.
        case groupMetadata(group: String)
    }

    /// A record key or value that cannot be decoded.
    public struct DecodeError: Error, CustomStringConvertible {
        public var description: String
    }

    // MARK: Encoding

    /// The key bytes (version 1).
    public static func encode(_ key: Key) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeKafkaInt16(offsetCommitKeyVersion)
        writeString(key.group, to: &buffer)
        writeString(key.topic, to: &buffer)
        buffer.writeKafkaInt32(key.partition)
        return buffer
    }

    /// The value bytes: version 3, or version 1 when an expire timestamp is set (as Kafka does).
    public static func encode(_ value: Value) -> ByteBuffer {
        var buffer = ByteBuffer()
        if let expire = value.expireTimestamp {
            buffer.writeKafkaInt16(1)
            buffer.writeKafkaInt64(value.offset)
            writeString(value.metadata, to: &buffer)
            buffer.writeKafkaInt64(value.commitTimestamp)
            buffer.writeKafkaInt64(expire)
        } else {
            buffer.writeKafkaInt16(3)
            buffer.writeKafkaInt64(value.offset)
            buffer.writeKafkaInt32(value.leaderEpoch)
            writeString(value.metadata, to: &buffer)
            buffer.writeKafkaInt64(value.commitTimestamp)
        }
        return buffer
    }

    /// Kafka's int16-length string. Metadata is bounded (4096 characters) well below the limit.
    private static func writeString(_ s: String, to buffer: inout ByteBuffer) {
        let bytes = Array(s.utf8.prefix(Int(Int16.max)))
        buffer.writeKafkaInt16(Int16(bytes.count))
        buffer.writeBytes(bytes)
    }

    // MARK: Decoding

    /// Decodes a record key.
    public static func decodeKey(_ bytes: ByteBuffer) throws -> DecodedKey {
        var buffer = bytes
        do {
            let version = try buffer.readKafkaInt16("key version")
            switch version {
            case 0, 1:
                let group = try buffer.readKafkaString("group", compact: false)
                let topic = try buffer.readKafkaString("topic", compact: false)
                let partition = try buffer.readKafkaInt32("partition")
                return .offsetCommit(Key(group: group, topic: topic, partition: partition))
            case 2:
                return .groupMetadata(group: try buffer.readKafkaString("group", compact: false))
            default:
                throw DecodeError(description: "unknown __consumer_offsets key version \(version)")
            }
        } catch let error as DecodeError {
            throw error
        } catch {
            throw DecodeError(description: "malformed __consumer_offsets key: \(error)")
        }
    }

    /// Decodes an offset commit value of any version Kafka has written (0–4).
    public static func decodeValue(_ bytes: ByteBuffer) throws -> Value {
        var buffer = bytes
        do {
            let version = try buffer.readKafkaInt16("value version")
            let offset = try buffer.readKafkaInt64("offset")
            switch version {
            case 0, 2:
                let metadata = try buffer.readKafkaString("metadata", compact: false)
                let commit = try buffer.readKafkaInt64("commit timestamp")
                return Value(offset: offset, metadata: metadata, commitTimestamp: commit)
            case 1:
                let metadata = try buffer.readKafkaString("metadata", compact: false)
                let commit = try buffer.readKafkaInt64("commit timestamp")
                let expire = try buffer.readKafkaInt64("expire timestamp")
                return Value(offset: offset, metadata: metadata, commitTimestamp: commit, expireTimestamp: expire >= 0 ? expire : nil)
            case 3, 4:
                let epoch = try buffer.readKafkaInt32("leader epoch")
                let metadata = try buffer.readKafkaString("metadata", compact: version >= 4)
                let commit = try buffer.readKafkaInt64("commit timestamp")
                if version >= 4 { try buffer.readKafkaTaggedFields("value") { _, _ in false } }
                return Value(offset: offset, leaderEpoch: epoch, metadata: metadata, commitTimestamp: commit)
            default:
                throw DecodeError(description: "unknown __consumer_offsets value version \(version)")
            }
        } catch let error as DecodeError {
            throw error
        } catch {
            throw DecodeError(description: "malformed __consumer_offsets value: \(error)")
        }
    }

    // MARK: Partitioning

    /// Java's `String.hashCode()`: `s[0]·31^(n−1) + … + s[n−1]` over UTF-16 code units, in 32-bit
    /// two's-complement arithmetic.
    public static func javaHashCode(_ s: String) -> Int32 {
        var hash: Int32 = 0
        for unit in s.utf16 { hash = hash &* 31 &+ Int32(unit) }
        return hash
    }

    /// The `__consumer_offsets` partition of a group: Kafka's `Utils.abs(groupId.hashCode) % partitions`,
    /// where `Utils.abs(Integer.MIN_VALUE)` is 0.
    public static func partition(forGroup groupID: String, partitionCount: Int32) -> Int32 {
        let hash = javaHashCode(groupID)
        let positive = hash == Int32.min ? 0 : abs(hash)
        return positive % max(1, partitionCount)
    }
}
