import KafkaProtocol
import NIOCore
import Testing
@testable import RampartStorage

@Suite struct RetentionTests {
    static let day: Int64 = 86_400_000

    /// 30 batches of 4 records, one per hour of producer time starting at `start`, in small segments.
    func fill(_ log: PartitionLog, start: Int64) async throws {
        for i in 0..<30 {
            _ = try await log.append(
                Batches.simple(count: 4, tag: "\(i)", baseTimestamp: start + Int64(i) * 3_600_000), durability: .flushed)
        }
    }

    func config(_ edit: (inout LogConfig) -> Void) -> LogConfig {
        var config = LogConfig()
        config.segmentBytes = 1200
        edit(&config)
        return config
    }

    @Test func retentionByTimeDeletesWholeExpiredSegments() async throws {
        let clock = ManualClock()
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs, clock: clock, config: config { $0.retentionMs = 10 * 3_600_000 })
        let log = try await manager.createLog(tp0)
        let start = clock.nowMs() - 30 * 3_600_000
        try await fill(log, start: start)
        let before = await log.segmentBaseOffsets
        #expect(before.count > 4)
        let result = try await log.enforceRetention()
        #expect(result.deletedSegments > 0)
        let after = await log.segmentBaseOffsets
        #expect(Array(before.suffix(after.count)) == after)
        let logStart = await log.logStartOffset
        #expect(logStart == after[0])
        // Batch i holds offsets 4i..<4i+4 and has max timestamp start + i h + 3: every deleted segment
        // was wholly older than the limit and the first kept one is not.
        let limit = clock.nowMs() - 10 * 3_600_000
        func maxTimestamp(ofBatchAt offset: Int64) -> Int64 { start + (offset / 4) * 3_600_000 + 3 }
        #expect(maxTimestamp(ofBatchAt: logStart - 1) <= limit)
        #expect(maxTimestamp(ofBatchAt: after[1] - 1) > limit)
        let segmentsAlive = fs.allFiles.filter { $0.hasSuffix(".log") }.count
        #expect(segmentsAlive == after.count)
        await expectCode(1) { try await log.read(from: 0, maxBytes: 100) }

        // When everything has expired, the active segment is rolled and deleted too; the log stays usable.
        clock.advance(by: 365 * Self.day)
        try await log.enforceRetention()
        #expect(await log.logStartOffset == 120)
        #expect(await log.segmentBaseOffsets == [120])
        #expect(try await log.append(Batches.simple(count: 1), durability: .flushed).baseOffset == 120)
    }

    @Test func retentionBySizeKeepsTheLogUnderTheLimit() async throws {
        let clock = ManualClock()
        let manager = try await makeManager(fs: FaultInjectingFileSystem(), clock: clock, config: config { $0.retentionBytes = 3000 })
        let log = try await manager.createLog(tp0)
        try await fill(log, start: clock.nowMs())
        let total = await log.sizeInBytes
        #expect(total > 4000)
        let result = try await log.enforceRetention()
        #expect(result.deletedSegments > 0)
        let size = await log.sizeInBytes
        // Whole segments only: the log stays above the limit by less than its oldest segment.
        let segments = await log.segmentBaseOffsets
        let oldest = try await log.read(from: segments[0], maxBytes: Int.max, limit: .offset(segments[1])).records.readableBytes
        #expect(size - Int64(oldest) < 3000)
        #expect(size > 3000 || result.deletedSegments == segments.count)
        #expect(total - result.deletedBytes == size)
    }

    @Test func compactOnlyTopicsAreNotDeletedByTimeOrSize() async throws {
        let clock = ManualClock()
        let manager = try await makeManager(fs: FaultInjectingFileSystem(), clock: clock, config: config {
            $0.retentionMs = 1
            $0.retentionBytes = 1
            $0.cleanupPolicy = .compact
        })
        let log = try await manager.createLog(tp0)
        try await fill(log, start: clock.nowMs() - 100 * Self.day)
        let before = await log.segmentBaseOffsets
        try await log.enforceRetention()
        #expect(await log.segmentBaseOffsets == before)
    }

    @Test func deleteRecordsAdvancesTheLogStartOffsetAndIsCheckpointed() async throws {
        let clock = ManualClock()
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs, clock: clock, config: config { _ in })
        let log = try await manager.createLog(tp0)
        try await fill(log, start: clock.nowMs())
        let segments = await log.segmentBaseOffsets
        let target = segments[2] + 1
        let low = try await manager.deleteRecords(tp0, before: target)
        #expect(low == target)
        #expect(await log.logStartOffset == target)
        // Whole segments below it are gone; the one containing it stays.
        #expect(await log.segmentBaseOffsets == Array(segments.dropFirst(2)))
        let checkpoint = String(buffer: try fs.readWholeFile("/data/log-start-offset-checkpoint"))
        #expect(checkpoint == "0\n1\norders 0 \(target)\n")
        await expectCode(1) { try await log.read(from: target - 1, maxBytes: 100) }
        let first = try Batches.decode(try await log.read(from: target, maxBytes: 1).records)[0]
        #expect(first.header.baseOffset <= target && first.header.lastOffset >= target)
        // Past the high watermark is out of range; below the log start is a no-op.
        await expectCode(1) { try await manager.deleteRecords(tp0, before: 121) }
        #expect(try await manager.deleteRecords(tp0, before: 3) == target)
        // -1 means the high watermark.
        #expect(try await manager.deleteRecords(tp0, before: -1) == 120)

        // The log start offset survives an unclean restart.
        let reopened = try await makeManager(fs: fs, clock: clock, config: config { _ in })
        let log2 = try #require(await reopened.log(for: tp0))
        #expect(await log2.logStartOffset == 120)
        #expect(await log2.logEndOffset == 120)
    }

    @Test func managerRunsRetentionOverAllPartitions() async throws {
        let clock = ManualClock()
        let manager = try await makeManager(fs: FaultInjectingFileSystem(), clock: clock, config: config { $0.retentionMs = Self.day })
        let a = try await manager.createLog(tp0)
        let b = try await manager.createLog(TopicPartition(topic: "payments", partition: 3))
        try await fill(a, start: clock.nowMs() - 10 * Self.day)
        try await fill(b, start: clock.nowMs())
        await manager.runRetention()
        #expect(await a.logStartOffset == 120)
        #expect(await b.logStartOffset == 0)
    }
}
