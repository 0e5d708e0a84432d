import KafkaProtocol
import NIOCore
import Synchronization
import SystemPackage
import Testing
@testable import RampartStorage

/// A partition keeps one descriptor per segment (its `.log`): index files are opened only to be written,
/// and running out of descriptors fails a creation cleanly.
@Suite struct FileDescriptorTests {
    /// 30 batches of 3 records, offsets 3i..<3i+3, timestamps 10_000 + 100 i + 0...2, over several segments.
    private func fill(_ log: PartitionLog) async throws {
        for i in 0..<30 {
            _ = try await log.append(Batches.simple(count: 3, tag: "\(i)", baseTimestamp: 10_000 + Int64(i) * 100), durability: .written)
        }
    }

    private func expectReadsAndLookups(_ log: PartitionLog) async throws {
        for offset: Int64 in [0, 1, 5, 31, 44, 60, 89] {
            let read = try await log.read(from: offset, maxBytes: 1 << 20, limit: .logEndOffset)
            let first = try #require(try Batches.decode(read.records).first)
            #expect(first.header.baseOffset == offset / 3 * 3, "read from \(offset)")
        }
        for i in [0, 4, 13, 29] {
            let found = try #require(try await log.lookup(timestamp: 10_000 + Int64(i) * 100 + 1, limit: .logEndOffset))
            #expect(found.offset == Int64(3 * i) && found.timestamp == 10_000 + Int64(i) * 100 + 2)
        }
        #expect(try await log.lookupMaxTimestamp()?.offset == 87)
    }

    private var smallSegments: LogConfig {
        var config = LogConfig()
        config.segmentBytes = 600
        config.indexIntervalBytes = 100
        return config
    }

    @Test func onlySegmentLogsStayOpenAndIndexesStillServeReadsAndLookups() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs, config: smallSegments)
        #expect(fs.openDescriptors == 0)
        let log = try await manager.createLog(tp0)
        #expect(fs.openDescriptors == 1, "a new partition keeps one descriptor: its .log")
        try await fill(log)
        let segments = await log.segmentBaseOffsets.count
        #expect(segments > 3)
        try await log.flush()
        #expect(fs.openDescriptors == segments, "one descriptor per segment, none for the index files")
        try await expectReadsAndLookups(log)
        // The index files hold the entries (written at the sync rounds, fsynced with the full flush).
        let indexFiles = fs.allFiles.filter { $0.hasSuffix(".index") }
        #expect(indexFiles.count == segments)
        #expect(indexFiles.allSatisfy { (fs.contents(of: $0)?.count ?? 0) > 0 })

        try await manager.shutdown()
        #expect(fs.openDescriptors == 0, "shutdown closes everything")
        let reopened = try await makeManager(fs: fs, config: smallSegments)
        let again = try #require(await reopened.log(for: tp0))
        #expect(await again.loadReport.rebuiltIndexes == 0)
        #expect(fs.openDescriptors == segments)
        try await expectReadsAndLookups(again)
        try await reopened.shutdown()
    }

    @Test func aKilledProcessLeavesIndexesThatStillWork() async throws {
        let fs = FaultInjectingFileSystem()
        var config = smallSegments
        config.segmentBytes = 1 << 20  // one segment: its index entries are written lazily
        let manager = try await makeManager(fs: fs, config: config)
        let log = try await manager.createLog(tp0)
        try await fill(log)
        #expect(fs.openDescriptors == 1)
        // No flush, no close: the index file holds at most what a batch write put there.
        let image = fs.crashImage(.processKill)
        let reopened = try await makeManager(fs: image, config: config)
        let again = try #require(await reopened.log(for: tp0))
        #expect(await again.logEndOffset == 90)
        try await expectReadsAndLookups(again)
        try await reopened.shutdown()
        _ = manager
    }

    @Test func runningOutOfDescriptorsFailsACreationWithoutLeftovers() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs)
        let existing = try await manager.createLog(tp0)
        _ = try await existing.append(Batches.simple(count: 2), durability: .flushed)
        let before = fs.openDescriptors
        fs.setDescriptorLimit(before + 3)
        let tps = (0..<8).map { TopicPartition(topic: "new", partition: Int32($0)) }
        await #expect(throws: StorageError.self) { try await manager.createLogs(tps) }
        #expect(!fs.allFiles.contains { $0.hasPrefix("/data/new-") }, "nothing of the failed topic is left on disk")
        for tp in tps { #expect(await manager.log(for: tp) == nil) }
        #expect(fs.openDescriptors == before, "the failed creation closed what it opened")
        // The existing partition keeps serving.
        _ = try await existing.append(Batches.simple(count: 2, tag: "b"), durability: .flushed)
        let read = try await existing.read(from: 0, maxBytes: 1 << 20)
        #expect(try Batches.records(read.records).count == 4)
        // Once descriptors are back, the same creation succeeds.
        fs.setDescriptorLimit(nil)
        try await manager.createLogs(tps)
        for tp in tps { #expect(await manager.log(for: tp) != nil) }
        #expect(fs.openDescriptors == before + 8)
        try await manager.shutdown()
    }

    @Test func budgetRefusesPartitionsThatWouldEatIntoTheReserve() {
        let budget = FileDescriptorBudget(limit: { 1000 }, openCount: { 900 }, reserve: 64)
        #expect(budget.refusal(newPartitions: 36) == nil)
        let message = budget.refusal(newPartitions: 37) ?? ""
        #expect(message.contains("RLIMIT_NOFILE") && message.contains("1000"), "\(message)")
        #expect(message.contains("rampart.file.descriptors.reserve"))
        #expect(FileDescriptorBudget.automaticReserve(limit: 200) == 64)
        #expect(FileDescriptorBudget.automaticReserve(limit: 20_000) == 2_000)
        #expect(FileDescriptorBudget.automaticReserve(limit: 1 << 20) == 10_000)
        #expect(FileDescriptorBudget(limit: { 1000 }, openCount: { nil }, reserve: 0).refusal(newPartitions: 5000) == nil)
        #expect(FileDescriptorLimit.openCount().map { $0 > 0 } ?? true)
    }
}

