import NIOCore

/// One record inside a v2 record batch.
///
/// ```
/// length          varint   bytes after this field
/// attributes      int8     unused, 0
/// timestampDelta  varlong  relative to the batch's baseTimestamp
/// offsetDelta     varint   relative to the batch's baseOffset
/// keyLength       varint   -1 (any negative) = null
/// key             bytes
/// valueLength     varint   -1 (any negative) = null
/// value           bytes
/// headerCount     varint
/// headers         { keyLength varint, key UTF-8, valueLength varint (-1 = null), value bytes }*
/// ```
///
/// All varints are zigzag-encoded. A parsed record's `key`, `value` and `headers` are slices of the
/// batch's bytes: reading a record allocates nothing.
public struct Record: Hashable, Sendable {
    /// The record attributes byte (no bits are defined; Kafka writes 0).
    public var attributes: Int8
    /// Timestamp relative to the batch's `baseTimestamp`.
    public var timestampDelta: Int64
    /// Offset relative to the batch's `baseOffset`.
    public var offsetDelta: Int32
    /// The key, or nil for a null key.
    public var key: ByteBuffer?
    /// The value, or nil for a null value (a tombstone on compacted topics).
    public var value: ByteBuffer?
    /// The record headers, kept in their encoded form.
    public var headers: RecordHeaders

    /// Creates a record from its fields.
    public init(
        offsetDelta: Int32, timestampDelta: Int64 = 0, key: ByteBuffer?, value: ByteBuffer?,
        headers: RecordHeaders = RecordHeaders(), attributes: Int8 = 0
    ) {
        self.attributes = attributes
        self.timestampDelta = timestampDelta
        self.offsetDelta = offsetDelta
        self.key = key
        self.value = value
        self.headers = headers
    }

    /// Size of the record body (everything after the length varint).
    public var bodySize: Int {
        1 + kafkaUnsignedVarintSize(kafkaZigzag(timestampDelta))
            + kafkaUnsignedVarintSize(kafkaZigzag(Int64(offsetDelta)))
            + Self.nullableBytesSize(key) + Self.nullableBytesSize(value)
            + kafkaUnsignedVarintSize(kafkaZigzag(Int64(headers.count))) + headers.encoded.readableBytes
    }

    /// Size of the record on the wire, length prefix included.
    public var encodedSize: Int {
        let body = bodySize
        return kafkaUnsignedVarintSize(kafkaZigzag(Int64(body))) + body
    }

    static func nullableBytesSize(_ bytes: ByteBuffer?) -> Int {
        guard let bytes else { return 1 }
        return kafkaUnsignedVarintSize(kafkaZigzag(Int64(bytes.readableBytes))) + bytes.readableBytes
    }

    /// Appends the record, length prefix included.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeKafkaVarint(Int32(bodySize))
        buffer.writeInteger(attributes)
        buffer.writeKafkaVarlong(timestampDelta)
        buffer.writeKafkaVarint(offsetDelta)
        buffer.writeRecordNullableBytes(key)
        buffer.writeRecordNullableBytes(value)
        buffer.writeKafkaVarint(Int32(headers.count))
        buffer.writeImmutableBuffer(headers.encoded)
    }

    /// Reads one record (length prefix included) from the front of `buffer`, consuming exactly its bytes.
    /// Throws `corruptRecord` if a length runs past the record or the fields do not fill it exactly.
    public static func read(from buffer: inout ByteBuffer) throws -> Record {
        let start = buffer.readerIndex
        do {
            let length = try buffer.readKafkaVarint("record length")
            guard length >= 0, Int(length) <= buffer.readableBytes else {
                throw KafkaProtocolError.corruptRecord(
                    "record length \(length) but \(buffer.readableBytes) bytes remain in the batch")
            }
            var body = buffer.readSlice(length: Int(length))!
            let record = try readBody(&body)
            guard body.readableBytes == 0 else {
                throw KafkaProtocolError.corruptRecord(
                    "record fields end \(body.readableBytes) bytes before the record length \(length)")
            }
            return record
        } catch let error as KafkaProtocolError {
            buffer.moveReaderIndex(to: start)
            throw error.isSameKind(as: .corruptRecord("")) ? error : .corruptRecord("\(error.message) in a record")
        }
    }

    private static func readBody(_ body: inout ByteBuffer) throws -> Record {
        let attributes = try body.readKafkaInt8("record attributes")
        let timestampDelta = try body.readKafkaVarlong("record timestamp delta")
        let offsetDelta = try body.readKafkaVarint("record offset delta")
        let key = try body.readRecordNullableBytes("record key")
        let value = try body.readRecordNullableBytes("record value")
        let headerCount = try body.readKafkaVarint("record header count")
        guard headerCount >= 0 else { throw KafkaProtocolError.corruptRecord("negative header count \(headerCount)") }
        // Walk the headers to validate and delimit them; they are decoded again only if someone asks.
        let headersStart = body.readerIndex
        let beforeHeaders = body
        for _ in 0..<headerCount {
            let keyLength = try body.readKafkaVarint("record header key length")
            guard keyLength >= 0, Int(keyLength) <= body.readableBytes else {
                throw KafkaProtocolError.corruptRecord("invalid record header key length \(keyLength)")
            }
            body.moveReaderIndex(forwardBy: Int(keyLength))
            _ = try body.readRecordNullableBytes("record header value")
        }
        let headers = RecordHeaders(
            count: Int(headerCount), encoded: beforeHeaders.getSlice(at: headersStart, length: body.readerIndex - headersStart)!)
        return Record(
            offsetDelta: offsetDelta, timestampDelta: timestampDelta, key: key, value: value, headers: headers,
            attributes: attributes)
    }
}

