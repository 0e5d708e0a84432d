import KafkaProtocol
import NIOCore
import Testing

@Suite struct CompressionTests {
    typealias S = RecordTestSupport
    static let compressed: [CompressionCodec] = [.gzip, .snappy, .lz4, .zstd]

    static let inputs: [ByteBuffer] = [
        ByteBuffer(),
        ByteBuffer(bytes: [42]),
        S.bytes(String(repeating: "kafka ", count: 1000)),
        S.pseudoRandom(count: 200_000, seed: 1),  // incompressible, several lz4 blocks
        S.pseudoRandom(count: 300_000, seed: 2, alphabet: 4),  // compressible, grows the output buffer
    ]

    @Test(arguments: CompressionCodec.allCases)
    func roundTrip(codec: CompressionCodec) throws {
        for input in Self.inputs {
            let compressed = try codec.compress(input)
            let output = try codec.decompress(compressed, maxSize: input.readableBytes)
            #expect(output == input, "\(codec) \(input.readableBytes) bytes")
        }
    }

    @Test(arguments: [CompressionCodec.gzip, .lz4, .zstd])
    func levelsRoundTrip(codec: CompressionCodec) throws {
        let input = S.pseudoRandom(count: 50_000, seed: 3, alphabet: 8)
        for level: Int32 in [1, 9] {
            #expect(try codec.decompress(codec.compress(input, level: level), maxSize: 50_000) == input)
        }
    }

    @Test(arguments: compressed)
    func decompressionBoundIsEnforced(codec: CompressionCodec) throws {
        // 8 MiB of zeros compresses to a few KiB: a miniature zip bomb.
        let bomb = try codec.compress(ByteBuffer(repeating: 0, count: 8 << 20))
        #expect(bomb.readableBytes < 1 << 20)
        for limit in [0, 1, 4095, 65_536, (8 << 20) - 1] {
            #expect(S.throwsKind(.compression("")) { _ = try codec.decompress(bomb, maxSize: limit) }, "\(codec) limit \(limit)")
        }
        #expect(try codec.decompress(bomb, maxSize: 8 << 20).readableBytes == 8 << 20)
    }

    @Test func noneRespectsTheBoundToo() {
        #expect(S.throwsKind(.compression("")) { _ = try CompressionCodec.none.decompress(ByteBuffer(repeating: 1, count: 10), maxSize: 9) })
    }

    @Test(arguments: compressed)
    func truncatedInputIsAnError(codec: CompressionCodec) throws {
        let input = S.pseudoRandom(count: 70_000, seed: 4, alphabet: 32)
        let compressed = try codec.compress(input)
        // Every cut for small outputs; a sample for large ones keeps the test quick.
        let step = max(1, compressed.readableBytes / 400)
        for length in stride(from: 0, to: compressed.readableBytes, by: step) {
            let cut = compressed.getSlice(at: compressed.readerIndex, length: length)!
            #expect(S.throwsKind(.compression("")) { _ = try codec.decompress(cut, maxSize: 1 << 20) }, "\(codec) cut at \(length)")
        }
    }

    @Test(arguments: compressed)
    func garbageIsAnError(codec: CompressionCodec) {
        let garbage = S.pseudoRandom(count: 1000, seed: 5)
        #expect(S.throwsKind(.compression("")) { _ = try codec.decompress(garbage, maxSize: 1 << 20) })
    }

    @Test(arguments: compressed)
    func corruptedBytesNeverCrash(codec: CompressionCodec) throws {
        let input = S.pseudoRandom(count: 20_000, seed: 6, alphabet: 16)
        let compressed = try codec.compress(input)
        var rng = Xorshift(seed: 99)
        for _ in 0..<300 {
            var mutated = compressed
            let index = mutated.readerIndex + Int(rng.next() % UInt64(mutated.readableBytes))
            mutated.setInteger(UInt8(truncatingIfNeeded: rng.next()), at: index)
            // Either an error or some output within the bound; never a crash or an overrun.
            if let output = try? codec.decompress(mutated, maxSize: 30_000) {
                #expect(output.readableBytes <= 30_000)
            }
        }
    }

    @Test func gzipReadsZlibAndConcatenatedMembers() throws {
        let a = S.bytes("first member; ")
        let b = S.bytes("second member")
        var joined = try CompressionCodec.gzip.compress(a)
        joined.writeImmutableBuffer(try CompressionCodec.gzip.compress(b))
        #expect(try CompressionCodec.gzip.decompress(joined, maxSize: 100) == S.bytes("first member; second member"))
        // zlib-wrapped deflate of "hello" (RFC 1950), as some writers produce.
        let zlib = S.bytes(hex: "789ccb48cdc9c90700062c0215")
        #expect(try CompressionCodec.gzip.decompress(zlib, maxSize: 100) == S.bytes("hello"))
    }

