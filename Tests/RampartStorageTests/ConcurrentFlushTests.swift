import KafkaProtocol
import NIOCore
import Testing
@testable import RampartStorage

/// Flushes of several partitions and what a finished fsync releases, on the fault-injecting file system
/// with fsyncs held (`holdSyncs`) so that what is in flight at once is observed, not timed.
@Suite struct ConcurrentFlushTests {
    /// A manager with a pool of its own (tests running in parallel do not take its sync workers).
    func manager(_ fs: FaultInjectingFileSystem, syncThreads: Int = 8) async throws -> LogManager {
        let manager = LogManager(
            config: LogManagerConfig(logDirs: ["/data"]), fileSystem: fs, clock: ManualClock(),
            threads: StorageThreadPool(actorThreads: 2, syncThreads: syncThreads))
        try await manager.startup()
        return manager
    }

    /// Polls `condition` every millisecond for up to 10 s; returns whether it became true.
    func eventually(_ condition: () async -> Bool) async throws -> Bool {
        for _ in 0..<10_000 {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(1))
        }
        return await condition()
    }

    @Test(.timeLimit(.minutes(1))) func fsyncsOfSeveralPartitionsAreInFlightTogether() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await manager(fs)
        var logs: [PartitionLog] = []
        for p in 0..<8 { logs.append(try await manager.createLog(TopicPartition(topic: "orders", partition: Int32(p)))) }
        fs.holdSyncs { $0.hasSuffix(".log") }
        var pending: [PartitionLog.PendingFlush] = []
        for log in logs { pending.append(try await log.appendAwaitingFlush(Batches.simple(count: 1))) }
        // Each partition's fsync started without waiting for another partition's to end.
        let allInFlight = try await eventually { fs.heldSyncs == 8 }
        #expect(allInFlight, "\(fs.heldSyncs) of 8 partitions' fsyncs in flight together")
        for log in logs { #expect(await log.highWatermark == 0) }
        fs.holdSyncs(where: nil)
        for (log, flush) in zip(logs, pending) {
            try await log.waitForFlush(flush)
            #expect(await log.highWatermark == 1)
            #expect(await log.recoveryPoint == 1)
        }
    }

    /// A batch is acknowledged and visible only once the fsync covering it has returned; rounds run back
    /// to back (the batch written during a held fsync gets the next round without any further request).
    @Test(.timeLimit(.minutes(1))) func aBatchWrittenDuringAnFsyncWaitsForTheNextRound() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await manager(fs)
        let log = try await manager.createLog(tp0)
        let before = fs.syncCount(pathSuffix: ".log")
        fs.holdSyncs { $0.hasSuffix(".log") }
        let first = try await log.appendAwaitingFlush(Batches.simple(count: 2, tag: "a"))
        #expect(try await eventually { fs.heldSyncs == 1 })
        let second = try await log.appendAwaitingFlush(Batches.simple(count: 1, tag: "b"))
        #expect(await log.highWatermark == 0)
        #expect(await log.recoveryPoint == 0)
        fs.holdSyncs(where: nil)
        try await log.waitForFlush(first)
        #expect(await log.recoveryPoint >= 2)
        #expect(await log.highWatermark >= 2)
        try await log.waitForFlush(second)
        #expect(await log.recoveryPoint == 3)
        #expect(await log.highWatermark == 3)
        #expect(fs.syncCount(pathSuffix: ".log") - before == 2)
        #expect(await log.syncRounds >= 2)
    }

    @Test(.timeLimit(.minutes(1))) func aFailedFsyncTakesOnlyItsPartitionOffline() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await manager(fs)
        let healthy = try await manager.createLog(TopicPartition(topic: "orders", partition: 0))
        let failing = try await manager.createLog(TopicPartition(topic: "orders", partition: 1))
        fs.holdSyncs { $0.hasSuffix(".log") }
        fs.failSync { $0.contains("/orders-1/") }
        defer { fs.failSync(where: nil) }
        let good = try await healthy.appendAwaitingFlush(Batches.simple(count: 1, tag: "a"))
        let bad = try await failing.appendAwaitingFlush(Batches.simple(count: 1, tag: "b"))
        // Both fsyncs in flight together; then one fails.
        #expect(try await eventually { fs.heldSyncs == 2 })
        fs.holdSyncs(where: nil)
        try await healthy.waitForFlush(good)
        await #expect(throws: StorageError.self) { try await failing.waitForFlush(bad) }
        #expect(await failing.highWatermark == 0)
        #expect(await failing.loadReport.offlineReason != nil)
        // The other partition keeps taking acks=all appends.
        let next = try await healthy.append(Batches.simple(count: 1, tag: "c"), durability: .flushed)
        #expect(next.baseOffset == 1)
        #expect(await healthy.highWatermark == 2)
    }
}
