import KafkaProtocol
import NIOCore
import Testing
@testable import RampartStorage

@Suite struct DurabilityTests {
    @Test func concurrentFlushedAppendsShareFsyncs() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs)
        let log = try await manager.createLog(tp0)
        fs.setSyncDelay(.milliseconds(20))
        let before = fs.syncCount(pathSuffix: ".log")
        let n = 40
        let results = try await withThrowingTaskGroup(of: AppendResult.self) { group in
            for i in 0..<n {
                group.addTask { try await log.append(Batches.simple(count: 2, tag: "\(i)"), durability: .flushed) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        fs.setSyncDelay(.zero)
        let syncs = fs.syncCount(pathSuffix: ".log") - before
        #expect(Set(results.map(\.baseOffset)).count == n)
        #expect(results.allSatisfy { $0.lastOffset < 2 * Int64(n) })
        #expect(syncs >= 1)
        #expect(syncs < n / 4, "\(syncs) fsyncs for \(n) acks=all appends")
        #expect(await log.recoveryPoint == 2 * Int64(n))
    }

    @Test func writtenAppendsDoNotWaitForFsync() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs)
        let log = try await manager.createLog(tp0)
        let before = fs.syncCount(pathSuffix: ".log")
        for i in 0..<5 { _ = try await log.append(Batches.simple(count: 1, tag: "\(i)"), durability: .written) }
        #expect(fs.syncCount(pathSuffix: ".log") == before)
        #expect(await log.recoveryPoint == 0)
        #expect(await log.highWatermark == 5)
        try await log.flush()
        #expect(await log.recoveryPoint == 5)
        #expect(fs.syncCount(pathSuffix: ".log") == before + 1)
    }

    @Test func flushMessagesAndFlushMsTriggerFsync() async throws {
        let fs = FaultInjectingFileSystem()
        let clock = ManualClock()
        var config = LogConfig()
        config.flushMessages = 3
        let manager = try await makeManager(fs: fs, clock: clock, config: config)
        let log = try await manager.createLog(tp0)
        _ = try await log.append(Batches.simple(count: 2), durability: .written)
        #expect(await log.recoveryPoint == 0)
        _ = try await log.append(Batches.simple(count: 2), durability: .written)
        #expect(await eventually { await log.recoveryPoint == 4 })

        var timed = LogConfig()
        timed.flushMs = 1000
        await manager.setTopicConfig("orders", timed)
        _ = try await log.append(Batches.simple(count: 1), durability: .written)
        await manager.runFlushChecks(now: clock.nowMs() + 10)
        #expect(await log.recoveryPoint == 4)
        clock.advance(by: 1500)
        await manager.runFlushChecks()
        #expect(await eventually { await log.recoveryPoint == 5 })
    }

    @Test func fsyncFailureTakesThePartitionOffline() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs)
        let log = try await manager.createLog(tp0)
        _ = try await log.append(Batches.simple(count: 2), durability: .flushed)
        fs.failSync { $0.hasSuffix(".log") }
        await expectCode(56) { try await log.append(Batches.simple(count: 2), durability: .flushed) }
        guard case .offline = await log.state else {
            Issue.record("partition should be offline")
            return
        }
        // No retry that could claim durability for lost pages: everything fails from now on.
        fs.failSync(where: nil)
        await expectCode(56) { try await log.append(Batches.simple(count: 1), durability: .flushed) }
        await expectCode(56) { try await log.read(from: 0, maxBytes: 100) }
        await expectCode(56) { try await log.flush() }
        #expect(await manager.offlinePartitions()[tp0] != nil)
    }

    @Test func noSpaceFailsTheAppendAndKeepsDataReadable() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs)
        let log = try await manager.createLog(tp0)
        _ = try await log.append(Batches.simple(count: 3), durability: .flushed)
        let used = fs.allFiles.reduce(0) { $0 + (fs.contents(of: $1)?.count ?? 0) }
        fs.setCapacity(used + 50)
        do {
            _ = try await log.append(Batches.simple(count: 3, valueSize: 200), durability: .flushed)
            Issue.record("append should fail")
        } catch let error as StorageError {
            #expect(error.kafkaErrorCode == 56)
            #expect(error.isSameKind(as: .noSpaceKind))
        }
        #expect(await log.state == .online)
        #expect(await log.logEndOffset == 3)
        let records = try Batches.records(try await log.read(from: 0, maxBytes: 1 << 20).records)
        #expect(records.map(\.offset) == [0, 1, 2])
        fs.setCapacity(nil)
        let next = try await log.append(Batches.simple(count: 2), durability: .flushed)
        #expect(next.baseOffset == 3)
        let all = try Batches.records(try await log.read(from: 0, maxBytes: 1 << 20).records)
        #expect(all.map(\.offset) == [0, 1, 2, 3, 4])
    }
}

