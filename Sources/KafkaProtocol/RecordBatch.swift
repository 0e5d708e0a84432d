import NIOCore

/// A Kafka record batch, magic 2, in its wire form: the 61-byte header and the records section exactly
/// as stored (compressed unless the codec is `none`). See `RecordBatchHeader` for the header layout and
/// `Record` for the record layout.
///
/// Build one from records with `init(records:…)`, write it with `write(to:)`, read one with
/// `read(from:)` (or several with `RecordBatchReader`), check it with `validateCRC()` and walk its records
/// with `records()`. Reading copies nothing: `payload`, and the keys and values of an uncompressed batch's
/// records, are slices of the input buffer.
///
/// Message sets of magic 0 and 1 are refused with `KafkaProtocolError.unsupportedMagic`. Apache Kafka
/// (Produce v3+, `ProduceRequest.validateRecords`) refuses such a batch with `InvalidRecordException`,
/// which a 2.4+ broker answers as INVALID_RECORD (87) and older brokers answered as CORRUPT_MESSAGE (2)
/// (the exception then extended `CorruptRecordException`). UNSUPPORTED_FOR_MESSAGE_FORMAT (43) is Kafka's
/// answer to a feature the topic's message format lacks, not to a malformed request. The broker should
/// map `unsupportedMagic` to INVALID_RECORD (87), or to CORRUPT_MESSAGE (2) for a client whose error table
/// predates 87; a CRC mismatch or any other `corruptRecord` is CORRUPT_MESSAGE (2), as in Kafka.
public struct RecordBatch: Hashable, Sendable {
    /// Default bound on a batch's decompressed records section: 64 × 1 MiB (Kafka's `message.max.bytes`
    /// is about 1 MiB of *compressed* data; 64× leaves room for very compressible payloads).
    public static let defaultMaxUncompressedSize = 64 << 20

    /// The header. `header.crc` is the stored CRC; use `updateCRC()` after changing fields it covers.
    public var header: RecordBatchHeader
    /// The records section as stored on the wire (compressed for codecs other than `none`).
    public var payload: ByteBuffer

    /// Wraps an already-encoded header and records section without checking them.
    public init(header: RecordBatchHeader, payload: ByteBuffer) {
        self.header = header
        self.payload = payload
    }