@Suite struct ConnectionDescriptorGuardTests {
    @Test func connectionsStopShortOfTheLimit() {
        let open = Mutex(900)
        let guardian = ConnectionDescriptorGuard(limit: 1000, floor: 32, openCount: { open.withLock { $0 } })
        // 900 open: connections are admitted up to 968 open (32 stay free). An accepted connection
        // holds its descriptor when it is checked; a refused one is closed.
        var admitted = 0
        var refused: (admitted: Bool, open: Int) = (true, 0)
        while admitted <= 200 {
            open.withLock { $0 += 1 }
            refused = guardian.admit()
            guard refused.admitted else { open.withLock { $0 -= 1 }; break }
            admitted += 1
        }
        #expect(admitted == 68, "901 … 968 open, then refused")
        #expect(!refused.admitted && refused.open == 969)
        // Connections closing make room again (the count is taken afresh near the limit).
        open.withLock { $0 -= 10 }
        #expect(guardian.admit().admitted)
        #expect(ConnectionDescriptorGuard(limit: Int.max, openCount: { nil }).admit().admitted)
    }

    @Test func partitionsCreatedBetweenCountsAreNotMissed() {
        // Counted at 20 open; 160 partition logs opened within the second the count is trusted; then
        // connections. Told of them (`noteOpened`, from the budget's approval), the guard counts afresh
        // and stops at 224 open instead of admitting connections up to the limit on its stale estimate.
        let open = Mutex(20)
        let guardian = ConnectionDescriptorGuard(limit: 256, floor: 32, openCount: { open.withLock { $0 } })
        #expect(guardian.admit() == (true, 20))
        var budget = FileDescriptorBudget(limit: { 256 }, openCount: { open.withLock { $0 } }, reserve: 64)
        budget.onApproval = { guardian.noteOpened($0) }
        #expect(budget.refusal(newPartitions: 160) == nil)
        open.withLock { $0 += 160 }
        // Connections arrive one by one, each taking a descriptor, until one is refused (or `most`).
        func connect(_ guardian: ConnectionDescriptorGuard, counter: borrowing Mutex<Int>, most: Int) -> Int {
            var admitted = 0
            while admitted < most {
                counter.withLock { $0 += 1 }
                guard guardian.admit().admitted else { break }
                admitted += 1
            }
            return admitted
        }
        let admitted = connect(guardian, counter: open, most: 100)
        #expect(admitted == 224 - 180, "181 … 224 open, then refused")
        #expect(budget.refusal(newPartitions: 100) != nil)
        // Without being told, the estimate (20 + admitted) stays far below the limit until the count is
        // a second old: the descriptors kept free are handed out.
        let blind = Mutex(20)
        let unaware = ConnectionDescriptorGuard(limit: 256, floor: 32, openCount: { blind.withLock { $0 } })
        _ = unaware.admit()
        blind.withLock { $0 += 160 }
        #expect(connect(unaware, counter: blind, most: 60) == 60)
    }
}