/// Polls `condition` for up to two seconds.
func eventually(_ condition: () async -> Bool) async -> Bool {
    for _ in 0..<200 {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}

/// Group commit across a connection's pipelined `acks=all` appends (`appendAwaitingFlush` then
/// `waitForFlush`): each batch is written before the previous one's fsync returns, and one fsync covers
/// every batch written before it started.
@Suite struct PipelinedFlushTests {
    @Test func pipelinedAppendsShareFsyncsAndAreAcknowledgedOnlyAfterOne() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs)
        let log = try await manager.createLog(tp0)
        fs.setSyncDelay(.milliseconds(100))
        let before = fs.syncCount(pathSuffix: ".log")
        let n = 20
        // As a connection does: write a batch, then (without waiting) the next one.
        var written: [PartitionLog.PendingFlush] = []
        for i in 0..<n {
            written.append(try await log.appendAwaitingFlush(Batches.simple(count: 2, tag: "\(i)")))
        }
        #expect(written.map(\.result.baseOffset) == (0..<n).map { Int64(2 * $0) })
        // Nothing is visible to consumers before its fsync (the first round takes 100 ms).
        #expect(await log.highWatermark == 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for pending in written {
                group.addTask {
                    try await log.waitForFlush(pending)
                    // Acknowledged only once a flush covering the batch has finished.
                    #expect(await log.recoveryPoint >= pending.durableOffset)
                    #expect(await log.highWatermark >= pending.durableOffset)
                }
            }
            try await group.waitForAll()
        }
        fs.setSyncDelay(.zero)
        let syncs = fs.syncCount(pathSuffix: ".log") - before
        #expect(syncs >= 1)
        // Typically 2 (the first batch's round, then one for the rest); bounded loosely for loaded machines.
        #expect(syncs < n / 2, "\(syncs) fsyncs for \(n) pipelined acks=all appends")
        #expect(await log.highWatermark == 2 * Int64(n))
    }

    /// A batch whose fsync has already failed (the partition went offline before anyone waited) fails
    /// the wait at once instead of waiting for a round that will never run.
    @Test(.timeLimit(.minutes(1))) func waitingAfterTheFailedFsyncFailsAtOnce() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs)
        let log = try await manager.createLog(tp0)
        fs.failSync { $0.hasSuffix(".log") }
        let pending = try await log.appendAwaitingFlush(Batches.simple(count: 1))
        while await log.loadReport.offlineReason == nil { try await Task.sleep(for: .milliseconds(5)) }
        await #expect(throws: StorageError.self) { try await log.waitForFlush(pending) }
        #expect(await log.highWatermark == 0)
        fs.failSync(where: nil)
    }

    @Test func failedFsyncFailsEveryWaiterItCovers() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs)
        let log = try await manager.createLog(tp0)
        _ = try await log.append(Batches.simple(count: 1), durability: .flushed)
        // The sync fails after its delay: batches written meanwhile are all covered by failing rounds.
        fs.setSyncDelay(.milliseconds(300))
        fs.failSync { $0.hasSuffix(".log") }
        var written: [PartitionLog.PendingFlush] = []
        for i in 0..<8 {
            do {
                written.append(try await log.appendAwaitingFlush(Batches.simple(count: 1, tag: "\(i)")))
            } catch let error as StorageError {
                // Only on a very slow machine: the first round failed before this write.
                #expect(error.kafkaErrorCode == 56)
            }
        }
        #expect(!written.isEmpty)
        let outcomes = await withTaskGroup(of: Int16?.self) { group in
            for pending in written {
                group.addTask {
                    do {
                        try await log.waitForFlush(pending)
                        return nil
                    } catch let error as StorageError {
                        return error.kafkaErrorCode
                    } catch {
                        return -1
                    }
                }
            }
            return await group.reduce(into: [Int16?]()) { $0.append($1) }
        }
        // KAFKA_STORAGE_ERROR for every one of them; none was acknowledged.
        #expect(outcomes.count == written.count)
        #expect(outcomes.allSatisfy { $0 == 56 }, "\(outcomes)")
        #expect(await log.highWatermark == 1)
        fs.failSync(where: nil)
        fs.setSyncDelay(.zero)
    }
}