    /// Builds a batch from records, computing `lastOffsetDelta` (the last record's offset delta),
    /// `maxTimestamp` (unless given), the record count, the length and the CRC, and compressing the
    /// records section with `compression`.
    ///
    /// Record offset and timestamp deltas are taken as given: number them from 0 for a new batch.
    public init(
        records: [Record], baseOffset: Int64 = 0, baseTimestamp: Int64, maxTimestamp: Int64? = nil,
        compression: CompressionCodec = .none, compressionLevel: Int32? = nil,
        producerId: Int64 = -1, producerEpoch: Int16 = -1, baseSequence: Int32 = -1,
        isTransactional: Bool = false, isControl: Bool = false, isLogAppendTime: Bool = false,
        partitionLeaderEpoch: Int32 = -1, allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws {
        guard records.count <= Int(Int32.max) else { throw KafkaProtocolError.invalidLength("record count", records.count) }
        let uncompressedSize = records.reduce(0) { $0 + $1.encodedSize }
        guard uncompressedSize <= Int(Int32.max) - RecordBatchHeader.size else {
            throw KafkaProtocolError.invalidLength("records of a batch", uncompressedSize)
        }
        var uncompressed = allocator.buffer(capacity: uncompressedSize)
        for record in records { record.write(to: &uncompressed) }
        let payload = try compression.compress(uncompressed, level: compressionLevel, allocator: allocator)
        let batchLength = RecordBatchHeader.size - RecordBatchHeader.logOverhead + payload.readableBytes
        guard batchLength <= Int(Int32.max) else { throw KafkaProtocolError.invalidLength("record batch", batchLength) }

        var attributes = RecordBatchAttributes()
        attributes.compressionCodecID = compression.rawValue
        attributes.isTransactional = isTransactional
        attributes.isControl = isControl
        attributes.isLogAppendTime = isLogAppendTime
        let maxDelta = records.lazy.map(\.timestampDelta).max()
        self.header = RecordBatchHeader(
            baseOffset: baseOffset, batchLength: Int32(batchLength), partitionLeaderEpoch: partitionLeaderEpoch,
            attributes: attributes, lastOffsetDelta: records.last?.offsetDelta ?? 0, baseTimestamp: baseTimestamp,
            maxTimestamp: maxTimestamp ?? maxDelta.map { baseTimestamp &+ $0 } ?? baseTimestamp,
            producerId: producerId, producerEpoch: producerEpoch, baseSequence: baseSequence,
            recordsCount: Int32(records.count))
        self.payload = payload
        updateCRC()
    }

    /// The compression codec named by the attributes; throws for the reserved ids 5–7.
    public var compression: CompressionCodec {
        get throws { try CompressionCodec(attributes: header.attributes) }
    }

    /// Size of the batch on the wire.
    public var totalSize: Int { RecordBatchHeader.size + payload.readableBytes }

    /// Writes the header and the records section.
    public func write(to buffer: inout ByteBuffer) {
        var header = self.header
        header.batchLength = Int32(truncatingIfNeeded: totalSize - RecordBatchHeader.logOverhead)
        header.write(to: &buffer)
        buffer.writeImmutableBuffer(payload)
    }

    /// Reads one complete batch from the front of `buffer`, consuming exactly its bytes.
    ///
    /// Returns nil and leaves `buffer` untouched when it holds only the start of a batch (as the end of a
    /// Fetch response may). Throws `unsupportedMagic` for magic 0/1 (and any magic but 2) once the magic
    /// byte is available, and `corruptRecord` for a length shorter than the header. Does not check the
    /// CRC; see `validateCRC()`.
    public static func read(from buffer: inout ByteBuffer) throws -> RecordBatch? {
        guard let header = try RecordBatchHeader.peek(buffer, at: buffer.readerIndex),
            buffer.readableBytes >= header.totalSize
        else { return nil }
        buffer.moveReaderIndex(forwardBy: RecordBatchHeader.size)
        let payload = buffer.readSlice(length: header.totalSize - RecordBatchHeader.size)!
        return RecordBatch(header: header, payload: payload)
    }

    // MARK: CRC

    /// The CRC-32C of the batch as it would be written: attributes through the end of the records.
    public func computeCRC() -> UInt32 {
        // The CRC covers header bytes 21..<61; encode just those big-endian on the stack.
        let coveredHeaderSize = RecordBatchHeader.size - RecordBatchHeader.attributesOffset
        let headerCRC = withUnsafeTemporaryAllocation(byteCount: coveredHeaderSize, alignment: 8) { raw in
            var offset = 0
            func put<T: FixedWidthInteger>(_ value: T) {
                raw.storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
                offset += MemoryLayout<T>.size
            }
            put(header.attributes.rawValue)
            put(header.lastOffsetDelta)
            put(header.baseTimestamp)
            put(header.maxTimestamp)
            put(header.producerId)
            put(header.producerEpoch)
            put(header.baseSequence)
            put(header.recordsCount)
            return CRC32C.checksum(UnsafeRawBufferPointer(raw))
        }
        return CRC32C.checksum(payload, seed: headerCRC)
    }

    /// Whether the stored CRC matches the batch's contents.
    public var hasValidCRC: Bool { computeCRC() == header.crc }

    /// Throws `corruptRecord` if the stored CRC does not match the batch's contents (Kafka answers a
    /// produce of such a batch with CORRUPT_MESSAGE, error code 2).
    public func validateCRC() throws {
        let computed = computeCRC()
        guard computed == header.crc else {
            throw KafkaProtocolError.corruptRecord(
                "CRC mismatch: stored \(hex(header.crc)), computed \(hex(computed))")
        }
    }

    /// Recomputes the stored CRC (after changing `maxTimestamp`, the attributes or other covered fields).
    public mutating func updateCRC() {
        header.crc = computeCRC()
    }

    // MARK: Records

    /// An iterator over the batch's records, decompressing the records section first if needed (one
    /// allocation for the whole batch, bounded by `maxUncompressedSize`; none for an uncompressed batch).
    public func records(
        maxUncompressedSize: Int = RecordBatch.defaultMaxUncompressedSize,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws -> RecordIterator {
        let count = Int(header.recordsCount)
        guard count >= 0 else { throw KafkaProtocolError.corruptRecord("negative record count \(count)") }
        let codec = try compression
        // An uncompressed section is iterated in place: nothing is allocated, so the bound does not apply.
        let records = codec == .none || (count == 0 && payload.readableBytes == 0)
            ? payload : try codec.decompress(payload, maxSize: maxUncompressedSize, allocator: allocator)
        // Every record takes at least 7 bytes; reject impossible counts before reading any.
        guard count <= records.readableBytes / Record.minimumEncodedSize else {
            throw KafkaProtocolError.corruptRecord(
                "record count \(count) cannot fit in \(records.readableBytes) bytes of records")
        }
        return RecordIterator(buffer: records, remainingCount: count)
    }

    /// Decodes every record into an array (convenient for tests and tools; the broker iterates instead).
    public func decodeRecords(
        maxUncompressedSize: Int = RecordBatch.defaultMaxUncompressedSize,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws -> [Record] {
        var iterator = try records(maxUncompressedSize: maxUncompressedSize, allocator: allocator)
        var result = [Record]()
        result.reserveCapacity(iterator.remainingCount)
        while let record = try iterator.next() { result.append(record) }
        return result
    }

    /// Checks the CRC, the codec, and that the records section holds exactly `recordsCount` well-formed
    /// records whose offset deltas do not pass `lastOffsetDelta`.
    public func validate(maxUncompressedSize: Int = RecordBatch.defaultMaxUncompressedSize) throws {
        try validateCRC()
        guard header.lastOffsetDelta >= 0 else {
            throw KafkaProtocolError.corruptRecord("negative last offset delta \(header.lastOffsetDelta)")
        }
        var iterator = try records(maxUncompressedSize: maxUncompressedSize)
        while let record = try iterator.next() {
            guard record.offsetDelta >= 0, record.offsetDelta <= header.lastOffsetDelta else {
                throw KafkaProtocolError.corruptRecord(
                    "record offset delta \(record.offsetDelta) outside 0...\(header.lastOffsetDelta)")
            }
        }
    }

    /// The absolute offset of one of this batch's records.
    public func offset(of record: Record) -> Int64 { header.baseOffset &+ Int64(record.offsetDelta) }

    /// The timestamp of one of this batch's records: the batch's `maxTimestamp` for LogAppendTime
    /// batches, else `baseTimestamp + timestampDelta`.
    public func timestamp(of record: Record) -> Int64 {
        header.attributes.isLogAppendTime ? header.maxTimestamp : header.baseTimestamp &+ record.timestampDelta
    }
}

extension Record {
    /// The smallest possible encoded record: a one-byte length and six one-byte fields.
    static let minimumEncodedSize = 7
}

/// Iterates the records of one batch. Each record's key, value and headers are slices of the batch's
/// (decompressed) records section; iterating allocates nothing per record.
public struct RecordIterator: Sendable {
    private var buffer: ByteBuffer
    /// Records not yet returned.
    public private(set) var remainingCount: Int

    init(buffer: ByteBuffer, remainingCount: Int) {
        self.buffer = buffer
        self.remainingCount = remainingCount
    }

    /// The next record, or nil after the last. Throws `corruptRecord` if a record is malformed, if the
    /// batch declares more records than it holds, or if bytes remain after the declared count.
    public mutating func next() throws -> Record? {
        guard remainingCount > 0 else {
            guard buffer.readableBytes == 0 else {
                throw KafkaProtocolError.corruptRecord("\(buffer.readableBytes) bytes follow the batch's last record")
            }
            return nil
        }
        guard buffer.readableBytes > 0 else {
            throw KafkaProtocolError.corruptRecord("batch declares \(remainingCount) more records than it holds")
        }
        remainingCount -= 1
        return try Record.read(from: &buffer)
    }
}

/// Iterates the record batches in a Produce or Fetch `records` field, which may hold several batches
/// back to back. A Fetch response may end with the start of a batch cut off at the fetch size limit:
/// `next()` then returns nil and `remainingBytes` says how many bytes were left unread.
public struct RecordBatchReader: Sendable {
    private var buffer: ByteBuffer

    /// Reads batches from the readable bytes of `records`.
    public init(_ records: ByteBuffer) {
        self.buffer = records
    }

    /// The next complete batch, or nil when no complete batch remains. Throws for a batch whose magic is
    /// not 2 or whose header is impossible; the reader does not advance past a throwing batch.
    public mutating func next() throws -> RecordBatch? {
        try RecordBatch.read(from: &buffer)
    }

    /// Bytes not yet consumed: after `next()` returned nil, the size of a partial trailing batch (0 if the
    /// input ended exactly at a batch boundary).
    public var remainingBytes: Int { buffer.readableBytes }

    /// Reads every complete batch of `records`. A partial trailing batch is ignored when
    /// `allowPartialTrailingBatch` is true (Fetch responses) and is a `corruptRecord` error otherwise
    /// (Produce requests, which Kafka requires to hold whole batches).
    public static func readAll(_ records: ByteBuffer, allowPartialTrailingBatch: Bool) throws -> [RecordBatch] {
        var reader = RecordBatchReader(records)
        var batches = [RecordBatch]()
        while let batch = try reader.next() { batches.append(batch) }
        if reader.remainingBytes > 0 && !allowPartialTrailingBatch {
            throw KafkaProtocolError.corruptRecord("\(reader.remainingBytes) bytes of an incomplete batch after the last batch")
        }
        return batches
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
