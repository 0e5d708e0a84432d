import KafkaProtocol
import NIOCore
import Testing
@testable import RampartStorage

@Suite struct RecoveryTests {
    /// The segment files of the partition directory, sorted.
    func segmentFiles(_ fs: FaultInjectingFileSystem, suffix: String) -> [String] {
        fs.allFiles.filter { $0.hasPrefix("/data/orders-0/") && $0.hasSuffix(suffix) }
    }

    @Test func cleanShutdownAndRestartOnTheRealFileSystem() async throws {
        try await withTemporaryDirectory { dir in
            let fs = PosixStorageFileSystem()
            var config = LogConfig()
            config.segmentBytes = 1000
            config.indexIntervalBytes = 100
            let dirs = [dir + "/a", dir + "/b"]
            let manager = try await makeManager(fs: fs, config: config, dirs: dirs)
            let log = try await manager.createLog(tp0)
            let other = try await manager.createLog(TopicPartition(topic: "orders", partition: 1))
            #expect(log.directory.hasPrefix(dir + "/a/") != other.directory.hasPrefix(dir + "/a/"))
            for i in 0..<20 { _ = try await log.append(Batches.simple(count: 3, tag: "\(i)"), durability: .flushed) }
            _ = try await other.append(Batches.simple(count: 1), durability: .written)
            let segments = await log.segmentBaseOffsets
            #expect(segments.count > 2)
            let names = try fs.contentsOfDirectory(log.directory)
            #expect(names.contains("00000000000000000000.log"))
            #expect(names.contains("00000000000000000000.index"))
            #expect(names.contains("00000000000000000000.timeindex"))
            try await manager.shutdown()
            let logDirA = parentDirectory(of: log.directory)
            #expect(fs.exists(logDirA + "/.kafka_cleanshutdown"))
            let checkpoint = try fs.readWholeFile(logDirA + "/recovery-point-offset-checkpoint")
            #expect(String(buffer: checkpoint).hasPrefix("0\n1\norders "))

            let reopened = try await makeManager(fs: fs, config: config, dirs: dirs)
            #expect(!fs.exists(logDirA + "/.kafka_cleanshutdown"))
            let log2 = try #require(await reopened.log(for: tp0))
            #expect(await log2.loadReport.recovered == false)
            #expect(await log2.logEndOffset == 60)
            #expect(await log2.segmentBaseOffsets == segments)
            let records = try Batches.records(try await log2.read(from: 0, maxBytes: 1 << 20).records)
            #expect(records.count > 0 && records[0].offset == 0)
            var offset: Int64 = 0
            var all: [Int64] = []
            while offset < 60 {
                let batch = try Batches.records(try await log2.read(from: offset, maxBytes: 1 << 20).records)
                all += batch.map(\.offset)
                offset = batch.last!.offset + 1
            }
            #expect(all == Array(0..<60))
            let other2 = try #require(await reopened.log(for: TopicPartition(topic: "orders", partition: 1)))
            #expect(await other2.logEndOffset == 1)
            try await reopened.shutdown()
        }
    }

    @Test(arguments: [true, false])
    func indexesAreRebuiltAfterDeletingThem(cleanShutdown: Bool) async throws {
        let fs = FaultInjectingFileSystem()
        var config = LogConfig()
        config.segmentBytes = 2000
        config.indexIntervalBytes = 150
        let manager = try await makeManager(fs: fs, config: config)
        let log = try await manager.createLog(tp0)
        for i in 0..<40 {
            _ = try await log.append(Batches.simple(count: 2, tag: "\(i)", baseTimestamp: 1_000_000 + Int64(i) * 1000), durability: .flushed)
        }
        // The active segment's index entries reach its file in batches; a full flush writes them all.
        try await log.flush()
        let originalIndexes = segmentFiles(fs, suffix: ".index").map { fs.contents(of: $0)! }
        #expect(originalIndexes.contains { $0.count >= 16 })
        let expectedByTime = try #require(try await log.lookup(timestamp: 1_000_000 + 17 * 1000))
        if cleanShutdown { try await manager.shutdown() }
        for path in segmentFiles(fs, suffix: ".index") + segmentFiles(fs, suffix: ".timeindex") { try fs.removeFile(path) }

        let reopened = try await makeManager(fs: fs, config: config)
        let log2 = try #require(await reopened.log(for: tp0))
        #expect(await log2.state == .online)
        #expect(await log2.logEndOffset == 80)
        #expect(segmentFiles(fs, suffix: ".index").map { fs.contents(of: $0)! } == originalIndexes)
        #expect(segmentFiles(fs, suffix: ".timeindex").allSatisfy { (fs.contents(of: $0)?.count ?? 0) > 0 })
        let byTime = try #require(try await log2.lookup(timestamp: 1_000_000 + 17 * 1000))
        #expect(byTime.offset == expectedByTime.offset && byTime.offset == 34)
        for offset in stride(from: Int64(0), to: 80, by: 7) {
            let first = try Batches.decode(try await log2.read(from: offset, maxBytes: 1).records)[0]
            #expect(first.header.baseOffset <= offset && first.header.lastOffset >= offset)
        }
    }

