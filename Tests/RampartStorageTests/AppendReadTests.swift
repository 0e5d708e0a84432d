import KafkaProtocol
import NIOCore
import Testing
@testable import RampartStorage

@Suite struct AppendReadTests {
    @Test func appendAssignsOffsetsAndReadsBack() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs)
        let log = try await manager.createLog(tp0)
        let first = try await log.append(Batches.simple(count: 3), durability: .flushed)
        #expect(first == AppendResult(baseOffset: 0, lastOffset: 2, logAppendTime: -1, logStartOffset: 0))
        let second = try await log.append(
            Batches.concat([Batches.simple(count: 2, tag: "a"), Batches.simple(count: 4, tag: "b")]), durability: .written)
        #expect(second.baseOffset == 3 && second.lastOffset == 8)
        #expect(await log.logEndOffset == 9)
        #expect(await log.highWatermark == 9)

        let read = try await log.read(from: 0, maxBytes: 1 << 20)
        let batches = try Batches.decode(read.records)
        #expect(batches.map(\.header.baseOffset) == [0, 3, 5])
        #expect(batches.allSatisfy { $0.hasValidCRC })
        #expect(batches.map(\.header.partitionLeaderEpoch) == [0, 0, 0])
        let records = try Batches.records(read.records)
        #expect(records.map(\.offset) == Array(0..<9))
        #expect(records[3].key == "ka0")
    }

    @Test func readFromTheMiddleOfACompressedBatchReturnsTheWholeBatch() async throws {
        let manager = try await makeManager(fs: FaultInjectingFileSystem())
        let log = try await manager.createLog(tp0)
        _ = try await log.append(Batches.simple(count: 5, compression: .none), durability: .written)
        for codec in [CompressionCodec.gzip, .lz4, .zstd, .snappy] {
            _ = try await log.append(Batches.simple(count: 10, tag: "\(codec)", compression: codec), durability: .written)
        }
        // Offsets 5..<15 are the gzip batch; 12 is in its middle.
        let read = try await log.read(from: 12, maxBytes: 1)
        let batches = try Batches.decode(read.records)
        #expect(batches.count == 1)
        #expect(batches[0].header.baseOffset == 5)
        #expect(try batches[0].compression == .gzip)
        #expect(try batches[0].decodeRecords().count == 10)
        // The stored bytes are exactly the producer's compressed payload.
        let zstd = try Batches.decode(try await log.read(from: 30, maxBytes: 1).records)
        #expect(try zstd[0].compression == .zstd)
        #expect(zstd[0].header.baseOffset == 25)
    }

    @Test func maxBytesBoundsTheReadButReturnsAtLeastOneBatch() async throws {
        let manager = try await makeManager(fs: FaultInjectingFileSystem())
        let log = try await manager.createLog(tp0)
        for i in 0..<5 { _ = try await log.append(Batches.simple(count: 2, tag: "\(i)", valueSize: 100), durability: .written) }
        let one = try Batches.decode(try await log.read(from: 0, maxBytes: 10).records)
        #expect(one.count == 1)
        let size = one[0].totalSize
        let two = try Batches.decode(try await log.read(from: 0, maxBytes: size * 2 + size / 2).records)
        #expect(two.map(\.header.baseOffset) == [0, 2])
        let none = try await log.read(from: 0, maxBytes: 10, minOneBatch: false)
        #expect(none.records.readableBytes == 0)
    }

    @Test func readOutsideTheLogIsOffsetOutOfRange() async throws {
        let manager = try await makeManager(fs: FaultInjectingFileSystem())
        let log = try await manager.createLog(tp0)
        _ = try await log.append(Batches.simple(count: 3), durability: .written)
        let atEnd = try await log.read(from: 3, maxBytes: 100)
        #expect(atEnd.records.readableBytes == 0)
        #expect(atEnd.logEndOffset == 3)
        await #expect(throws: StorageError.self) { try await log.read(from: 4, maxBytes: 100) }
        do {
            _ = try await log.read(from: 4, maxBytes: 100)
        } catch let error as StorageError {
            #expect(error.kafkaErrorCode == 1)
        }
        do {
            _ = try await log.read(from: -1, maxBytes: 100)
        } catch let error as StorageError {
            #expect(error.kafkaErrorCode == 1)
        }
    }

    @Test func readStopsAtTheHighWatermark() async throws {
        let manager = try await makeManager(fs: FaultInjectingFileSystem())
        let log = try await manager.createLog(tp0)
        await log.setAutoAdvance(false)
        _ = try await log.append(Batches.simple(count: 3), durability: .written)
        _ = try await log.append(Batches.simple(count: 3), durability: .written)
        await log.setHighWatermark(3)
        let consumer = try Batches.decode(try await log.read(from: 0, maxBytes: 1 << 20).records)
        #expect(consumer.map(\.header.baseOffset) == [0])
        let follower = try Batches.decode(try await log.read(from: 0, maxBytes: 1 << 20, limit: .logEndOffset).records)
        #expect(follower.map(\.header.baseOffset) == [0, 3])
        #expect(try await log.read(from: 3, maxBytes: 100).records.readableBytes == 0)
    }

    @Test func logAppendTimeRewritesMaxTimestampAndCRC() async throws {
        let clock = ManualClock(1_800_000_000_000)
        var config = LogConfig()
        config.messageTimestampType = .logAppendTime
        let manager = try await makeManager(fs: FaultInjectingFileSystem(), clock: clock, config: config)
        let log = try await manager.createLog(tp0)
        let result = try await log.append(Batches.simple(count: 3, compression: .lz4), durability: .written)
        #expect(result.logAppendTime == 1_800_000_000_000)
        let batch = try Batches.decode(try await log.read(from: 0, maxBytes: 1000).records)[0]
        #expect(batch.header.maxTimestamp == 1_800_000_000_000)
        #expect(batch.header.attributes.isLogAppendTime)
        #expect(batch.hasValidCRC)
        #expect(try batch.compression == .lz4)
    }

    @Test func invalidBatchesAreRefusedWithKafkaCodes() async throws {
        var config = LogConfig()
        config.maxMessageBytes = 500
        config.segmentBytes = 4000
        let manager = try await makeManager(fs: FaultInjectingFileSystem(), config: config)
        let log = try await manager.createLog(tp0)

        var corrupt = Batches.simple(count: 2)
        corrupt.setInteger(UInt8(0xFF), at: corrupt.writerIndex - 1)
        await expectCode(2) { try await log.append(corrupt, durability: .written) }

        var truncated = Batches.simple(count: 2)
        truncated.moveWriterIndex(to: truncated.writerIndex - 3)
        await expectCode(2) { try await log.append(truncated, durability: .written) }

        await expectCode(10) { try await log.append(Batches.simple(count: 2, valueSize: 600), durability: .written) }

        let many = Batches.concat((0..<12).map { Batches.simple(count: 2, tag: "\($0)", valueSize: 150) })
        await expectCode(18) { try await log.append(many, durability: .written) }

        let control = Batches.make([TestRecord(key: "k", value: "v")], isControl: true)
        await expectCode(87) { try await log.append(control, durability: .written) }
        _ = try await log.append(control, durability: .written, origin: .coordinator)

        await expectCode(87) { try await log.append(ByteBuffer(), durability: .written) }

        // Nothing partial was written: a good batch after a bad one in the same append is not stored.
        let mixed = Batches.concat([Batches.simple(count: 1), corrupt])
        await expectCode(2) { try await log.append(mixed, durability: .written) }
        #expect(await log.logEndOffset == 1)
    }

    @Test func shortWritesAreCompleted() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs)
        let log = try await manager.createLog(tp0)
        fs.setShortWrites(true)
        for i in 0..<5 { _ = try await log.append(Batches.simple(count: 3, tag: "\(i)"), durability: .flushed) }
        fs.setShortWrites(false)
        let records = try Batches.records(try await log.read(from: 0, maxBytes: 1 << 20).records)
        #expect(records.map(\.offset) == Array(0..<15))
    }
}

func expectCode<T>(_ code: Int16, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T) async {
    do {
        _ = try await body()
        Issue.record("expected error code \(code), got success", sourceLocation: sourceLocation)
    } catch let error as StorageError {
        #expect(error.kafkaErrorCode == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

extension PartitionLog {
    func setAutoAdvance(_ on: Bool) { autoAdvanceHighWatermark = on }
}
