import NIOCore

// Building blocks the generated message code calls. Each takes the decisions the schema makes per
// version (`compact`, `nullable`) as arguments so the generated code stays a flat list of statements.

extension KafkaProtocolError {
    /// A null in a field that is not nullable at this version.
    static func nullNotAllowed(_ what: String) -> Self {
        .invalidValue("null for \(what), which is not nullable at this version")
    }
}

/// Arrays read from the wire reserve at most this many elements up front; a lying count cannot make us
/// allocate more than the input justifies.
let kafkaArrayReserveLimit = 1024

// MARK: - Reading

extension ByteBuffer {
    mutating func readKafkaNullableString(_ what: String, compact: Bool, nullable: Bool) throws -> String? {
        let value = try readKafkaNullableString(what, compact: compact)
        if value == nil && !nullable { throw KafkaProtocolError.nullNotAllowed(what) }
        return value
    }

    mutating func readKafkaNullableBytes(_ what: String, compact: Bool, nullable: Bool) throws -> ByteBuffer? {
        let value = try readKafkaNullableBytes(what, compact: compact)
        if value == nil && !nullable { throw KafkaProtocolError.nullNotAllowed(what) }
        return value
    }

    mutating func readKafkaArrayElements<T>(
        _ count: Int, _ element: (inout ByteBuffer) throws -> T
    ) throws -> [T] {
        var items: [T] = []
        items.reserveCapacity(Swift.min(count, kafkaArrayReserveLimit))
        for _ in 0..<count {
            items.append(try element(&self))
        }
        return items
    }

    mutating func readKafkaArray<T>(
        _ what: String, compact: Bool, _ element: (inout ByteBuffer) throws -> T
    ) throws -> [T] {
        guard let count = try readKafkaArrayCount(what, compact: compact) else {
            throw KafkaProtocolError.nullNotAllowed(what)
        }
        return try readKafkaArrayElements(count, element)
    }

    mutating func readKafkaNullableArray<T>(
        _ what: String, compact: Bool, nullable: Bool, _ element: (inout ByteBuffer) throws -> T
    ) throws -> [T]? {
        guard let count = try readKafkaArrayCount(what, compact: compact) else {
            if !nullable { throw KafkaProtocolError.nullNotAllowed(what) }
            return nil
        }
        return try readKafkaArrayElements(count, element)
    }

    mutating func readKafkaStructArray<T: KafkaStruct>(_ what: String, compact: Bool, version: Int16) throws -> [T] {
        try readKafkaArray(what, compact: compact) { buffer in
            var item = T()
            try item.read(from: &buffer, version: version)
            return item
        }
    }

    mutating func readKafkaNullableStructArray<T: KafkaStruct>(
        _ what: String, compact: Bool, nullable: Bool, version: Int16
    ) throws -> [T]? {
        try readKafkaNullableArray(what, compact: compact, nullable: nullable) { buffer in
            var item = T()
            try item.read(from: &buffer, version: version)
            return item
        }
    }

    /// A nullable struct: at nullable versions an int8 marker (-1 null, 1 present) precedes it.
    mutating func readKafkaNullableStruct<T: KafkaStruct>(_ what: String, nullable: Bool, version: Int16) throws -> T? {
        if nullable {
            let marker = try readKafkaInt8(what)
            if marker < 0 { return nil }
        }
        var item = T()
        try item.read(from: &self, version: version)
        return item
    }
}

// MARK: - Writing

extension ByteBuffer {
    mutating func writeKafkaNullableString(_ s: String?, compact: Bool, nullable: Bool, _ what: String) throws {
        if s == nil && !nullable { throw KafkaProtocolError.nullNotAllowed(what) }
        try writeKafkaNullableString(s, compact: compact)
    }

    mutating func writeKafkaNullableBytes(_ b: ByteBuffer?, compact: Bool, nullable: Bool, _ what: String) throws {
        if b == nil && !nullable { throw KafkaProtocolError.nullNotAllowed(what) }
        writeKafkaNullableBytes(b, compact: compact)
    }

    mutating func writeKafkaArray<T>(_ items: [T], compact: Bool, _ element: (inout ByteBuffer, T) throws -> Void) throws {
        writeKafkaArrayCount(items.count, compact: compact)
        for item in items {
            try element(&self, item)
        }
    }

    mutating func writeKafkaNullableArray<T>(
        _ items: [T]?, compact: Bool, nullable: Bool, _ what: String, _ element: (inout ByteBuffer, T) throws -> Void
    ) throws {
        guard let items else {
            if !nullable { throw KafkaProtocolError.nullNotAllowed(what) }
            writeKafkaArrayCount(nil, compact: compact)
            return
        }
        try writeKafkaArray(items, compact: compact, element)
    }

    mutating func writeKafkaStructArray<T: KafkaStruct>(_ items: [T], compact: Bool, version: Int16) throws {
        writeKafkaArrayCount(items.count, compact: compact)
        for item in items {
            try item.write(to: &self, version: version)
        }
    }

    mutating func writeKafkaNullableStructArray<T: KafkaStruct>(
        _ items: [T]?, compact: Bool, nullable: Bool, version: Int16, _ what: String
    ) throws {
        guard let items else {
            if !nullable { throw KafkaProtocolError.nullNotAllowed(what) }
            writeKafkaArrayCount(nil, compact: compact)
            return
        }
        try writeKafkaStructArray(items, compact: compact, version: version)
    }

    mutating func writeKafkaNullableStruct<T: KafkaStruct>(_ value: T?, nullable: Bool, version: Int16, _ what: String) throws {
        guard let value else {
            if !nullable { throw KafkaProtocolError.nullNotAllowed(what) }
            writeKafkaInt8(-1)
            return
        }
        if nullable { writeKafkaInt8(1) }
        try value.write(to: &self, version: version)
    }

    /// Writes one tagged field: tag, payload size, payload (which `body` writes).
    mutating func writeKafkaTaggedField(_ tag: UInt32, _ body: (inout ByteBuffer) throws -> Void) throws {
        var payload = ByteBuffer()
        try body(&payload)
        writeKafkaUnsignedVarint(tag)
        writeKafkaUnsignedVarint(UInt32(payload.readableBytes))
        writeBuffer(&payload)
    }
}