    @Test func corruptIndexIsRebuilt() async throws {
        let fs = FaultInjectingFileSystem()
        var config = LogConfig()
        config.indexIntervalBytes = 100
        let manager = try await makeManager(fs: fs, config: config)
        let log = try await manager.createLog(tp0)
        for i in 0..<10 { _ = try await log.append(Batches.simple(count: 2, tag: "\(i)"), durability: .flushed) }
        try await manager.shutdown()
        let index = segmentFiles(fs, suffix: ".index")[0]
        let original = fs.contents(of: index)!
        var broken = original
        broken.append(contentsOf: [1, 2, 3])  // not a whole entry
        fs.setContents(of: index, broken)
        let reopened = try await makeManager(fs: fs, config: config)
        let log2 = try #require(await reopened.log(for: tp0))
        #expect(await log2.loadReport.rebuiltIndexes == 1)
        #expect(fs.contents(of: index) == original)
        // A last entry pointing into the middle of a batch is caught too.
        try await reopened.shutdown()
        var shifted = original
        shifted[shifted.count - 1] &+= 1
        fs.setContents(of: index, shifted)
        let again = try await makeManager(fs: fs, config: config)
        #expect(await again.log(for: tp0)!.loadReport.rebuiltIndexes == 1)
        #expect(fs.contents(of: index) == original)
    }

    @Test func tornTailIsTruncated() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs)
        let log = try await manager.createLog(tp0)
        for i in 0..<4 { _ = try await log.append(Batches.simple(count: 2, tag: "\(i)"), durability: .flushed) }
        let path = segmentFiles(fs, suffix: ".log")[0]
        var bytes = fs.contents(of: path)!
        let validSize = bytes.count
        let next = Batches.simple(count: 5, tag: "torn")
        bytes += next.getBytes(at: 0, length: next.readableBytes / 2)!
        fs.setContents(of: path, bytes)
        // No shutdown: the restart is unclean.
        let reopened = try await makeManager(fs: fs)
        let log2 = try #require(await reopened.log(for: tp0))
        #expect(await log2.state == .online)
        #expect(await log2.loadReport.truncatedBytes == Int64(next.readableBytes / 2))
        #expect(await log2.logEndOffset == 8)
        #expect(fs.contents(of: path)!.count == validSize)
        let appended = try await log2.append(Batches.simple(count: 1), durability: .flushed)
        #expect(appended.baseOffset == 8)
    }

    @Test func corruptBatchInTheMiddleTakesThePartitionOffline() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs)
        let log = try await manager.createLog(tp0)
        var sizes: [Int] = []
        for i in 0..<3 {
            let batch = Batches.simple(count: 2, tag: "\(i)")
            sizes.append(batch.readableBytes)
            _ = try await log.append(batch, durability: .flushed)
        }
        let path = segmentFiles(fs, suffix: ".log")[0]
        var bytes = fs.contents(of: path)!
        bytes[sizes[0] + 70] ^= 0xFF  // inside the second batch's records
        fs.setContents(of: path, bytes)
        let reopened = try await makeManager(fs: fs)
        let log2 = try #require(await reopened.log(for: tp0))
        guard case .offline(let reason) = await log2.state else {
            Issue.record("expected offline, got \(await log2.state)")
            return
        }
        #expect(reason.contains("followed by valid data"))
        #expect(fs.contents(of: path)! == bytes, "nothing may be truncated")
        await expectCode(56) { try await log2.read(from: 0, maxBytes: 100) }
        await expectCode(56) { try await log2.append(Batches.simple(count: 1), durability: .written) }
        #expect(await reopened.offlinePartitions()[tp0] != nil)
    }

    @Test func corruptBatchBelowTheRecoveryPointTakesThePartitionOffline() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs)
        let log = try await manager.createLog(tp0)
        for i in 0..<3 { _ = try await log.append(Batches.simple(count: 2, tag: "\(i)"), durability: .flushed) }
        try await manager.checkpoint()  // recovery point 6: every batch is known fsynced
        let path = segmentFiles(fs, suffix: ".log")[0]
        var bytes = fs.contents(of: path)!
        bytes[bytes.count - 5] ^= 0xFF  // the last batch: it would look like a torn tail
        fs.setContents(of: path, bytes)
        let reopened = try await makeManager(fs: fs)
        let log2 = try #require(await reopened.log(for: tp0))
        guard case .offline(let reason) = await log2.state else {
            Issue.record("expected offline")
            return
        }
        #expect(reason.contains("fsynced"))
    }

    @Test func leftoversOfInterruptedOperationsAreRemoved() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs)
        let log = try await manager.createLog(tp0)
        _ = try await log.append(Batches.simple(count: 2), durability: .flushed)
        try await manager.shutdown()
        fs.setContents(of: "/data/orders-0/00000000000000000100.log.deleted", [1, 2, 3])
        fs.setContents(of: "/data/orders-0/00000000000000000100.index", [])
        fs.setContents(of: "/data/orders-0/00000000000000000000.log.cleaned", [4])
        try fs.createDirectory("/data/orders-7.12345-delete")
        fs.setContents(of: "/data/orders-7.12345-delete/00000000000000000000.log", [5])
        let reopened = try await makeManager(fs: fs)
        #expect(await reopened.log(for: tp0)!.logEndOffset == 2)
        #expect(fs.allFiles.filter { $0.hasPrefix("/data/orders-0/") } == [
            "/data/orders-0/00000000000000000000.index", "/data/orders-0/00000000000000000000.log",
            "/data/orders-0/00000000000000000000.timeindex",
        ])
        #expect(!fs.exists("/data/orders-7.12345-delete"))
        #expect(await reopened.allLogs.count == 1)
    }
}
