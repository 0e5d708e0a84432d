import KafkaProtocol
import NIOCore
import Testing
@testable import RampartStorage

@Suite struct SegmentTests {
    @Test func segmentsRollBySizeAndAreNamedByBaseOffset() async throws {
        let fs = FaultInjectingFileSystem()
        var config = LogConfig()
        config.segmentBytes = 500
        let manager = try await makeManager(fs: fs, config: config)
        let log = try await manager.createLog(tp0)
        var bases: [Int64] = []
        for i in 0..<10 { bases.append(try await log.append(Batches.simple(count: 2, tag: "\(i)", valueSize: 50), durability: .written).baseOffset) }
        let segments = await log.segmentBaseOffsets
        #expect(segments.count > 2)
        #expect(segments.allSatisfy { bases.contains($0) }, "segments start at batch boundaries")
        let names = fs.allFiles.filter { $0.hasSuffix(".log") }.map { String($0.split(separator: "/").last!) }
        #expect(names == segments.map { LogSegment.name($0, ".log") })
        #expect(names[1].count == 24 && names[1].hasPrefix("000000000000000000"))
        for path in fs.allFiles where path.hasSuffix(".log") { #expect(fs.contents(of: path)!.count <= 500) }
    }

    @Test func segmentsRollBySegmentMs() async throws {
        let clock = ManualClock()
        var config = LogConfig()
        config.segmentMs = 60_000
        let manager = try await makeManager(fs: FaultInjectingFileSystem(), clock: clock, config: config)
        let log = try await manager.createLog(tp0)
        let t0: Int64 = 5_000_000
        _ = try await log.append(Batches.simple(count: 1, baseTimestamp: t0), durability: .written)
        _ = try await log.append(Batches.simple(count: 1, baseTimestamp: t0 + 30_000), durability: .written)
        #expect(await log.segmentBaseOffsets == [0])
        _ = try await log.append(Batches.simple(count: 1, baseTimestamp: t0 + 61_000), durability: .written)
        #expect(await log.segmentBaseOffsets == [0, 2])
    }

    @Test func indexGetsAnEntryEveryIntervalBytes() async throws {
        let fs = FaultInjectingFileSystem()
        var config = LogConfig()
        config.indexIntervalBytes = 300
        let manager = try await makeManager(fs: fs, config: config)
        let log = try await manager.createLog(tp0)
        var positions: [(lastOffset: Int64, position: Int)] = []
        var position = 0
        for i in 0..<20 {
            let batch = Batches.simple(count: 2, tag: "\(i)", valueSize: 40)
            let result = try await log.append(batch, durability: .written)
            positions.append((result.lastOffset, position))
            position += batch.readableBytes
        }
        // Index entries reach the files in batches, at sync rounds and at close (`IndexFile`).
        try await log.flush()
        var index = ByteBuffer(bytes: fs.contents(of: "/data/orders-0/00000000000000000000.index")!)
        var entries: [(Int32, Int32)] = []
        while let rel = index.readInteger(as: Int32.self), let pos = index.readInteger(as: Int32.self) { entries.append((rel, pos)) }
        #expect(entries.count >= 3)
        // Each entry maps a batch's last offset to that batch's position, at least 300 bytes apart.
        for (rel, pos) in entries {
            #expect(positions.contains { $0.lastOffset == Int64(rel) && $0.position == Int(pos) })
        }
        for (a, b) in zip(entries, entries.dropFirst()) { #expect(b.1 - a.1 > 300) }

        var timeIndex = ByteBuffer(bytes: fs.contents(of: "/data/orders-0/00000000000000000000.timeindex")!)
        var timestamps: [Int64] = []
        while let ts = timeIndex.readInteger(as: Int64.self), timeIndex.readInteger(as: Int32.self) != nil { timestamps.append(ts) }
        #expect(!timestamps.isEmpty)
        #expect(timestamps == timestamps.sorted() && Set(timestamps).count == timestamps.count)
    }

    @Test func lookupByTimestampFindsTheFirstBatchAtOrAfterIt() async throws {
        var config = LogConfig()
        config.segmentBytes = 600
        config.indexIntervalBytes = 100
        let manager = try await makeManager(fs: FaultInjectingFileSystem(), config: config)
        let log = try await manager.createLog(tp0)
        // Batch i: offsets 3i..<3i+3, timestamps 10_000 + 100 i + 0...2.
        for i in 0..<30 { _ = try await log.append(Batches.simple(count: 3, tag: "\(i)", baseTimestamp: 10_000 + Int64(i) * 100), durability: .written) }
        #expect(await log.segmentBaseOffsets.count > 3)
        for i in [0, 1, 7, 13, 29] {
            let exact = try #require(try await log.lookup(timestamp: 10_000 + Int64(i) * 100 + 2))
            #expect(exact.offset == Int64(3 * i))
            #expect(exact.timestamp == 10_000 + Int64(i) * 100 + 2)
            let between = try #require(try await log.lookup(timestamp: 10_000 + Int64(i) * 100 - 50))
            #expect(between.offset == Int64(3 * i))
            #expect(try Batches.decode(between.batch)[0].header.baseOffset == Int64(3 * i))
        }
        #expect(try await log.lookup(timestamp: 1)?.offset == 0)
        #expect(try await log.lookup(timestamp: 20_000) == nil)
        let max = try #require(try await log.lookupMaxTimestamp())
        #expect(max.offset == 87 && max.timestamp == 10_000 + 2900 + 2)
        // After DeleteRecords the answer never lies below the log start offset.
        _ = try await log.deleteRecords(before: 10)
        #expect(try await log.lookup(timestamp: 0)?.offset == 10)
    }

    @Test func configParsesKafkaTopicConfigs() throws {
        let config = try LogConfig(properties: [
            "segment.bytes": "1048576", "segment.ms": "3600000", "index.interval.bytes": "1024", "retention.ms": "-1",
            "retention.bytes": "1000000", "cleanup.policy": "compact,delete", "delete.retention.ms": "100",
            "min.compaction.lag.ms": "5", "flush.messages": "1", "flush.ms": "1000",
            "message.timestamp.type": "LogAppendTime", "max.message.bytes": "2000", "file.delete.delay.ms": "60000",
        ])
        #expect(config.segmentBytes == 1_048_576)
        #expect(config.segmentMs == 3_600_000)
        #expect(config.indexIntervalBytes == 1024)
        #expect(config.retentionMs == -1)
        #expect(config.retentionBytes == 1_000_000)
        #expect(config.cleanupPolicy == [.compact, .delete])
        #expect(config.deleteRetentionMs == 100)
        #expect(config.minCompactionLagMs == 5)
        #expect(config.flushMessages == 1 && config.flushMs == 1000)
        #expect(config.messageTimestampType == .logAppendTime)
        #expect(config.maxMessageBytes == 2000)
        #expect(throws: StorageError.self) { try LogConfig(properties: ["segment.byte": "1"]) }
        #expect(throws: StorageError.self) { try LogConfig(properties: ["cleanup.policy": "shred"]) }
        #expect(throws: StorageError.self) { try LogConfig(properties: ["retention.ms": "soon"]) }
        #expect(LogConfig().segmentBytes == 1_073_741_824 && LogConfig().cleanupPolicy == .delete)
    }

    @Test func topicPartitionDirectoryNames() {
        #expect(TopicPartition(directoryName: "my-topic-12") == TopicPartition(topic: "my-topic", partition: 12))
        #expect(TopicPartition(directoryName: "orders-0.abc-delete") == nil)
        #expect(TopicPartition(directoryName: "orders") == nil)
        #expect(TopicPartition(topic: "__consumer_offsets", partition: 7).directoryName == "__consumer_offsets-7")
    }
}

@Suite struct LogManagerTests {
    @Test func createLoadAndDeletePartitions() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs, dirs: ["/d1", "/d2"])
        var logs: [PartitionLog] = []
        for p in 0..<4 { logs.append(try await manager.createLog(TopicPartition(topic: "t", partition: Int32(p)))) }
        #expect(logs.filter { $0.directory.hasPrefix("/d1/") }.count == 2)
        await expectCode(-1) { try await manager.createLog(TopicPartition(topic: "t", partition: 0)) }
        for (i, log) in logs.enumerated() { _ = try await log.append(Batches.simple(count: i + 1), durability: .flushed) }

        try await manager.deleteLog(TopicPartition(topic: "t", partition: 1))
        #expect(!fs.allFiles.contains { $0.contains("/t-1/") || $0.contains("t-1.") })
        await expectCode(56) { try await logs[1].read(from: 0, maxBytes: 10) }
        await expectCode(3) { try await manager.deleteRecords(TopicPartition(topic: "t", partition: 1), before: 0) }

        try await manager.shutdown()
        #expect(fs.exists("/d1/.kafka_cleanshutdown") && fs.exists("/d2/.kafka_cleanshutdown"))
        let reopened = try await makeManager(fs: fs, dirs: ["/d1", "/d2"])
        let all = await reopened.allLogs
        #expect(Set(all.keys) == [0, 2, 3].map { TopicPartition(topic: "t", partition: $0) }.reduce(into: Set()) { $0.insert($1) })
        for p in [0, 2, 3] {
            #expect(await all[TopicPartition(topic: "t", partition: Int32(p))]!.logEndOffset == Int64(p + 1))
        }
        let recovery = String(buffer: try fs.readWholeFile("/d1/recovery-point-offset-checkpoint"))
            + String(buffer: try fs.readWholeFile("/d2/recovery-point-offset-checkpoint"))
        #expect(recovery.contains("t 0 1\n") && recovery.contains("t 2 3\n") && recovery.contains("t 3 4\n"))
        #expect(!recovery.contains("t 1 "))
    }