    @Test func gzipOutputIsGzipAndDeterministic() throws {
        let input = S.bytes("deterministic")
        let one = try CompressionCodec.gzip.compress(input)
        #expect(one.getBytes(at: one.readerIndex, length: 2) == [0x1F, 0x8B])
        #expect(try CompressionCodec.gzip.compress(input) == one)
    }

    @Test func snappyReadsXerialFraming() throws {
        // Three chunks, each an independent raw snappy block, behind the 16-byte xerial header.
        let parts = [S.bytes(String(repeating: "a", count: 40_000)), S.bytes("middle"), S.pseudoRandom(count: 5000, seed: 8)]
        var framed = ByteBuffer(bytes: [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])
        var expected = ByteBuffer()
        for part in parts {
            let block = try CompressionCodec.snappy.compress(part)
            framed.writeInteger(Int32(block.readableBytes))
            framed.writeImmutableBuffer(block)
            expected.writeImmutableBuffer(part)
        }
        #expect(try CompressionCodec.snappy.decompress(framed, maxSize: 1 << 20) == expected)
        // Version fields written little-endian (seen from some producers) are ignored.
        var littleEndian = framed
        littleEndian.setBytes([1, 0, 0, 0, 1, 0, 0, 0], at: littleEndian.readerIndex + 8)
        #expect(try CompressionCodec.snappy.decompress(littleEndian, maxSize: 1 << 20) == expected)
        // Header alone: no chunks, no data.
        let headerOnly = framed.getSlice(at: framed.readerIndex, length: 16)!
        #expect(try CompressionCodec.snappy.decompress(headerOnly, maxSize: 10).readableBytes == 0)
        // The bound applies across chunks, and a chunk length past the end is an error.
        #expect(S.throwsKind(.compression("")) { _ = try CompressionCodec.snappy.decompress(framed, maxSize: 40_005) })
        var badLength = framed
        badLength.setInteger(Int32(1 << 30), at: badLength.readerIndex + 16)
        #expect(S.throwsKind(.compression("")) { _ = try CompressionCodec.snappy.decompress(badLength, maxSize: 1 << 20) })
        var negative = framed
        negative.setInteger(Int32(-1), at: negative.readerIndex + 16)
        #expect(S.throwsKind(.compression("")) { _ = try CompressionCodec.snappy.decompress(negative, maxSize: 1 << 20) })
    }

    @Test func lz4WritesIndependentBlocksAndReadsConcatenatedFrames() throws {
        let input = S.pseudoRandom(count: 10_000, seed: 9, alphabet: 8)
        let frame = try CompressionCodec.lz4.compress(input)
        // Frame magic 0x184D2204 (little-endian), then FLG: version 01, block independence bit set.
        #expect(frame.getBytes(at: frame.readerIndex, length: 4) == [0x04, 0x22, 0x4D, 0x18])
        let flg = frame.getInteger(at: frame.readerIndex + 4, as: UInt8.self)!
        #expect(flg & 0xC0 == 0x40 && flg & 0x20 != 0)
        var twice = frame
        twice.writeImmutableBuffer(frame)
        var expected = input
        expected.writeImmutableBuffer(input)
        #expect(try CompressionCodec.lz4.decompress(twice, maxSize: 20_000) == expected)
    }

    @Test func zstdStreamsFramesWithoutContentSize() throws {
        // librdkafka streams zstd and so omits Frame_Content_Size. A minimal such frame: magic, FHD 0x00
        // (no content size, window descriptor follows), window 0x58, one last raw block of 5 bytes.
        let noSize = S.bytes(hex: "28b52ffd" + "00" + "58" + "290000" + "68656c6c6f")
        #expect(try CompressionCodec.zstd.decompress(noSize, maxSize: 5) == S.bytes("hello"))
        #expect(S.throwsKind(.compression("")) { _ = try CompressionCodec.zstd.decompress(noSize, maxSize: 4) })
    }

    @Test func unknownCodecIdIsAnError() {
        for id: Int16 in 5...7 {
            var attributes = RecordBatchAttributes()
            attributes.compressionCodecID = id
            #expect(S.throwsKind(.compression("")) { _ = try CompressionCodec(attributes: attributes) })
        }
    }
}

struct Xorshift {
    var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
