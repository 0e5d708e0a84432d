import CRampartShims
import NIOCore

/// The fixed 61-byte header of a Kafka record batch, magic 2 (big-endian):
///
/// ```
/// offset size field
///  0     8    baseOffset
///  8     4    batchLength            bytes after this field (total size - 12)
/// 12     4    partitionLeaderEpoch
/// 16     1    magic                  2
/// 17     4    crc                    CRC-32C of bytes 21..<end (attributes to the last record)
/// 21     2    attributes             bits 0-2 compression, 3 timestamp type, 4 transactional, 5 control,
///                                    6 delete horizon flag
/// 23     4    lastOffsetDelta
/// 27     8    baseTimestamp
/// 35     8    maxTimestamp
/// 43     8    producerId
/// 51     2    producerEpoch
/// 53     4    baseSequence
/// 57     4    recordsCount
/// 61     …    records (possibly compressed)
/// ```
///
/// The broker rewrites only `baseOffset` and `partitionLeaderEpoch` (outside the CRC) and, for
/// `LogAppendTime` topics, `maxTimestamp` and the timestamp-type bit (inside it).
public struct RecordBatchHeader: Hashable, Sendable {
    public static let size = 61
    /// Bytes before `batchLength`'s payload: baseOffset + batchLength.
    public static let logOverhead = 12
    public static let crcOffset = 17
    public static let attributesOffset = 21
    public static let magicOffset = 16

    public var baseOffset: Int64
    public var batchLength: Int32
    public var partitionLeaderEpoch: Int32
    public var magic: Int8
    public var crc: UInt32
    public var attributes: RecordBatchAttributes
    public var lastOffsetDelta: Int32
    public var baseTimestamp: Int64
    public var maxTimestamp: Int64
    public var producerId: Int64
    public var producerEpoch: Int16
    public var baseSequence: Int32
    public var recordsCount: Int32

    public init(
        baseOffset: Int64 = 0, batchLength: Int32 = 0, partitionLeaderEpoch: Int32 = -1, magic: Int8 = 2,
        crc: UInt32 = 0, attributes: RecordBatchAttributes = .init(), lastOffsetDelta: Int32 = 0,
        baseTimestamp: Int64 = 0, maxTimestamp: Int64 = 0, producerId: Int64 = -1, producerEpoch: Int16 = -1,
        baseSequence: Int32 = -1, recordsCount: Int32 = 0
    ) {
        self.baseOffset = baseOffset
        self.batchLength = batchLength
        self.partitionLeaderEpoch = partitionLeaderEpoch
        self.magic = magic
        self.crc = crc
        self.attributes = attributes
        self.lastOffsetDelta = lastOffsetDelta
        self.baseTimestamp = baseTimestamp
        self.maxTimestamp = maxTimestamp
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.baseSequence = baseSequence
        self.recordsCount = recordsCount
    }

    /// Total size of the batch on the wire: `batchLength + 12`.
    public var totalSize: Int { Int(batchLength) + Self.logOverhead }
    /// Offset of the last record in the batch.
    public var lastOffset: Int64 { baseOffset + Int64(lastOffsetDelta) }
    /// The sequence number of the last record, wrapping at Int32.max as Kafka does.
    public var lastSequence: Int32 {
        guard baseSequence >= 0 else { return -1 }
        let last = Int64(baseSequence) + Int64(lastOffsetDelta)
        return Int32(truncatingIfNeeded: last > Int64(Int32.max) ? last - Int64(Int32.max) - 1 : last)
    }

