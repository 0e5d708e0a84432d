internal import CLZ4
internal import CSnappy
internal import CZstd
import NIOCore

/// Snappy: raw blocks on write; raw blocks or xerial framing on read.
///
/// Xerial framing (snappy-java's `SnappyOutputStream`, written by kafka-python and aiokafka):
///
/// ```
/// 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00   magic (8 bytes)
/// int32 version, int32 compatible     (ignored: some writers store them little-endian)
/// { int32 length, raw snappy block }* big-endian lengths, each block decompressed independently
/// ```
enum SnappyCodec {
    static let xerialMagic: [UInt8] = [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00]
    static let xerialHeaderSize = 16

    static func compress(_ input: ByteBuffer, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        try input.withNonNullReadableBytes { base, count in
            let bound = snappy_max_compressed_length(count)
            var output = allocator.buffer(capacity: bound)
            try output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { out in
                var length = out.count
                let status = snappy_compress(
                    base.assumingMemoryBound(to: CChar.self), count,
                    out.baseAddress!.assumingMemoryBound(to: CChar.self), &length)
                guard status == SNAPPY_OK else {
                    throw KafkaProtocolError.compression("snappy compression failed (status \(status.rawValue))")
                }
                return length
            }
            return output
        }
    }

    /// Whether `input` starts with the xerial magic.
    static func isXerial(_ input: ByteBuffer) -> Bool {
        guard input.readableBytes >= xerialHeaderSize else { return false }
        return input.readableBytesView.prefix(xerialMagic.count).elementsEqual(xerialMagic)
    }

    static func decompress(_ input: ByteBuffer, maxSize: Int, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        guard isXerial(input) else {
            return try input.withNonNullReadableBytes { base, count in
                var output = DecompressionOutput(maxSize: maxSize, inputSize: 0, allocator: allocator)
                try decompressBlock(UnsafeRawBufferPointer(start: base, count: count), into: &output)
                return output.buffer
            }
        }
        var chunks = input
        chunks.moveReaderIndex(forwardBy: xerialHeaderSize)
        var output = DecompressionOutput(maxSize: maxSize, inputSize: 0, allocator: allocator)
        while chunks.readableBytes > 0 {
            guard let length = chunks.readInteger(endianness: .big, as: Int32.self) else {
                throw KafkaProtocolError.compression("xerial snappy chunk length is truncated")
            }
            guard length >= 0, Int(length) <= chunks.readableBytes else {
                throw KafkaProtocolError.compression("xerial snappy chunk length \(length) exceeds the input")
            }
            let block = chunks.readSlice(length: Int(length))!
            try block.withNonNullReadableBytes { base, count in
                try decompressBlock(UnsafeRawBufferPointer(start: base, count: count), into: &output)
            }
        }
        return output.buffer
    }

    private static func decompressBlock(_ block: UnsafeRawBufferPointer, into output: inout DecompressionOutput) throws {
        let source = block.baseAddress!.assumingMemoryBound(to: CChar.self)
        var length = 0
        guard snappy_uncompressed_length(source, block.count, &length) == SNAPPY_OK else {
            throw KafkaProtocolError.compression("snappy block header is corrupt")
        }
        try output.append(exactly: length) { out in
            var written = out.count
            let status = snappy_uncompress(source, block.count, out.baseAddress!.assumingMemoryBound(to: CChar.self), &written)
            guard status == SNAPPY_OK, written == out.count else {
                throw KafkaProtocolError.compression("snappy data is corrupt (status \(status.rawValue))")
            }
        }
        // snappy_uncompress is not called for an empty block; still reject garbage after a zero length.
        if length == 0, snappy_validate_compressed_buffer(source, block.count) != SNAPPY_OK {
            throw KafkaProtocolError.compression("snappy data is corrupt")
        }
    }
}

/// LZ4 frame format (not the raw block format, and not the pre-0.10 Kafka framing with the broken header
/// checksum, which only message format v0/v1 used).
enum LZ4Codec {
    static func compress(_ input: ByteBuffer, level: Int32?, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        var preferences = LZ4F_preferences_t()
        preferences.frameInfo.blockSizeID = LZ4F_max64KB
        preferences.frameInfo.blockMode = LZ4F_blockIndependent
        preferences.compressionLevel = level ?? 0
        return try input.withNonNullReadableBytes { base, count in
            let bound = LZ4F_compressFrameBound(count, &preferences)
            var output = allocator.buffer(capacity: bound)
            try output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { out in
                let written = LZ4F_compressFrame(out.baseAddress, out.count, base, count, &preferences)
                guard LZ4F_isError(written) == 0 else {
                    throw KafkaProtocolError.compression("lz4 compression failed: \(String(cString: LZ4F_getErrorName(written)))")
                }
                return written
            }
            return output
        }
    }

