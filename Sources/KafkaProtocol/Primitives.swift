import NIOCore

/// A Kafka UUID (`uuid` schema type): 16 bytes, big-endian, shown as unpadded URL-safe base64 like Kafka.
public struct KafkaUUID: Hashable, Sendable, CustomStringConvertible {
    public var mostSignificantBits: UInt64
    public var leastSignificantBits: UInt64

    public init(mostSignificantBits: UInt64, leastSignificantBits: UInt64) {
        self.mostSignificantBits = mostSignificantBits
        self.leastSignificantBits = leastSignificantBits
    }

    /// The all-zero UUID, Kafka's `Uuid.ZERO_UUID` (the schema default).
    public static let zero = KafkaUUID(mostSignificantBits: 0, leastSignificantBits: 0)

    /// A random version-4 UUID.
    public static func random() -> KafkaUUID {
        var rng = SystemRandomNumberGenerator()
        var msb = rng.next() as UInt64
        var lsb = rng.next() as UInt64
        msb = (msb & ~0xF000) | 0x4000
        lsb = (lsb & ~(0xC000_0000_0000_0000 as UInt64)) | 0x8000_0000_0000_0000
        return KafkaUUID(mostSignificantBits: msb, leastSignificantBits: lsb)
    }

    public var description: String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var bytes = [UInt8]()
        bytes.reserveCapacity(16)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: mostSignificantBits >> UInt64(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: leastSignificantBits >> UInt64(shift))) }
        var out = ""
        var i = 0
        while i < bytes.count {
            let b0 = Int(bytes[i])
            let b1 = i + 1 < bytes.count ? Int(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? Int(bytes[i + 2]) : 0
            out.append(alphabet[b0 >> 2])
            out.append(alphabet[((b0 & 3) << 4) | (b1 >> 4)])
            if i + 1 < bytes.count { out.append(alphabet[((b1 & 0xF) << 2) | (b2 >> 6)]) }
            if i + 2 < bytes.count { out.append(alphabet[b2 & 0x3F]) }
            i += 3
        }
        return out
    }
}

/// Size in bytes of `value` encoded as an unsigned varint.
@inlinable
public func kafkaUnsignedVarintSize(_ value: UInt64) -> Int {
    var v = value
    var n = 1
    while v >= 0x80 { v >>= 7; n += 1 }
    return n
}

/// Zigzag-encodes a signed 64-bit value (as in protobuf and Kafka record fields).
@inlinable public func kafkaZigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
/// Decodes a zigzag-encoded value.
@inlinable public func kafkaUnzigzag(_ v: UInt64) -> Int64 { Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1) }

// MARK: - Reading

extension ByteBuffer {
    @inlinable
    mutating func readKafkaFixed<T: FixedWidthInteger>(_ what: String, as: T.Type = T.self) throws -> T {
        guard let v = self.readInteger(endianness: .big, as: T.self) else { throw KafkaProtocolError.truncated(what) }
        return v
    }

    @inlinable public mutating func readKafkaInt8(_ what: String) throws -> Int8 { try readKafkaFixed(what) }
    @inlinable public mutating func readKafkaInt16(_ what: String) throws -> Int16 { try readKafkaFixed(what) }
    @inlinable public mutating func readKafkaInt32(_ what: String) throws -> Int32 { try readKafkaFixed(what) }
    @inlinable public mutating func readKafkaInt64(_ what: String) throws -> Int64 { try readKafkaFixed(what) }
    @inlinable public mutating func readKafkaUInt16(_ what: String) throws -> UInt16 { try readKafkaFixed(what) }
    @inlinable public mutating func readKafkaUInt32(_ what: String) throws -> UInt32 { try readKafkaFixed(what) }

    @inlinable
    public mutating func readKafkaBool(_ what: String) throws -> Bool {
        try readKafkaInt8(what) != 0
    }

    @inlinable
    public mutating func readKafkaFloat64(_ what: String) throws -> Double {
        Double(bitPattern: try readKafkaFixed(what, as: UInt64.self))
    }

    @inlinable
    public mutating func readKafkaUUID(_ what: String) throws -> KafkaUUID {
        let msb: UInt64 = try readKafkaFixed(what)
        let lsb: UInt64 = try readKafkaFixed(what)
        return KafkaUUID(mostSignificantBits: msb, leastSignificantBits: lsb)
    }