    /// Reads a header at `index` without moving the reader index. Returns nil if fewer than 61 bytes
    /// are available; throws if the magic byte is not 2 or the length is impossible.
    public static func peek(_ buffer: ByteBuffer, at index: Int) throws -> RecordBatchHeader? {
        guard buffer.writerIndex - index >= 17 else { return nil }
        let magic = buffer.getInteger(at: index + magicOffset, as: Int8.self)!
        guard magic == 2 else { throw KafkaProtocolError.unsupportedMagic(magic) }
        guard buffer.writerIndex - index >= size else { return nil }
        func i16(_ o: Int) -> Int16 { buffer.getInteger(at: index + o, endianness: .big, as: Int16.self)! }
        func i32(_ o: Int) -> Int32 { buffer.getInteger(at: index + o, endianness: .big, as: Int32.self)! }
        func i64(_ o: Int) -> Int64 { buffer.getInteger(at: index + o, endianness: .big, as: Int64.self)! }
        let header = RecordBatchHeader(
            baseOffset: i64(0), batchLength: i32(8), partitionLeaderEpoch: i32(12), magic: magic,
            crc: UInt32(bitPattern: i32(17)), attributes: RecordBatchAttributes(rawValue: i16(21)),
            lastOffsetDelta: i32(23), baseTimestamp: i64(27), maxTimestamp: i64(35), producerId: i64(43),
            producerEpoch: i16(51), baseSequence: i32(53), recordsCount: i32(57))
        guard Int(header.batchLength) >= size - logOverhead else {
            throw KafkaProtocolError.corruptRecord("batch length \(header.batchLength) shorter than the header")
        }
        return header
    }

    /// Writes the 61 header bytes (the CRC field as stored in `crc`).
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(baseOffset, endianness: .big)
        buffer.writeInteger(batchLength, endianness: .big)
        buffer.writeInteger(partitionLeaderEpoch, endianness: .big)
        buffer.writeInteger(magic, endianness: .big)
        buffer.writeInteger(crc, endianness: .big)
        buffer.writeInteger(attributes.rawValue, endianness: .big)
        buffer.writeInteger(lastOffsetDelta, endianness: .big)
        buffer.writeInteger(baseTimestamp, endianness: .big)
        buffer.writeInteger(maxTimestamp, endianness: .big)
        buffer.writeInteger(producerId, endianness: .big)
        buffer.writeInteger(producerEpoch, endianness: .big)
        buffer.writeInteger(baseSequence, endianness: .big)
        buffer.writeInteger(recordsCount, endianness: .big)
    }

    /// Computes the CRC-32C of the batch starting at `index` (bytes attributes..<end).
    public static func computeCRC(_ buffer: ByteBuffer, batchAt index: Int, totalSize: Int) -> UInt32 {
        buffer.withUnsafeReadableBytes { raw in
            let start = index - buffer.readerIndex + attributesOffset
            let count = totalSize - attributesOffset
            return rampart_crc32c(0, raw.baseAddress! + start, count)
        }
    }
}

/// The attributes field of a record batch.
public struct RecordBatchAttributes: Hashable, Sendable {
    public var rawValue: Int16
    public init(rawValue: Int16 = 0) { self.rawValue = rawValue }

    /// Compression codec id: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    public var compressionCodecID: Int16 {
        get { rawValue & 0x07 }
        set { rawValue = (rawValue & ~0x07) | (newValue & 0x07) }
    }
    /// true for LogAppendTime, false for CreateTime.
    public var isLogAppendTime: Bool {
        get { rawValue & 0x08 != 0 }
        set { rawValue = newValue ? rawValue | 0x08 : rawValue & ~0x08 }
    }
    public var isTransactional: Bool {
        get { rawValue & 0x10 != 0 }
        set { rawValue = newValue ? rawValue | 0x10 : rawValue & ~0x10 }
    }
    public var isControl: Bool {
        get { rawValue & 0x20 != 0 }
        set { rawValue = newValue ? rawValue | 0x20 : rawValue & ~0x20 }
    }
    public var hasDeleteHorizon: Bool {
        get { rawValue & 0x40 != 0 }
        set { rawValue = newValue ? rawValue | 0x40 : rawValue & ~0x40 }
    }
}

/// CRC-32C (Castagnoli) over a byte buffer's readable bytes, using SSE4.2 where available.
public enum CRC32C {
    public static func checksum(_ buffer: ByteBuffer, seed: UInt32 = 0) -> UInt32 {
        buffer.withUnsafeReadableBytes { raw in
            guard let base = raw.baseAddress else { return seed }
            return rampart_crc32c(seed, base, raw.count)
        }
    }

    public static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress else { return seed }
        return rampart_crc32c(seed, base, bytes.count)
    }

    public static func softwareChecksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress else { return seed }
        return rampart_crc32c_software(seed, base, bytes.count)
    }

    /// Whether the SSE4.2 path is in use.
    public static var isHardwareAccelerated: Bool { rampart_crc32c_hardware_available() != 0 }
}
