import NIOCore

/// The type of a control record (the second int16 of its key).
public struct ControlRecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The wire value.
    public var rawValue: Int16
    /// Creates a type from its wire value.
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// Transaction abort marker.
    public static let abort = ControlRecordType(rawValue: 0)
    /// Transaction commit marker.
    public static let commit = ControlRecordType(rawValue: 1)
    /// KRaft leader change message.
    public static let leaderChange = ControlRecordType(rawValue: 2)
    /// KRaft snapshot header.
    public static let snapshotHeader = ControlRecordType(rawValue: 3)
    /// KRaft snapshot footer.
    public static let snapshotFooter = ControlRecordType(rawValue: 4)

    /// A readable name.
    public var description: String {
        switch rawValue {
        case 0: "ABORT"
        case 1: "COMMIT"
        case 2: "LEADER_CHANGE"
        case 3: "SNAPSHOT_HEADER"
        case 4: "SNAPSHOT_FOOTER"
        default: "UNKNOWN(\(rawValue))"
        }
    }
}

/// The key of a control record: `version int16, type int16` (version 0 today).
public struct ControlRecordKey: Hashable, Sendable {
    /// The key version (0).
    public var version: Int16
    /// The control record type.
    public var type: ControlRecordType

    /// Creates a key.
    public init(version: Int16 = 0, type: ControlRecordType) {
        self.version = version
        self.type = type
    }

    /// Parses a control record key. As in Kafka, a negative version or fewer than 4 bytes is corrupt;
    /// bytes after the type (a later version's fields) are ignored.
    public init(parsing key: ByteBuffer?) throws {
        guard var key, key.readableBytes >= 4 else {
            throw KafkaProtocolError.corruptRecord("control record key needs 4 bytes, has \(key?.readableBytes ?? 0)")
        }
        let version = try key.readKafkaInt16("control record version")
        guard version >= 0 else { throw KafkaProtocolError.corruptRecord("control record key version \(version)") }
        self.init(version: version, type: ControlRecordType(rawValue: try key.readKafkaInt16("control record type")))
    }

    /// The encoded key.
    public var encoded: ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeKafkaInt16(version)
        buffer.writeKafkaInt16(type.rawValue)
        return buffer
    }
}

/// A transaction marker: the single control record of the batch the coordinator writes to each
/// partition when a transaction ends. Its value is `version int16 (0), coordinatorEpoch int32`.
public struct EndTransactionMarker: Hashable, Sendable {
    /// `.commit` or `.abort`.
    public var type: ControlRecordType
    /// The epoch of the transaction coordinator that wrote the marker.
    public var coordinatorEpoch: Int32
    /// The value version (0).
    public var version: Int16

    /// Creates a marker.
    public init(type: ControlRecordType, coordinatorEpoch: Int32, version: Int16 = 0) {
        self.type = type
        self.coordinatorEpoch = coordinatorEpoch
        self.version = version
    }

    /// Parses a marker from a control record; throws unless its key is a commit or abort key and its
    /// value holds a version and a coordinator epoch.
    public init(parsing record: Record) throws {
        let key = try ControlRecordKey(parsing: record.key)
        guard key.type == .commit || key.type == .abort else {
            throw KafkaProtocolError.corruptRecord("control record type \(key.type) is not a transaction marker")
        }
        guard var value = record.value, value.readableBytes >= 6 else {
            throw KafkaProtocolError.corruptRecord("transaction marker value needs 6 bytes")
        }
        let version = try value.readKafkaInt16("transaction marker version")
        guard version >= 0 else { throw KafkaProtocolError.corruptRecord("transaction marker version \(version)") }
        self.init(type: key.type, coordinatorEpoch: try value.readKafkaInt32("coordinator epoch"), version: version)
    }

    /// The control record carrying this marker, at offset delta 0.
    public var record: Record {
        var value = ByteBuffer()
        value.writeKafkaInt16(version)
        value.writeKafkaInt32(coordinatorEpoch)
        return Record(offsetDelta: 0, key: ControlRecordKey(type: type).encoded, value: value)
    }
}

extension RecordBatch {
    /// Builds the control batch holding one transaction marker (transactional and control flags set, no
    /// base sequence, uncompressed), as the transaction coordinator writes it.
    public static func endTransactionMarker(
        _ marker: EndTransactionMarker, producerId: Int64, producerEpoch: Int16, baseOffset: Int64 = 0,
        timestamp: Int64, partitionLeaderEpoch: Int32 = -1
    ) throws -> RecordBatch {
        try RecordBatch(
            records: [marker.record], baseOffset: baseOffset, baseTimestamp: timestamp, producerId: producerId,
            producerEpoch: producerEpoch, baseSequence: -1, isTransactional: true, isControl: true,
            partitionLeaderEpoch: partitionLeaderEpoch)
    }

    /// The control record key of a control batch's record, or nil if this is not a control batch.
    public func controlKey(of record: Record) throws -> ControlRecordKey? {
        guard header.attributes.isControl else { return nil }
        return try ControlRecordKey(parsing: record.key)
    }
}