    @Test func anOfflinePartitionKeepsItsCheckpointsAndBlocksTheCleanMarker() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs)
        let log = try await manager.createLog(tp0)
        let healthy = TopicPartition(topic: "ok", partition: 0)
        _ = try await manager.createLog(healthy)
        for i in 0..<3 { _ = try await log.append(Batches.simple(count: 2, tag: "\(i)"), durability: .flushed) }
        try await manager.shutdown()
        // Corrupt a fsynced batch: the partition must come back offline and stay so.
        var bytes = fs.contents(of: "/data/orders-0/00000000000000000000.log")!
        bytes[80] ^= 0x55
        fs.setContents(of: "/data/orders-0/00000000000000000000.log", bytes)
        fs.setContents(of: "/data/orders-0/00000000000000000000.index", [0, 0, 0])
        let reopened = try await makeManager(fs: fs)
        #expect(await reopened.offlinePartitions()[tp0] != nil)
        #expect(await reopened.log(for: healthy)!.state == .online)
        try await reopened.shutdown()
        #expect(!fs.exists("/data/.kafka_cleanshutdown"), "a directory with an offline partition is not clean")
        let checkpoint = String(buffer: try fs.readWholeFile("/data/recovery-point-offset-checkpoint"))
        #expect(checkpoint.contains("orders 0 6\n"))
        #expect(fs.contents(of: "/data/orders-0/00000000000000000000.log")! == bytes, "an offline log is never modified")
    }

    @Test func backgroundTasksRunRetention() async throws {
        let clock = ManualClock()
        var config = LogConfig()
        config.segmentBytes = 300
        config.retentionMs = 1000
        let manager = try await makeManager(fs: FaultInjectingFileSystem(), clock: clock, config: config) {
            $0.retentionCheckIntervalMs = 1
            $0.flushCheckIntervalMs = 10
        }
        let log = try await manager.createLog(tp0)
        for i in 0..<5 { _ = try await log.append(Batches.simple(count: 2, tag: "\(i)", baseTimestamp: clock.nowMs()), durability: .flushed) }
        await manager.startBackgroundTasks()
        clock.advance(by: 5000)
        #expect(await eventually { await log.logStartOffset == 10 })
        try await manager.shutdown()
    }
}
