import NIOCore

/// A record batch compression codec: bits 0–2 of the batch attributes.
///
/// Every codec compresses and decompresses whole `ByteBuffer`s. Decompression takes a caller-supplied
/// bound on the output size so a small hostile payload (a "zip bomb") cannot exhaust memory: output
/// beyond `maxSize` bytes is an error, detected as it is produced, and the output buffer never grows past
/// the power of two above `maxSize` (NIO rounds capacities up to powers of two).
///
/// Formats, as Kafka clients use them:
/// - `gzip`: RFC 1952 on write; gzip (including concatenated members) or zlib on read.
/// - `snappy`: raw snappy on write (as librdkafka and the Java client write it); raw snappy or the xerial
///   framing that kafka-python and aiokafka write on read.
/// - `lz4`: the LZ4 frame format with independent 64 KiB blocks on write (the Java client rejects linked
///   blocks); any LZ4 frame on read.
/// - `zstd`: a zstd frame on write; streaming decompression on read, so frames without a content size
///   (librdkafka's streaming writer) decode too.
public enum CompressionCodec: Int16, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case none = 0
    case gzip = 1
    case snappy = 2
    case lz4 = 3
    case zstd = 4

    /// The codec named by a batch's attribute bits, or an error for the reserved ids 5–7.
    public init(attributes: RecordBatchAttributes) throws {
        guard let codec = CompressionCodec(rawValue: attributes.compressionCodecID) else {
            throw KafkaProtocolError.compression("unknown compression codec id \(attributes.compressionCodecID)")
        }
        self = codec
    }

    /// Kafka's `compression.type` name for the codec.
    public var description: String {
        switch self {
        case .none: "none"
        case .gzip: "gzip"
        case .snappy: "snappy"
        case .lz4: "lz4"
        case .zstd: "zstd"
        }
    }

    /// Compresses all readable bytes of `input`.
    ///
    /// - Parameter level: the codec's compression level (gzip 1–9, lz4 0–12, zstd 1–22); nil for the
    ///   library default. Ignored by `none` and `snappy`.
    public func compress(
        _ input: ByteBuffer, level: Int32? = nil, allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws -> ByteBuffer {
        switch self {
        case .none: input
        case .gzip: try GzipCodec.compress(input, level: level, allocator: allocator)
        case .snappy: try SnappyCodec.compress(input, allocator: allocator)
        case .lz4: try LZ4Codec.compress(input, level: level, allocator: allocator)
        case .zstd: try ZstdCodec.compress(input, level: level, allocator: allocator)
        }
    }

    /// Decompresses all readable bytes of `input`, failing with `KafkaProtocolError.compression` if the
    /// data is malformed, truncated, or would decompress to more than `maxSize` bytes.
    public func decompress(
        _ input: ByteBuffer, maxSize: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws -> ByteBuffer {
        precondition(maxSize >= 0, "maxSize must not be negative")
        switch self {
        case .none:
            guard input.readableBytes <= maxSize else { throw DecompressionOutput.limitError(maxSize) }
            return input
        case .gzip: return try GzipCodec.decompress(input, maxSize: maxSize, allocator: allocator)
        case .snappy: return try SnappyCodec.decompress(input, maxSize: maxSize, allocator: allocator)
        case .lz4: return try LZ4Codec.decompress(input, maxSize: maxSize, allocator: allocator)
        case .zstd: return try ZstdCodec.decompress(input, maxSize: maxSize, allocator: allocator)
        }
    }
}

/// A growing output buffer for streaming decompressors that never writes more than `maxSize + 1` bytes
/// (one past the bound, to detect overflow).
struct DecompressionOutput {
    private(set) var buffer: ByteBuffer
    let maxSize: Int

    init(maxSize: Int, inputSize: Int, allocator: ByteBufferAllocator) {
        self.maxSize = maxSize
        // Guess 4× the input, within [4 KiB, 1 MiB], never above the bound: most batches fit at once.
        let guess = min(max(inputSize.multipliedReportingOverflow(by: 4).partialValue, 4096), 1 << 20)
        self.buffer = allocator.buffer(capacity: min(guess, maxSize &+ 1))
    }

    static func limitError(_ maxSize: Int) -> KafkaProtocolError {
        .compression("decompressed data exceeds the limit of \(maxSize) bytes")
    }

    /// Bytes that may still be produced, counting one byte past the bound so overflow is detectable.
    private var allowance: Int { maxSize &+ 1 - buffer.writerIndex }

    /// Calls `body` with a writable region (at most the remaining allowance) and commits what it wrote.
    /// Throws once the output passes `maxSize`.
    mutating func fill(_ body: (UnsafeMutableRawBufferPointer) throws -> Int) throws {
        let allowance = self.allowance
        let wanted = min(max(buffer.writerIndex, 4096), allowance)
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { raw in
            try body(UnsafeMutableRawBufferPointer(rebasing: raw[0..<min(raw.count, allowance)]))
        }
        guard buffer.writerIndex <= maxSize else { throw Self.limitError(maxSize) }
    }

    /// Reserves exactly `count` more bytes (a length known in advance) and lets `body` fill them.
    mutating func append(exactly count: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        guard count <= maxSize - buffer.writerIndex else { throw Self.limitError(maxSize) }
        guard count > 0 else { return }
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
            try body(UnsafeMutableRawBufferPointer(rebasing: raw[0..<count]))
            return count
        }
    }
}

extension ByteBuffer {
    /// Runs `body` on the readable bytes with a non-null base address (C APIs dislike null even for 0 bytes).
    func withNonNullReadableBytes<R>(_ body: (UnsafeRawPointer, Int) throws -> R) rethrows -> R {
        try withUnsafeReadableBytes { raw in
            if let base = raw.baseAddress { return try body(base, raw.count) }
            return try withUnsafeTemporaryAllocation(byteCount: 1, alignment: 1) { tmp in
                try body(UnsafeRawPointer(tmp.baseAddress!), 0)
            }
        }
    }
}