    /// Reads an unsigned LEB128 varint of at most `maxBytes` bytes (5 for 32-bit, 10 for 64-bit values).
    @inlinable
    public mutating func readKafkaUnsignedVarlong(_ what: String, maxBytes: Int = 10) throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var index = self.readerIndex
        for _ in 0..<maxBytes {
            guard let byte = self.getInteger(at: index, as: UInt8.self) else { throw KafkaProtocolError.truncated(what) }
            index += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                self.moveReaderIndex(to: index)
                return result
            }
            shift += 7
        }
        throw KafkaProtocolError.invalidValue("varint for \(what) longer than \(maxBytes) bytes")
    }

    @inlinable
    public mutating func readKafkaUnsignedVarint(_ what: String) throws -> UInt32 {
        let v = try readKafkaUnsignedVarlong(what, maxBytes: 5)
        guard v <= UInt64(UInt32.max) else { throw KafkaProtocolError.invalidValue("varint for \(what) exceeds 32 bits") }
        return UInt32(v)
    }

    /// Reads a zigzag varint (record fields).
    @inlinable
    public mutating func readKafkaVarint(_ what: String) throws -> Int32 {
        let v = kafkaUnzigzag(UInt64(try readKafkaUnsignedVarint(what)))
        return Int32(truncatingIfNeeded: v)
    }

    /// Reads a zigzag varlong (record fields).
    @inlinable
    public mutating func readKafkaVarlong(_ what: String) throws -> Int64 {
        kafkaUnzigzag(try readKafkaUnsignedVarlong(what))
    }

    /// Reads a length prefix: int16/int32 (classic) or unsigned varint N+1 (compact). Returns nil for null.
    @inlinable
    mutating func readKafkaLength(_ what: String, compact: Bool, wide: Bool) throws -> Int? {
        let length: Int
        if compact {
            let raw = try readKafkaUnsignedVarint(what)
            if raw == 0 { return nil }
            length = Int(raw) - 1
        } else if wide {
            let raw = try readKafkaInt32(what)
            if raw == -1 { return nil }
            length = Int(raw)
        } else {
            let raw = try readKafkaInt16(what)
            if raw == -1 { return nil }
            length = Int(raw)
        }
        guard length >= 0, length <= self.readableBytes else { throw KafkaProtocolError.invalidLength(what, length) }
        return length
    }

    /// Reads a (possibly null) string: int16 length (classic) or compact length.
    @inlinable
    public mutating func readKafkaNullableString(_ what: String, compact: Bool) throws -> String? {
        guard let length = try readKafkaLength(what, compact: compact, wide: false) else { return nil }
        guard let s = self.readString(length: length) else { throw KafkaProtocolError.truncated(what) }
        return s
    }

    @inlinable
    public mutating func readKafkaString(_ what: String, compact: Bool) throws -> String {
        guard let s = try readKafkaNullableString(what, compact: compact) else {
            throw KafkaProtocolError.invalidValue("null for non-nullable string \(what)")
        }
        return s
    }

    /// Reads (possibly null) bytes as a slice sharing storage with this buffer: no copy.
    @inlinable
    public mutating func readKafkaNullableBytes(_ what: String, compact: Bool) throws -> ByteBuffer? {
        guard let length = try readKafkaLength(what, compact: compact, wide: true) else { return nil }
        guard let slice = self.readSlice(length: length) else { throw KafkaProtocolError.truncated(what) }
        return slice
    }

    @inlinable
    public mutating func readKafkaBytes(_ what: String, compact: Bool) throws -> ByteBuffer {
        guard let b = try readKafkaNullableBytes(what, compact: compact) else {
            throw KafkaProtocolError.invalidValue("null for non-nullable bytes \(what)")
        }
        return b
    }

    /// Reads an array count (int32 or compact). Returns nil for a null array. The count is bounded by
    /// the remaining input (every element takes at least one byte), so nothing is allocated for a lie.
    @inlinable
    public mutating func readKafkaArrayCount(_ what: String, compact: Bool) throws -> Int? {
        try readKafkaLength(what, compact: compact, wide: true)
    }

    /// Reads a tagged-field section: for each field, `body(tag, payload)` is called with the field's
    /// bytes; it returns false for an unknown tag, which is then skipped. A known field must consume its
    /// payload exactly.
    @inlinable
    public mutating func readKafkaTaggedFields(
        _ what: String,
        _ body: (UInt32, inout ByteBuffer) throws -> Bool
    ) throws {
        let count = try readKafkaUnsignedVarint("\(what) tagged field count")
        guard Int(count) <= self.readableBytes else { throw KafkaProtocolError.invalidLength("\(what) tagged fields", Int(count)) }
        var previous: Int64 = -1
        for _ in 0..<count {
            let tag = try readKafkaUnsignedVarint("\(what) tag")
            guard Int64(tag) > previous else { throw KafkaProtocolError.invalidValue("\(what) tagged fields out of order") }
            previous = Int64(tag)
            let size = try readKafkaUnsignedVarint("\(what) tag \(tag) size")
            guard Int(size) <= self.readableBytes, var payload = self.readSlice(length: Int(size)) else {
                throw KafkaProtocolError.invalidLength("\(what) tag \(tag)", Int(size))
            }
            if try body(tag, &payload), payload.readableBytes != 0 {
                throw KafkaProtocolError.trailingBytes("\(what) tag \(tag)", payload.readableBytes)
            }
        }
    }
}

