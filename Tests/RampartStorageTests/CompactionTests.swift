import KafkaProtocol
import NIOCore
import Testing
@testable import RampartStorage

@Suite struct CompactionTests {
    struct Produced {
        var offset: Int64
        var key: String
        var value: String?
        var batch: Int
    }

    /// Deterministic generated data: `batches` batches of 1–4 records over 15 keys, one record in 8 a
    /// tombstone, codecs cycling through none, gzip and zstd.
    static func produce(_ log: PartitionLog, batches: Int, seed: UInt64 = 42) async throws -> [Produced] {
        var state = seed
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        var produced: [Produced] = []
        let codecs: [CompressionCodec] = [.none, .gzip, .zstd]
        for b in 0..<batches {
            let count = 1 + next() % 4
            let records = (0..<count).map { i -> TestRecord in
                let key = "key-\(next() % 15)"
                let value: String? = next() % 8 == 0 ? nil : "value-\(b)-\(i)"
                return TestRecord(key: key, value: value, timestampDelta: Int64(i))
            }
            let result = try await log.append(
                Batches.make(records, baseTimestamp: 1_000_000 + Int64(b) * 10, compression: codecs[b % 3]), durability: .written)
            for (i, r) in records.enumerated() {
                produced.append(Produced(offset: result.baseOffset + Int64(i), key: r.key!, value: r.value, batch: b))
            }
        }
        return produced
    }

    static func readAll(_ log: PartitionLog) async throws -> (records: [(offset: Int64, key: String?, value: String?)], batches: [RecordBatch]) {
        var out: [(offset: Int64, key: String?, value: String?)] = []
        var batches: [RecordBatch] = []
        var offset = await log.logStartOffset
        let end = await log.logEndOffset
        while offset < end {
            let buffer = try await log.read(from: offset, maxBytes: 1 << 20, limit: .logEndOffset).records
            if buffer.readableBytes == 0 { break }
            let decoded = try Batches.decode(buffer)
            batches += decoded
            out += try Batches.records(buffer).filter { $0.offset >= offset }
            offset = decoded.last!.header.lastOffset + 1
        }
        return (out, batches)
    }

    static var compactConfig: LogConfig {
        var config = LogConfig()
        config.cleanupPolicy = .compact
        config.segmentBytes = 1500
        config.indexIntervalBytes = 200
        config.deleteRetentionMs = 60_000
        return config
    }

    @Test func keepsTheLatestRecordPerKeyWithOffsetsUnchanged() async throws {
        let clock = ManualClock()
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs, clock: clock, config: Self.compactConfig)
        let log = try await manager.createLog(tp0)
        let produced = try await Self.produce(log, batches: 120)
        let segments = await log.segmentBaseOffsets
        #expect(segments.count > 5)
        let activeBase = segments.last!
        let endBefore = await log.logEndOffset
        let sizeBefore = await log.sizeInBytes

        let cleaner = LogCleanerHandle()
        let result = try await log.compact(now: clock.nowMs(), cleaner: cleaner)
        #expect(result.segmentsCleaned > 0)
        #expect(result.recordsRemoved > 0)
        #expect(await log.logEndOffset == endBefore)
        #expect(await log.sizeInBytes < sizeBefore)

        let (records, batches) = try await Self.readAll(log)
        #expect(batches.allSatisfy { $0.hasValidCRC })
        // Codecs are preserved: every stored batch still uses the codec its producer chose.
        let codecOf = Dictionary(uniqueKeysWithValues: batches.map { ($0.header.baseOffset, try! $0.compression) })
        #expect(Set(codecOf.values).count == 3)

        let byOffset = Dictionary(uniqueKeysWithValues: produced.map { ($0.offset, $0) })
        var latestInCleaned: [String: Int64] = [:]
        for p in produced where p.offset < activeBase { latestInCleaned[p.key] = p.offset }
        for r in records {
            // Offsets never change: each surviving record is the one produced at its offset.
            let original = try #require(byOffset[r.offset])
            #expect(r.key == original.key && r.value == original.value)
            if r.offset < activeBase {
                #expect(latestInCleaned[original.key] == r.offset, "superseded record at \(r.offset) survived")
            }
        }
        // Every latest record survived (tombstones too: their horizon has not passed), and the active
        // segment is untouched.
        let surviving = Set(records.map(\.offset))
        for offset in latestInCleaned.values { #expect(surviving.contains(offset)) }
        #expect(produced.filter { $0.offset >= activeBase }.allSatisfy { surviving.contains($0.offset) })

        // Reading from a removed offset returns the next batch that holds a later offset.
        let removed = try #require(produced.first { !surviving.contains($0.offset) })
        let next = try Batches.decode(try await log.read(from: removed.offset, maxBytes: 1).records)[0]
        #expect(next.header.lastOffset >= removed.offset)

        // A second pass with nothing new to do changes nothing.
        let again = try await log.compact(now: clock.nowMs(), cleaner: cleaner)
        #expect(again.segmentsCleaned == 0)

        // The compacted log survives an unclean restart.
        let reopened = try await makeManager(fs: fs, clock: clock, config: Self.compactConfig)
        let log2 = try #require(await reopened.log(for: tp0))
        #expect(await log2.state == .online)
        #expect(await log2.logEndOffset == endBefore)
        let (records2, _) = try await Self.readAll(log2)
        #expect(records2.map(\.offset) == records.map(\.offset))
    }