    static func decompress(_ input: ByteBuffer, maxSize: Int, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        let context = try LZ4DecompressionContext()
        var output = DecompressionOutput(maxSize: maxSize, inputSize: input.readableBytes, allocator: allocator)
        try input.withNonNullReadableBytes { base, count in
            guard count > 0 else { throw KafkaProtocolError.compression("lz4 data is empty") }
            var consumed = 0
            // LZ4F_decompress returns 0 when a frame is complete; a following frame starts a new one.
            var hint = 1
            while consumed < count || hint != 0 {
                var progressed = false
                try output.fill { out in
                    var outSize = out.count
                    var inSize = count - consumed
                    hint = LZ4F_decompress(context.pointer, out.baseAddress, &outSize, base + consumed, &inSize, nil)
                    guard LZ4F_isError(hint) == 0 else {
                        throw KafkaProtocolError.compression("lz4 data is corrupt: \(String(cString: LZ4F_getErrorName(hint)))")
                    }
                    consumed += inSize
                    progressed = inSize > 0 || outSize > 0
                    return outSize
                }
                if !progressed {
                    // With input and output space available the decoder always moves, so no progress
                    // means the input ended inside a frame.
                    throw KafkaProtocolError.compression("lz4 frame is truncated")
                }
            }
        }
        return output.buffer
    }
}

/// One `LZ4F_dctx`, freed in `deinit`.
final class LZ4DecompressionContext {
    let pointer: OpaquePointer

    init() throws {
        var context: OpaquePointer?
        let status = LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(status) == 0, let context else {
            throw KafkaProtocolError.compression("lz4 decompressor initialisation failed")
        }
        pointer = context
    }

    deinit { LZ4F_freeDecompressionContext(pointer) }
}

/// zstd. Decompression streams, so frames that do not record their content size decode too, and output
/// is bounded as it is produced. The frame's window is bounded by zstd's default `windowLogMax` (27).
enum ZstdCodec {
    static func compress(_ input: ByteBuffer, level: Int32?, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        try input.withNonNullReadableBytes { base, count in
            let bound = ZSTD_compressBound(count)
            var output = allocator.buffer(capacity: bound)
            try output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { out in
                let written = ZSTD_compress(out.baseAddress, out.count, base, count, level ?? 3)
                guard ZSTD_isError(written) == 0 else {
                    throw KafkaProtocolError.compression("zstd compression failed: \(String(cString: ZSTD_getErrorName(written)))")
                }
                return written
            }
            return output
        }
    }

    static func decompress(_ input: ByteBuffer, maxSize: Int, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        let stream = try ZstdDecompressionStream()
        var output = DecompressionOutput(maxSize: maxSize, inputSize: input.readableBytes, allocator: allocator)
        try input.withNonNullReadableBytes { base, count in
            guard count > 0 else { throw KafkaProtocolError.compression("zstd data is empty") }
            var source = ZSTD_inBuffer(src: base, size: count, pos: 0)
            // Non-zero `hint` means the current frame is incomplete.
            var hint = 1
            while source.pos < source.size || hint != 0 {
                var progressed = false
                try output.fill { out in
                    var destination = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                    let before = source.pos
                    hint = ZSTD_decompressStream(stream.pointer, &destination, &source)
                    guard ZSTD_isError(hint) == 0 else {
                        throw KafkaProtocolError.compression("zstd data is corrupt: \(String(cString: ZSTD_getErrorName(hint)))")
                    }
                    progressed = source.pos > before || destination.pos > 0
                    return destination.pos
                }
                if !progressed {
                    // With input and output space available the decoder always moves, so no progress
                    // means the input ended inside a frame.
                    throw KafkaProtocolError.compression("zstd frame is truncated")
                }
            }
        }
        return output.buffer
    }
}

/// One `ZSTD_DStream`, freed in `deinit`.
final class ZstdDecompressionStream {
    let pointer: OpaquePointer

    init() throws {
        guard let stream = ZSTD_createDStream() else {
            throw KafkaProtocolError.compression("zstd decompressor initialisation failed")
        }
        pointer = stream
        let status = ZSTD_initDStream(stream)
        guard ZSTD_isError(status) == 0 else {
            throw KafkaProtocolError.compression("zstd decompressor initialisation failed")
        }
    }

    deinit { ZSTD_freeDStream(pointer) }
}