/// A record header: a UTF-8 key and a nullable value.
public struct RecordHeader: Hashable, Sendable {
    /// The header key.
    public var key: String
    /// The header value, or nil for null.
    public var value: ByteBuffer?

    /// Creates a header.
    public init(key: String, value: ByteBuffer?) {
        self.key = key
        self.value = value
    }

    /// Creates a header with a UTF-8 string value.
    public init(key: String, value: String) {
        self.init(key: key, value: ByteBuffer(string: value))
    }
}

/// The headers of one record, kept encoded (the bytes after the header count) so a parsed record
/// carries them as one slice. Iterate to decode them; equality compares the encoded bytes.
public struct RecordHeaders: Hashable, Sendable, Sequence, ExpressibleByArrayLiteral {
    /// Number of headers.
    public let count: Int
    /// The encoded headers, without the count.
    public let encoded: ByteBuffer

    init(count: Int, encoded: ByteBuffer) {
        self.count = count
        self.encoded = encoded
    }

    /// No headers.
    public init() {
        self.init(count: 0, encoded: ByteBuffer())
    }

    /// Encodes `headers`.
    public init(_ headers: [RecordHeader]) {
        guard !headers.isEmpty else { self.init(); return }
        var buffer = ByteBuffer()
        for header in headers {
            buffer.writeKafkaVarint(Int32(header.key.utf8.count))
            buffer.writeString(header.key)
            buffer.writeRecordNullableBytes(header.value)
        }
        self.init(count: headers.count, encoded: buffer)
    }

    /// Encodes the listed headers.
    public init(arrayLiteral elements: RecordHeader...) {
        self.init(elements)
    }

    /// Whether there are no headers.
    public var isEmpty: Bool { count == 0 }

    /// Decodes the headers one by one. Invalid UTF-8 in a key is replaced (U+FFFD), as Java does.
    public func makeIterator() -> Iterator { Iterator(remaining: count, buffer: encoded) }

    /// Decodes headers lazily from the encoded bytes.
    public struct Iterator: IteratorProtocol {
        var remaining: Int
        var buffer: ByteBuffer

        /// The next header, or nil after the last one.
        public mutating func next() -> RecordHeader? {
            guard remaining > 0 else { return nil }
            remaining -= 1
            // Parsed records were validated while reading, and built ones were encoded by us, so the
            // bytes are well formed; stop rather than trap if they are not.
            let keyBytes: ByteBuffer
            let value: ByteBuffer?
            do {
                let keyLength = try buffer.readKafkaVarint("header key length")
                guard keyLength >= 0, let key = buffer.readSlice(length: Int(keyLength)) else {
                    remaining = 0
                    return nil
                }
                keyBytes = key
                value = try buffer.readRecordNullableBytes("header value")
            } catch {
                remaining = 0
                return nil
            }
            return RecordHeader(key: String(decoding: keyBytes.readableBytesView, as: UTF8.self), value: value)
        }
    }
}

extension ByteBuffer {
    /// Writes record-style nullable bytes: zigzag varint length (-1 for null) then the bytes.
    mutating func writeRecordNullableBytes(_ bytes: ByteBuffer?) {
        guard let bytes else {
            writeKafkaVarint(-1)
            return
        }
        writeKafkaVarint(Int32(bytes.readableBytes))
        writeImmutableBuffer(bytes)
    }

    /// Reads record-style nullable bytes as a slice; any negative length means null, as in Java.
    mutating func readRecordNullableBytes(_ what: String) throws -> ByteBuffer? {
        // `what` is a literal at every call site: no string is built unless there is an error.
        let length = try readKafkaVarint(what)
        if length < 0 { return nil }
        guard let slice = readSlice(length: Int(length)) else {
            throw KafkaProtocolError.corruptRecord("\(what) length \(length) but \(readableBytes) bytes remain")
        }
        return slice
    }
}
