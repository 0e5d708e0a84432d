internal import CZlib
import NIOCore

/// gzip through zlib. Writes RFC 1952 gzip (zlib's header: mtime 0, so output is deterministic); reads
/// gzip or zlib streams, and concatenated gzip members as Java's `GZIPInputStream` does.
enum GzipCodec {
    static func compress(_ input: ByteBuffer, level: Int32?, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        let stream = try ZlibStream(deflateLevel: level ?? Z_DEFAULT_COMPRESSION)
        return try input.withNonNullReadableBytes { base, count in
            guard count <= Int(UInt32.max) / 2 else { throw KafkaProtocolError.compression("gzip input too large") }
            let bound = Int(deflateBound(stream.pointer, uLong(count)))
            var output = allocator.buffer(capacity: bound)
            try output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { out in
                let z = stream.pointer
                z.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
                z.pointee.avail_in = uInt(count)
                z.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                z.pointee.avail_out = uInt(min(out.count, Int(UInt32.max)))
                let status = deflate(z, Z_FINISH)
                guard status == Z_STREAM_END else { throw stream.error("gzip compression failed", status) }
                return Int(z.pointee.total_out)
            }
            return output
        }
    }

    static func decompress(_ input: ByteBuffer, maxSize: Int, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        // windowBits 15 + 32: detect a zlib or gzip header automatically.
        let stream = try ZlibStream(inflateWindowBits: 15 + 32)
        var output = DecompressionOutput(maxSize: maxSize, inputSize: input.readableBytes, allocator: allocator)
        try input.withNonNullReadableBytes { base, count in
            guard count <= Int(UInt32.max) else { throw KafkaProtocolError.compression("gzip input too large") }
            let z = stream.pointer
            z.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
            z.pointee.avail_in = uInt(count)
            while true {
                var status: Int32 = Z_OK
                try output.fill { out in
                    z.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    z.pointee.avail_out = uInt(min(out.count, Int(UInt32.max)))
                    status = inflate(z, Z_NO_FLUSH)
                    return out.count - Int(z.pointee.avail_out)
                }
                switch status {
                case Z_STREAM_END:
                    // Another gzip member may follow; anything else after the stream is ignored, as Java does.
                    let rest = UnsafeRawBufferPointer(start: z.pointee.next_in, count: Int(z.pointee.avail_in))
                    guard rest.count >= 2, rest[0] == 0x1F, rest[1] == 0x8B else { return }
                    let reset = inflateReset(z)
                    guard reset == Z_OK else { throw stream.error("gzip reset failed", reset) }
                case Z_OK:
                    continue
                case Z_BUF_ERROR where z.pointee.avail_in == 0:
                    throw KafkaProtocolError.compression("gzip data is truncated")
                case Z_BUF_ERROR:
                    continue
                default:
                    throw stream.error("gzip data is corrupt", status)
                }
            }
        }
        return output.buffer
    }
}

/// One zlib `z_stream`, heap-allocated because zlib keeps a pointer back to it, ended in `deinit`.
/// (`deinit` also runs when an initialiser throws after storing `pointer`; ending a zeroed stream is a
/// harmless no-op in zlib.)
final class ZlibStream {
    let pointer: UnsafeMutablePointer<z_stream>
    private let isDeflate: Bool

    init(deflateLevel: Int32) throws {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: z_stream())
        isDeflate = true
        // windowBits 15 + 16: write a gzip wrapper rather than zlib's.
        let status = deflateInit2_(
            pointer, deflateLevel, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
            Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw KafkaProtocolError.compression("gzip compressor initialisation failed (zlib status \(status))")
        }
    }

    init(inflateWindowBits: Int32) throws {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: z_stream())
        isDeflate = false
        let status = inflateInit2_(pointer, inflateWindowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw KafkaProtocolError.compression("gzip decompressor initialisation failed (zlib status \(status))")
        }
    }

    func error(_ what: String, _ status: Int32) -> KafkaProtocolError {
        if let message = pointer.pointee.msg {
            return .compression("\(what): \(String(cString: message))")
        }
        return .compression("\(what) (zlib status \(status))")
    }

    deinit {
        if isDeflate { deflateEnd(pointer) } else { inflateEnd(pointer) }
        pointer.deallocate()
    }
}