    @Test func tombstonesAreRemovedAfterDeleteRetention() async throws {
        let clock = ManualClock(10_000_000)
        let manager = try await makeManager(fs: FaultInjectingFileSystem(), clock: clock, config: Self.compactConfig)
        let log = try await manager.createLog(tp0)
        let produced = try await Self.produce(log, batches: 120, seed: 7)
        let activeBase = await log.segmentBaseOffsets.last!
        var latest: [String: Produced] = [:]
        for p in produced where p.offset < activeBase { latest[p.key] = p }
        let tombstones = latest.values.filter { $0.value == nil }.map(\.offset)
        #expect(!tombstones.isEmpty, "the generated data should end some keys with a tombstone")

        let cleaner = LogCleanerHandle()
        try await log.compact(now: clock.nowMs(), cleaner: cleaner)
        var surviving = Set(try await Self.readAll(log).records.map(\.offset))
        #expect(tombstones.allSatisfy { surviving.contains($0) }, "tombstones stay until delete.retention.ms")
        let marked = try await Self.readAll(log).batches.filter { $0.header.attributes.hasDeleteHorizon }
        #expect(!marked.isEmpty)
        #expect(marked.allSatisfy { $0.header.baseTimestamp == clock.nowMs() + 60_000 })
        // Record timestamps are preserved although the base timestamp now holds the horizon.
        for batch in marked {
            for record in try batch.decodeRecords() {
                let ts = batch.timestamp(of: record)
                #expect(ts >= 1_000_000 && ts < 1_000_000 + 120 * 10 + 4)
            }
        }

        clock.advance(by: 30_000)
        try await log.compact(now: clock.nowMs(), cleaner: cleaner)
        surviving = Set(try await Self.readAll(log).records.map(\.offset))
        #expect(tombstones.allSatisfy { surviving.contains($0) })

        clock.advance(by: 31_000)
        let result = try await log.compact(now: clock.nowMs(), cleaner: cleaner)
        #expect(result.recordsRemoved == tombstones.count)
        surviving = Set(try await Self.readAll(log).records.map(\.offset))
        #expect(tombstones.allSatisfy { !surviving.contains($0) })
        // Live keys are all still there.
        for p in latest.values where p.value != nil { #expect(surviving.contains(p.offset)) }
    }

    @Test func minCompactionLagProtectsRecentSegments() async throws {
        let clock = ManualClock(1_000_000 + 1200)
        var config = Self.compactConfig
        config.minCompactionLagMs = 600
        let manager = try await makeManager(fs: FaultInjectingFileSystem(), clock: clock, config: config)
        let log = try await manager.createLog(tp0)
        let produced = try await Self.produce(log, batches: 120)
        let cleaner = LogCleanerHandle()
        try await log.compact(now: clock.nowMs(), cleaner: cleaner)
        let surviving = Set(try await Self.readAll(log).records.map(\.offset))
        // Batch b has timestamps from 1_000_000 + 10 b: from batch 60 on they are younger than the lag, and
        // so is every segment holding one, so none of those records was compacted away.
        let recent = produced.filter { $0.batch >= 60 }
        #expect(recent.allSatisfy { surviving.contains($0.offset) })
        #expect(surviving.count < produced.count)
        #expect(produced.filter { $0.batch < 50 }.contains { !surviving.contains($0.offset) })
    }

    @Test func compactionIsThrottled() async throws {
        let clock = ManualClock()
        let manager = try await makeManager(fs: FaultInjectingFileSystem(), clock: clock, config: Self.compactConfig)
        let log = try await manager.createLog(tp0)
        _ = try await Self.produce(log, batches: 60)
        let size = await log.sizeInBytes
        // Reading twice (map, rewrite) plus writing is over 2 × size bytes at 20 × size per second.
        let cleaner = LogCleanerHandle(ioBytesPerSecond: Double(size) * 20)
        let start = ContinuousClock.now
        try await log.compact(now: clock.nowMs(), cleaner: cleaner)
        let elapsed = ContinuousClock.now - start
        #expect(cleaner.throttledSeconds > 0)
        #expect(elapsed >= .milliseconds(50))
    }

    @Test func managerCompactsOnlyCompactedTopics() async throws {
        let clock = ManualClock()
        let manager = try await makeManager(fs: FaultInjectingFileSystem(), clock: clock, config: {
            var c = Self.compactConfig
            c.cleanupPolicy = .delete
            return c
        }())
        await manager.setTopicConfig("offsets", Self.compactConfig)
        let compacted = try await manager.createLog(TopicPartition(topic: "offsets", partition: 0))
        let plain = try await manager.createLog(tp0)
        _ = try await Self.produce(compacted, batches: 60)
        _ = try await Self.produce(plain, batches: 60)
        let plainSize = await plain.sizeInBytes
        let compactedSize = await compacted.sizeInBytes
        await manager.runCompaction()
        #expect(await plain.sizeInBytes == plainSize)
        #expect(await compacted.sizeInBytes < compactedSize)
    }
}