// MARK: - Writing

extension ByteBuffer {
    @inlinable public mutating func writeKafkaInt8(_ v: Int8) { writeInteger(v, endianness: .big) }
    @inlinable public mutating func writeKafkaInt16(_ v: Int16) { writeInteger(v, endianness: .big) }
    @inlinable public mutating func writeKafkaInt32(_ v: Int32) { writeInteger(v, endianness: .big) }
    @inlinable public mutating func writeKafkaInt64(_ v: Int64) { writeInteger(v, endianness: .big) }
    @inlinable public mutating func writeKafkaUInt16(_ v: UInt16) { writeInteger(v, endianness: .big) }
    @inlinable public mutating func writeKafkaUInt32(_ v: UInt32) { writeInteger(v, endianness: .big) }
    @inlinable public mutating func writeKafkaBool(_ v: Bool) { writeInteger(v ? 1 : 0, as: UInt8.self) }
    @inlinable public mutating func writeKafkaFloat64(_ v: Double) { writeInteger(v.bitPattern, endianness: .big) }

    @inlinable
    public mutating func writeKafkaUUID(_ v: KafkaUUID) {
        writeInteger(v.mostSignificantBits, endianness: .big)
        writeInteger(v.leastSignificantBits, endianness: .big)
    }

    @inlinable
    public mutating func writeKafkaUnsignedVarlong(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        writeInteger(UInt8(v))
    }

    @inlinable public mutating func writeKafkaUnsignedVarint(_ v: UInt32) { writeKafkaUnsignedVarlong(UInt64(v)) }
    @inlinable public mutating func writeKafkaVarint(_ v: Int32) { writeKafkaUnsignedVarlong(kafkaZigzag(Int64(v)) & 0xFFFF_FFFF) }
    @inlinable public mutating func writeKafkaVarlong(_ v: Int64) { writeKafkaUnsignedVarlong(kafkaZigzag(v)) }

    @inlinable
    mutating func writeKafkaLength(_ length: Int?, compact: Bool, wide: Bool) {
        if compact {
            writeKafkaUnsignedVarint(length.map { UInt32($0 + 1) } ?? 0)
        } else if wide {
            writeKafkaInt32(length.map { Int32($0) } ?? -1)
        } else {
            writeKafkaInt16(length.map { Int16($0) } ?? -1)
        }
    }

    /// Writes a (possibly null) string. Classic strings are limited to 32767 bytes.
    @inlinable
    public mutating func writeKafkaNullableString(_ s: String?, compact: Bool) throws {
        guard let s else { writeKafkaLength(nil, compact: compact, wide: false); return }
        let count = s.utf8.count
        guard compact || count <= Int(Int16.max) else { throw KafkaProtocolError.invalidLength("string", count) }
        writeKafkaLength(count, compact: compact, wide: false)
        writeString(s)
    }

    @inlinable
    public mutating func writeKafkaString(_ s: String, compact: Bool) throws { try writeKafkaNullableString(s, compact: compact) }

    @inlinable
    public mutating func writeKafkaNullableBytes(_ b: ByteBuffer?, compact: Bool) {
        guard let b else { writeKafkaLength(nil, compact: compact, wide: true); return }
        writeKafkaLength(b.readableBytes, compact: compact, wide: true)
        writeImmutableBuffer(b)
    }

    @inlinable
    public mutating func writeKafkaBytes(_ b: ByteBuffer, compact: Bool) { writeKafkaNullableBytes(b, compact: compact) }

    @inlinable
    public mutating func writeKafkaArrayCount(_ count: Int?, compact: Bool) {
        writeKafkaLength(count, compact: compact, wide: true)
    }
}
