import KafkaProtocol

/// An error from the partition log.
///
/// Every error maps to the Kafka error code the broker puts in its response (`kafkaErrorCode`).
/// Messages never contain record bytes; they name the partition, offset or file concerned.
public struct StorageError: Error, Hashable, CustomStringConvertible, Sendable {
    private enum Base: Hashable, Sendable {
        case offsetOutOfRange
        case corruptBatch
        case invalidRecord
        case messageTooLarge
        case recordListTooLarge
        case unsupportedCompression
        case noSpace
        case io
        case offline
        case corruptLog
        case unknownPartition
        case alreadyExists
        case invalidConfig
        case closed
        case producer(KafkaErrorCode)
    }

    private let base: Base
    /// A human-readable explanation.
    public let message: String
    /// The underlying error (an `Errno`, a `KafkaProtocolError`), if any.
    public let cause: (any Error & Sendable)?

    private init(_ base: Base, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.base = base
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(message) (cause: \(cause))" }
        return message
    }

    /// The Kafka error code the broker returns for this error.
    public var kafkaErrorCode: Int16 { kafkaError.rawValue }

    /// The Kafka error code as a typed value (`KafkaProtocol.KafkaErrorCode`).
    public var kafkaError: KafkaErrorCode {
        switch base {
        case .offsetOutOfRange: return .offsetOutOfRange
        case .corruptBatch: return .corruptMessage
        case .invalidRecord: return .invalidRecord
        case .messageTooLarge: return .messageSizeTooLarge
        case .recordListTooLarge: return .recordListTooLarge
        case .unsupportedCompression: return .unsupportedCompressionType
        case .noSpace, .io, .offline, .corruptLog, .closed: return .kafkaStorageError
        case .unknownPartition: return .unknownTopicOrPartition
        case .alreadyExists, .invalidConfig: return .unknownServerError
        case .producer(let code): return code
        }
    }

    /// A read or a DeleteRecords offset outside `[logStartOffset, logEndOffset]`.
    public static func offsetOutOfRange(_ offset: Int64, logStart: Int64, logEnd: Int64) -> Self {
        .init(.offsetOutOfRange, "offset \(offset) is outside the log range [\(logStart), \(logEnd)]")
    }
    /// A batch with a CRC mismatch or an inconsistent structure.
    public static func corruptBatch(_ what: String, cause: (any Error & Sendable)? = nil) -> Self {
        .init(.corruptBatch, "corrupt record batch: \(what)", cause: cause)
    }
    /// A well-formed batch the log refuses (no records, inconsistent offset delta, control batch from a client).
    public static func invalidRecord(_ what: String) -> Self { .init(.invalidRecord, "invalid record batch: \(what)") }
    /// One batch larger than `max.message.bytes`.
    public static func messageTooLarge(size: Int, limit: Int) -> Self {
        .init(.messageTooLarge, "record batch of \(size) bytes exceeds max.message.bytes \(limit)")
    }
    /// An append larger than `segment.bytes`.
    public static func recordListTooLarge(size: Int, limit: Int) -> Self {
        .init(.recordListTooLarge, "append of \(size) bytes exceeds segment.bytes \(limit)")
    }
    /// An unknown compression codec id in the batch attributes.
    public static func unsupportedCompression(_ codec: Int16) -> Self {
        .init(.unsupportedCompression, "unsupported compression codec \(codec)")
    }
    /// The disk is full (`ENOSPC`/`EDQUOT`); the append failed, the existing log is intact.
    public static func noSpace(_ what: String, cause: (any Error & Sendable)? = nil) -> Self {
        .init(.noSpace, "no space left on device: \(what)", cause: cause)
    }
    /// An I/O error from the file system.
    public static func io(_ what: String, cause: (any Error & Sendable)? = nil) -> Self {
        .init(.io, "I/O error: \(what)", cause: cause)
    }
    /// The partition is offline after an fsync failure or a corrupt log; nothing is served until an operator acts.
    public static func offline(_ partition: String, reason: String) -> Self {
        .init(.offline, "partition \(partition) is offline: \(reason)")
    }
    /// Recovery found a corrupt batch followed by valid data.
    public static func corruptLog(_ what: String) -> Self { .init(.corruptLog, "corrupt log: \(what)") }
    /// No log exists for the partition.
    public static func unknownPartition(_ partition: String) -> Self {
        .init(.unknownPartition, "no log for partition \(partition)")
    }
    /// A log for the partition already exists.
    public static func alreadyExists(_ partition: String) -> Self {
        .init(.alreadyExists, "a log for partition \(partition) already exists")
    }
    /// A configuration value is invalid.
    /// An idempotent producer's batch refused: out-of-order sequence or a fenced (older) epoch.
    public static func producerRejected(_ code: KafkaErrorCode, _ what: String) -> Self { .init(.producer(code), what) }

    public static func invalidConfig(_ what: String) -> Self { .init(.invalidConfig, "invalid log config: \(what)") }
    /// The log was closed.
    public static func closed(_ partition: String) -> Self { .init(.closed, "log \(partition) is closed") }

    /// Whether two errors are of the same kind, ignoring message and cause.
    public func isSameKind(as other: StorageError) -> Bool { base == other.base }

    /// Kind-only constants for `isSameKind(as:)` comparisons in callers and tests.
    public static let offlineKind = StorageError(.offline, "")
    public static let noSpaceKind = StorageError(.noSpace, "")
    public static let ioKind = StorageError(.io, "")
    public static let corruptBatchKind = StorageError(.corruptBatch, "")
    public static let offsetOutOfRangeKind = StorageError(.offsetOutOfRange, "")

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.base == rhs.base && lhs.message == rhs.message }
    public func hash(into hasher: inout Hasher) { hasher.combine(base); hasher.combine(message) }
}
