import KafkaProtocol
import NIOCore
import NIOEmbedded
import Testing

@Suite struct FrameDecoderTests {
    private func makeChannel(limits: KafkaFrameLimits) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(KafkaFrameDecoder(limits: limits)))
        return channel
    }

    private func frame(_ payload: [UInt8]) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeInteger(Int32(payload.count), endianness: .big)
        b.writeBytes(payload)
        return b
    }

    @Test func splitsFramesDeliveredOneByteAtATime() throws {
        let channel = try makeChannel(limits: KafkaFrameLimits())
        var stream = frame([1, 2, 3])
        var second = frame(Array(repeating: 9, count: 300))
        stream.writeBuffer(&second)
        var empty = frame([])
        stream.writeBuffer(&empty)
        while let byte = stream.readSlice(length: 1) {
            try channel.writeInbound(byte)
        }
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(bytes: [1, 2, 3]))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(bytes: Array(repeating: 9, count: 300)))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer())
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        #expect(try channel.finish().isClean)
    }

    @Test func progressCountsTheBytesStillAwaited() throws {
        let progress = KafkaFrameProgress()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(KafkaFrameDecoder(limits: KafkaFrameLimits(), progress: progress)))
        var stream = frame(Array(repeating: 7, count: 1000))
        var next = frame([1, 2])
        stream.writeBuffer(&next)
        // The size prefix is incomplete: nothing is known yet.
        try channel.writeInbound(stream.readSlice(length: 3)!)
        #expect(progress.bytesAwaited == 0)
        try channel.writeInbound(stream.readSlice(length: 97)!)
        #expect(progress.bytesAwaited == 904)
        try channel.writeInbound(stream.readSlice(length: 903)!)
        #expect(progress.bytesAwaited == 1)
        // The first frame completes and the next one's prefix is cut after 2 bytes.
        try channel.writeInbound(stream.readSlice(length: 3)!)
        #expect(progress.bytesAwaited == 0)
        try channel.writeInbound(stream.readSlice(length: 3)!)
        #expect(progress.bytesAwaited == 1)
        // The last byte completes the frame and leaves nothing: the decoder is not called on empty.
        try channel.writeInbound(stream)
        #expect(progress.bytesAwaited == 0)
        #expect(try channel.readInbound(as: ByteBuffer.self)?.readableBytes == 1000)
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(bytes: [1, 2]))
        #expect(try channel.finish().isClean)
    }

    @Test func manyFramesInOneRead() throws {
        let channel = try makeChannel(limits: KafkaFrameLimits())
        var stream = ByteBuffer()
        for i in 0..<100 {
            var f = frame([UInt8(i), UInt8(i)])
            stream.writeBuffer(&f)
        }
        try channel.writeInbound(stream)
        for i in 0..<100 {
            #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(bytes: [UInt8(i), UInt8(i)]))
        }
        #expect(try channel.finish().isClean)
    }

    @Test func oversizeLengthIsRefusedBeforeTheBodyArrives() throws {
        let channel = try makeChannel(limits: KafkaFrameLimits(maxFrameSize: 1000))
        var b = ByteBuffer()
        b.writeInteger(Int32.max, endianness: .big)
        #expect(throws: KafkaFrameError(claimedSize: Int64(Int32.max), limit: 1000)) {
            try channel.writeInbound(b)
        }
        _ = try? channel.finish()
    }

    @Test func negativeLengthIsRefused() throws {
        let channel = try makeChannel(limits: KafkaFrameLimits())
        var b = ByteBuffer()
        b.writeInteger(Int32(-5), endianness: .big)
        #expect(throws: KafkaFrameError.self) { try channel.writeInbound(b) }
        _ = try? channel.finish()
    }

    @Test func preAuthenticationLimitAppliesUntilAuthenticated() throws {
        let limits = KafkaFrameLimits(maxFrameSize: 1 << 20, preAuthenticationMaxFrameSize: 100)
        #expect(limits.currentLimit == 100)
        var ok = frame(Array(repeating: 1, count: 100))
        #expect(try KafkaFrameDecoder.nextFrame(from: &ok, limit: limits.currentLimit)?.readableBytes == 100)
        var big = frame(Array(repeating: 1, count: 101))
        #expect(throws: KafkaFrameError.self) { try KafkaFrameDecoder.nextFrame(from: &big, limit: limits.currentLimit) }
        limits.isAuthenticated = true
        #expect(limits.currentLimit == 1 << 20)
        #expect(try KafkaFrameDecoder.nextFrame(from: &big, limit: limits.currentLimit)?.readableBytes == 101)
    }

    @Test func incompleteFrameConsumesNothing() throws {
        var b = frame([1, 2, 3, 4])
        b.moveWriterIndex(to: b.writerIndex - 1)
        let before = b.readerIndex
        #expect(try KafkaFrameDecoder.nextFrame(from: &b, limit: 100) == nil)
        #expect(b.readerIndex == before)
    }

    @Test func partialFrameAtEOFIsDropped() throws {
        let channel = try makeChannel(limits: KafkaFrameLimits())
        var b = frame([1, 2, 3, 4])
        b.moveWriterIndex(to: b.writerIndex - 2)
        try channel.writeInbound(b)
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        _ = try channel.finish(acceptAlreadyClosed: false)
    }

    @Test func encoderPrefixesSize() throws {
        let channel = EmbeddedChannel(handler: MessageToByteHandler(KafkaFrameEncoder()))
        try channel.writeOutbound(ByteBuffer(bytes: [7, 8]))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(bytes: [0, 0, 0, 2, 7, 8]))
        #expect(try channel.finish().isClean)
    }
}
