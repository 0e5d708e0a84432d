import KafkaProtocol
import Logging
import NIOCore
import SystemPackage

/// How durable an append must be before `append` returns.
public enum AppendDurability: Sendable, Hashable {
    /// Written to the page cache (`acks=0`/`acks=1`); fsynced later by the group commit, `flush.messages`,
    /// `flush.ms`, a roll or shutdown.
    case written
    /// Fsynced (`acks=all`). Concurrent appends share one fsync.
    case flushed
}

/// Who is appending; control batches (transaction markers) are accepted only from the coordinator.
public enum AppendOrigin: Sendable, Hashable {
    /// A producer (Produce request).
    case client
    /// The broker itself (transaction coordinator markers, group coordinator).
    case coordinator
}

/// The outcome of an append: what the Produce response needs.
public struct AppendResult: Sendable, Hashable {
    /// Offset of the first record appended.
    public var baseOffset: Int64
    /// Offset of the last record appended.
    public var lastOffset: Int64
    /// The broker time written into the batches for `LogAppendTime` topics, else -1.
    public var logAppendTime: Int64
    /// The log start offset after the append.
    public var logStartOffset: Int64
    /// The batch was a retry of one already in the log (idempotent producer): nothing was appended and
    /// the offsets are the original ones.
    public var isDuplicate = false
}

/// The upper bound of a read.
public enum ReadLimit: Sendable, Hashable {
    /// Consumers: up to the high watermark.
    case highWatermark
    /// Followers and the broker itself: up to the log end offset.
    case logEndOffset
    /// Up to (excluding) a given offset, e.g. the last stable offset for read_committed.
    case offset(Int64)
}

/// Batches read from the log with the partition's offsets at the time of the read.
public struct ReadResult: Sendable {
    /// Whole record batches, the first one containing the requested offset; empty at the end of the log.
    public var records: ByteBuffer
    public var highWatermark: Int64
    public var logStartOffset: Int64
    public var logEndOffset: Int64
}

/// A batch found by timestamp (ListOffsets).
public struct TimestampLookup: Sendable {
    /// The batch's base offset, raised to the log start offset when that lies inside the batch. The
    /// broker may refine it to the first record with a timestamp ≥ the target by parsing `batch`.
    public var offset: Int64
    /// The batch's max timestamp.
    public var timestamp: Int64
    /// The whole batch.
    public var batch: ByteBuffer
}

/// Whether a partition log serves requests.
public enum PartitionLogState: Sendable, Hashable {
    case online
    /// After an fsync or write error, or corruption found at load. Every call fails with
    /// `KAFKA_STORAGE_ERROR` until an operator repairs the directory and the broker restarts.
    case offline(reason: String)
    case closed
}

/// The durable log of one partition: an ordered list of segments in `<log.dir>/<topic>-<partition>/`,
/// the last of which (the active segment) takes appends.
///
/// An actor running on a dedicated storage thread (`StorageThreadPool`), so blocking file I/O never
/// runs on a NIO event loop or the cooperative pool. Offsets it tracks:
/// - `logStartOffset`: the first offset readable (raised by retention and DeleteRecords);
/// - `logEndOffset`: the offset the next record gets;
/// - `recoveryPoint`: every offset below it is fsynced (it is what `recovery-point-offset-checkpoint` stores);
/// - `highWatermark`: what consumers may read; on a single node it follows appends as they complete
///   (after the write for `.written`, after the fsync for `.flushed`) unless replication takes it over
///   through `setHighWatermark(_:)`.
public actor PartitionLog {
    /// The partition.
    public nonisolated let topicPartition: TopicPartition
    /// The partition directory.
    public nonisolated let directory: String
    nonisolated let thread: StorageIOThread
    let pool: StorageThreadPool
    let fs: any StorageFileSystem
    let clock: any StorageClock
    let logger: Logger

    /// The topic's log settings.
    public private(set) var config: LogConfig
    var segments: [LogSegment] = []
    /// Outcome of loading (for the manager's report).
    var loadReport: LoadReport

    public internal(set) var state: PartitionLogState = .online
    public internal(set) var logStartOffset: Int64 = 0
    public internal(set) var logEndOffset: Int64 = 0
    public internal(set) var highWatermark: Int64 = 0
    /// Whether appends move the high watermark (single node); replication sets it to false.
    public var autoAdvanceHighWatermark = true
    /// Offsets below this are fsynced.
    public internal(set) var recoveryPoint: Int64 = 0

    // Group commit.
    var syncInFlight = false
    var syncRequested = false
    var fullSyncRequested = false
    var directoryDirty = false
    var syncWaiters: [(target: Int64, continuation: CheckedContinuation<Void, any Error>)] = []
    var lastFlushMs: Int64
    /// Segments removed from the log whose handles may still be in a sync in flight.
    var pendingClose: [LogSegment] = []
    /// Number of sync rounds run (each syncs every dirty file once).
    public internal(set) var syncRounds = 0

    /// Idempotent producers' recent batches, for duplicate and sequence checks on append.
    var producerState = PartitionProducerState()
    /// How long a producer id with no new batch is remembered (Kafka's producer.id.expiration.ms).
    public static let producerIDExpirationMs: Int64 = 86_400_000

    // Compaction.
    var cleanedUpTo: Int64 = 0
    var compactionRunning = false
    var earliestDeleteHorizon: Int64?

    public nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }

    var active: LogSegment { segments[segments.count - 1] }
    var name: String { topicPartition.directoryName }

    /// What loading found.
    public struct LoadReport: Sendable, Hashable {
        /// Whether segments were scanned (no clean-shutdown marker).
        public var recovered = false
        /// Bytes cut from a torn tail.
        public var truncatedBytes: Int64 = 0
        /// Segments whose index files were rebuilt.
        public var rebuiltIndexes = 0
        /// Why the partition is offline, if it is.
        public var offlineReason: String?
    }

    init(
        topicPartition: TopicPartition, directory: String, config: LogConfig, fs: any StorageFileSystem,
        clock: any StorageClock, pool: StorageThreadPool
    ) {
        self.topicPartition = topicPartition
        self.directory = directory
        self.config = config
        self.fs = fs
        self.clock = clock
        self.pool = pool
        self.thread = pool.nextActorThread()
        self.logger = Logger(label: "rampart.storage.\(topicPartition)")
        self.lastFlushMs = clock.nowMs()
        self.loadReport = LoadReport()
    }

    /// Replaces the log settings (a topic config change).
    public func updateConfig(_ config: LogConfig) {
        self.config = config
    }

    // MARK: State

    func checkOnline() throws {
        switch state {
        case .online: return
        case .offline(let reason): throw StorageError.offline(name, reason: reason)
        case .closed: throw StorageError.closed(name)
        }
    }

    /// Takes the partition offline: nothing is served and waiting appends fail.
    func goOffline(_ reason: String) {
        guard case .online = state else { return }
        logger.error("partition going offline", metadata: ["reason": "\(reason)"])
        state = .offline(reason: reason)
        loadReport.offlineReason = reason
        let waiters = syncWaiters
        syncWaiters.removeAll()
        for waiter in waiters { waiter.continuation.resume(throwing: StorageError.offline(name, reason: reason)) }
    }

    /// Maps a file-system error of a write: `ENOSPC` leaves the partition online (the append was undone),
    /// anything else takes it offline.
    func writeFailed(_ error: any Error, what: String) -> StorageError {
        if let errno = error as? Errno, errno == .noSpace || errno == .diskQuotaExceeded {
            return StorageError.noSpace(what, cause: errno)
        }
        let reason = "\(what): \(error)"
        goOffline(reason)
        return StorageError.offline(name, reason: reason)
    }

    // MARK: Append

    /// Appends the record batches in `records` (one or more whole v2 batches, as in a Produce request).
    ///
    /// Each batch is checked (header, length, CRC-32C, record count, offset delta, `max.message.bytes`)
    /// without decompressing, then given its offsets by rewriting only its header: `baseOffset` and
    /// `partitionLeaderEpoch` (outside the CRC), and for `LogAppendTime` topics `maxTimestamp` and the
    /// timestamp-type attribute bit (inside it, so the CRC is recomputed). Nothing is written unless every
    /// batch passes. Returns once the append is as durable as `durability` asks.
    public func append(
        _ records: ByteBuffer, durability: AppendDurability, leaderEpoch: Int32 = 0, origin: AppendOrigin = .client
    ) async throws -> AppendResult {
        let written = try write(records, leaderEpoch: leaderEpoch, origin: origin, awaitingFlush: durability == .flushed)
        if durability == .flushed { try await waitForFlush(written) }
        return written.result
    }

    /// A batch written to the page cache whose acknowledgement waits for an fsync (`acks=all`).
    public struct PendingFlush: Sendable {
        /// What the Produce response reports once the batch is durable.
        public var result: AppendResult
        /// The batch is durable once every offset below this one is fsynced.
        public var durableOffset: Int64
    }

    /// The first half of an `acks=all` append: checks and writes the batches like `append` and returns
    /// without waiting for the fsync; the high watermark does not move past them until
    /// `waitForFlush(_:)` returns. A connection can thus write its next batch while this one's fsync is in
    /// flight, and both share the next group commit (a flush covers every append written before it starts).
    public func appendAwaitingFlush(
        _ records: ByteBuffer, leaderEpoch: Int32 = 0, origin: AppendOrigin = .client
    ) throws -> PendingFlush {
        try write(records, leaderEpoch: leaderEpoch, origin: origin, awaitingFlush: true)
    }

    /// The second half of an `acks=all` append: returns once `pending` is fsynced (and moves the high
    /// watermark over it); throws `KAFKA_STORAGE_ERROR` when the fsync covering it fails.
    public func waitForFlush(_ pending: PendingFlush) async throws {
        try await waitUntilFlushed(pending.durableOffset)
        if !pending.result.isDuplicate { advanceHighWatermark(to: pending.durableOffset) }
    }

    /// Checks and writes `records`; with `awaitingFlush` the high watermark is left for `waitForFlush`.
    private func write(
        _ records: ByteBuffer, leaderEpoch: Int32, origin: AppendOrigin, awaitingFlush: Bool
    ) throws -> PendingFlush {
        try checkOnline()
        var buffer = records
        buffer.discardReadBytes()
        guard buffer.readableBytes > 0 else { throw StorageError.invalidRecord("no record batches") }
        let now = clock.nowMs()
        let logAppendTime: Int64 = config.messageTimestampType == .logAppendTime ? now : -1
        var batches: [BatchSummary] = []
        var nextOffset = logEndOffset
        var index = 0
        // Producer state as it will be once these batches are in; committed only after the write.
        var producers = producerState
        while index < buffer.writerIndex {
            let header: RecordBatchHeader
            switch validateBatch(buffer, at: index) {
            case .success(let h): header = h
            case .failure(.truncated): throw StorageError.corruptBatch("batch at byte \(index) is truncated")
            case .failure(.malformed(let what)): throw StorageError.corruptBatch(what)
            case .failure(.crcMismatch(let stored, let computed)):
                throw StorageError.corruptBatch("CRC mismatch at byte \(index): stored \(stored), computed \(computed)")
            }
            if header.totalSize > config.maxMessageBytes {
                throw StorageError.messageTooLarge(size: header.totalSize, limit: config.maxMessageBytes)
            }
            guard header.recordsCount > 0 else { throw StorageError.invalidRecord("batch without records") }
            guard Int64(header.lastOffsetDelta) == Int64(header.recordsCount) - 1 else {
                throw StorageError.invalidRecord(
                    "last offset delta \(header.lastOffsetDelta) does not match \(header.recordsCount) records")
            }
            guard header.attributes.compressionCodecID <= 4 else {
                throw StorageError.unsupportedCompression(header.attributes.compressionCodecID)
            }
            if header.attributes.isControl && origin == .client {
                throw StorageError.invalidRecord("control batches may not be produced by clients")
            }
            if header.producerId >= 0 && header.baseSequence >= 0 && origin == .client {
                switch producers.check(producerID: header.producerId, epoch: header.producerEpoch,
                                       firstSequence: header.baseSequence, lastSequence: header.lastSequence) {
                case .append:
                    break
                case .duplicate(let original):
                    guard index == 0, header.totalSize == buffer.readableBytes else {
                        throw StorageError.invalidRecord("a retried batch of producer \(header.producerId) inside a multi-batch append")
                    }
                    return PendingFlush(
                        result: AppendResult(baseOffset: original.firstOffset, lastOffset: original.lastOffset, logAppendTime: -1,
                                             logStartOffset: logStartOffset, isDuplicate: true),
                        durableOffset: original.lastOffset + 1)
                case .reject(let code):
                    throw StorageError.producerRejected(code, "producer \(header.producerId) epoch \(header.producerEpoch) sequence \(header.baseSequence) refused on \(name): \(code.name)")
                }
            }
            buffer.setBig(nextOffset, at: index)
            buffer.setBig(leaderEpoch, at: index + 12)
            var maxTimestamp = header.maxTimestamp
            if logAppendTime >= 0 {
                var attributes = header.attributes
                attributes.isLogAppendTime = true
                buffer.setBig(attributes.rawValue, at: index + RecordBatchHeader.attributesOffset)
                buffer.setBig(logAppendTime, at: index + 35)
                buffer.setBig(
                    RecordBatchHeader.computeCRC(buffer, batchAt: index, totalSize: header.totalSize),
                    at: index + RecordBatchHeader.crcOffset)
                maxTimestamp = logAppendTime
            }
            let last = nextOffset + Int64(header.lastOffsetDelta)
            let summary = BatchSummary(
                position: Int64(index), baseOffset: nextOffset, lastOffset: last, maxTimestamp: maxTimestamp,
                size: header.totalSize, recordsCount: header.recordsCount, producerId: header.producerId,
                producerEpoch: header.producerEpoch, baseSequence: header.baseSequence, lastSequence: header.lastSequence)
            batches.append(summary)
            producers.record(summary, now: now)
            nextOffset = last + 1
            index += header.totalSize
        }
        if buffer.readableBytes > config.segmentBytes {
            throw StorageError.recordListTooLarge(size: buffer.readableBytes, limit: config.segmentBytes)
        }
        try maybeRoll(
            incomingBytes: buffer.readableBytes, incomingMaxTimestamp: batches.map(\.maxTimestamp).max() ?? -1,
            lastOffset: nextOffset - 1, now: now)
        do {
            try active.append(buffer, batches: batches, indexIntervalBytes: config.indexIntervalBytes)
        } catch {
            throw writeFailed(error, what: "append to \(active.logPath)")
        }
        let result = AppendResult(
            baseOffset: batches[0].baseOffset, lastOffset: nextOffset - 1, logAppendTime: logAppendTime,
            logStartOffset: logStartOffset)
        logEndOffset = nextOffset
        producerState = producers
        // acks=all: start the fsync now (or right after the one in flight) rather than when waited on.
        if awaitingFlush || logEndOffset - recoveryPoint >= config.flushMessages { requestSync() }
        if !awaitingFlush { advanceHighWatermark(to: nextOffset) }
        return PendingFlush(result: result, durableOffset: nextOffset)
    }

    /// The epoch last seen from an idempotent producer on this partition.
    public func producerEpoch(of producerID: Int64) -> Int16? { producerState.epoch(of: producerID) }

    func advanceHighWatermark(to offset: Int64) {
        if autoAdvanceHighWatermark && offset > highWatermark { highWatermark = min(offset, logEndOffset) }
    }

    /// Sets the high watermark (replication), clamped to `[logStartOffset, logEndOffset]`.
    public func setHighWatermark(_ offset: Int64) {
        highWatermark = min(max(offset, logStartOffset), logEndOffset)
    }

    /// Rolls a new active segment when the incoming bytes would not fit, `segment.ms` passed, or
    /// the offsets would overflow the segment's int32 relative offsets.
    ///
    /// Like Kafka, `segment.ms` compares the incoming batches' max timestamp with the first batch's
    /// (so producer clocks decide), falling back to wall-clock age when the segment has no timestamps.
    func maybeRoll(incomingBytes: Int, incomingMaxTimestamp: Int64, lastOffset: Int64, now: Int64) throws {
        let segment = active
        guard segment.size > 0 else { return }
        let waited: Int64
        if let first = segment.firstBatchTimestamp, first >= 0 {
            waited = incomingMaxTimestamp - first
        } else {
            waited = now - segment.createdAtMs
        }
        let full = segment.size + Int64(incomingBytes) > Int64(config.segmentBytes)
        let old = config.segmentMs < Int64.max && waited > config.segmentMs
        let overflow = lastOffset - segment.baseOffset > Int64(Int32.max)
        if full || old || overflow { try roll() }
    }

    /// Starts a new active segment at the log end offset; the old one is synced by the next group
    /// commit, which is started now.
    func roll() throws {
        let old = active
        guard old.size > 0 || old.baseOffset != logEndOffset else { return }
        old.onBecomeInactive()
        do {
            let segment = try LogSegment.create(directory: directory, baseOffset: logEndOffset, fs: fs, nowMs: clock.nowMs())
            segments.append(segment)
        } catch {
            throw writeFailed(error, what: "roll a new segment at offset \(logEndOffset)")
        }
        directoryDirty = true
        requestSync()
    }

    // MARK: Group commit

    /// Returns once every offset below `target` is fsynced; throws when the partition is offline (a
    /// batch written before a failed fsync may be waited on after it: no round would ever cover it).
    func waitUntilFlushed(_ target: Int64) async throws {
        if recoveryPoint >= target && !directoryDirty { return }
        try checkOnline()
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            syncWaiters.append((target, continuation))
            syncRequested = true
            startSyncIfNeeded()
        }
    }

    /// Asks for a sync of everything written so far without waiting for it.
    func requestSync() {
        syncRequested = true
        startSyncIfNeeded()
    }

    /// Starts the sync rounds unless they are running: see `runSyncRounds`.
    func startSyncIfNeeded() {
        guard !syncInFlight, syncRequested, case .online = state else { return }
        syncInFlight = true
        Task { await runSyncRounds() }
    }

    /// Runs sync rounds back to back while one is requested. A round syncs every dirty file (the active
    /// segment's log; rolled segments' logs and indexes; with a full sync also the active indexes) and the
    /// directory if segments were created or removed, then releases the waiters it covers. Appends that
    /// arrive while a round is in flight are covered by the next one, which is handed to a sync worker as
    /// soon as the previous round's completion has run here (no task is created between rounds).
    private func runSyncRounds() async {
        while syncRequested, case .online = state {
            syncRequested = false
            let full = fullSyncRequested
            fullSyncRequested = false
            let target = logEndOffset
            var files: [DirtyFile] = []
            for segment in segments.dropLast() { files += segment.takeDirtyFiles(includeIndexes: true) }
            files += active.takeDirtyFiles(includeIndexes: full)
            let syncDirectory = directoryDirty
            directoryDirty = false
            var failure: (any Error)?
            if !files.isEmpty || syncDirectory {
                syncRounds += 1
                let fs = self.fs
                let directory = self.directory
                let filesToSync = files
                do {
                    try await pool.runBlocking {
                        try DirtyFile.syncAll(filesToSync) {
                            if syncDirectory { try fs.syncDirectory(directory) }
                        }
                    }
                } catch {
                    failure = error
                }
            }
            syncFinished(target: target, error: failure)
        }
        syncInFlight = false
    }

    /// Ends a sync round: on success the recovery point moves to `target` and the waiters it covers are
    /// released (each moves the high watermark in `waitForFlush`: moving it here and waking fetches at
    /// every round measured slower, docs/benchmarks.md); on failure the partition goes offline.
    func syncFinished(target: Int64, error: (any Error)?) {
        if !compactionRunning {
            for segment in pendingClose { segment.close() }
            pendingClose.removeAll()
        }
        if let error {
            // Never retry: after a failed fsync the kernel may have dropped the dirty pages, so a
            // later successful fsync would claim durability for data that is gone.
            goOffline("fsync failed: \(error)")
            return
        }
        recoveryPoint = max(recoveryPoint, target)
        lastFlushMs = clock.nowMs()
        var remaining: [(target: Int64, continuation: CheckedContinuation<Void, any Error>)] = []
        for waiter in syncWaiters {
            if waiter.target <= recoveryPoint { waiter.continuation.resume() } else { remaining.append(waiter) }
        }
        syncWaiters = remaining
        if !remaining.isEmpty { syncRequested = true }
    }

    /// Fsyncs everything written so far, indexes included, and returns when done.
    public func flush() async throws {
        try checkOnline()
        fullSyncRequested = true
        syncRequested = true
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            // A waiter whose target is the current end is released by the next round that starts after now.
            syncWaiters.append((logEndOffset, continuation))
            startSyncIfNeeded()
        }
        // The round that released us may have started before the full-sync request; make sure.
        if fullSyncRequested || segments.contains(where: { $0.logDirty || $0.indexesDirty }) {
            fullSyncRequested = true
            syncRequested = true
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                syncWaiters.append((logEndOffset, continuation))
                startSyncIfNeeded()
            }
        }
        try checkOnline()
    }

    /// Starts a sync when `flush.ms` has passed since the last one and there is unflushed data
    /// (called by the manager's scheduler).
    public func flushIfDue(now: Int64) {
        guard case .online = state, logEndOffset > recoveryPoint, config.flushMs < Int64.max,
              now - lastFlushMs >= config.flushMs else { return }
        requestSync()
    }

    // MARK: Reads

    func resolve(_ limit: ReadLimit) -> Int64 {
        switch limit {
        case .highWatermark: return highWatermark
        case .logEndOffset: return logEndOffset
        case .offset(let o): return min(o, logEndOffset)
        }
    }

    /// Reads whole batches starting with the one that contains `offset`, at most `maxBytes` of them
    /// (but at least one whole batch when `minOneBatch`, as Kafka does for the first partition of a
    /// fetch), stopping before any batch whose base offset is at or past `limit`.
    ///
    /// An offset below the log start or past the log end is `OFFSET_OUT_OF_RANGE`; an offset between the
    /// limit and the log end returns no records.
    public func read(
        from offset: Int64, maxBytes: Int, limit: ReadLimit = .highWatermark, minOneBatch: Bool = true
    ) throws -> ReadResult {
        try checkOnline()
        guard offset >= logStartOffset, offset <= logEndOffset else {
            throw StorageError.offsetOutOfRange(offset, logStart: logStartOffset, logEnd: logEndOffset)
        }
        var result = ReadResult(
            records: ByteBuffer(), highWatermark: highWatermark, logStartOffset: logStartOffset, logEndOffset: logEndOffset)
        let upper = resolve(limit)
        guard offset < upper else { return result }
        var index = segmentIndex(for: offset)
        while index < segments.count {
            do {
                if let records = try segments[index].read(from: offset, maxBytes: maxBytes, limit: upper, minOneBatch: minOneBatch) {
                    result.records = records
                    return result
                }
            } catch {
                throw StorageError.io("read from \(segments[index].logPath)", cause: error)
            }
            index += 1
        }
        return result
    }

    /// Index of the last segment whose base offset is ≤ `offset` (0 if none).
    func segmentIndex(for offset: Int64) -> Int {
        var lo = 0
        var hi = segments.count - 1
        var found = 0
        while lo <= hi {
            let mid = (lo + hi) / 2
            if segments[mid].baseOffset <= offset { found = mid; lo = mid + 1 } else { hi = mid - 1 }
        }
        return found
    }

    /// The first batch whose max timestamp is ≥ `timestamp` (ListOffsets), ignoring batches wholly below
    /// the log start offset or at/after `limit`; nil when there is none.
    public func lookup(timestamp: Int64, limit: ReadLimit = .highWatermark) throws -> TimestampLookup? {
        try checkOnline()
        let upper = resolve(limit)
        for segment in segments where segment.maxTimestamp >= timestamp {
            guard let summary = try? segment.findBatch(timestampAtLeast: timestamp) else { continue }
            // A batch below the log start may hold the timestamp; take the next qualifying one after it.
            var candidate: BatchSummary? = summary
            if summary.lastOffset < logStartOffset {
                candidate = nil
                _ = try segment.forEachBatch(from: summary.position, validateCRC: false) { b in
                    if b.lastOffset >= logStartOffset && b.maxTimestamp >= timestamp { candidate = b; return false }
                    return true
                }
            }
            guard let found = candidate else { continue }
            guard found.baseOffset < upper else { return nil }
            let batch = try segment.readBatch(found)
            return TimestampLookup(offset: max(found.baseOffset, logStartOffset), timestamp: found.maxTimestamp, batch: batch)
        }
        return nil
    }

    /// The batch holding the largest timestamp in the log (ListOffsets `MAX_TIMESTAMP`, -3).
    public func lookupMaxTimestamp() throws -> TimestampLookup? {
        try checkOnline()
        guard let segment = segments.filter({ $0.maxTimestamp >= 0 }).max(by: { $0.maxTimestamp < $1.maxTimestamp }),
              let summary = try segment.findBatch(containing: segment.offsetOfMaxTimestamp) else { return nil }
        return TimestampLookup(
            offset: max(summary.baseOffset, logStartOffset), timestamp: segment.maxTimestamp,
            batch: try segment.readBatch(summary))
    }

    /// Number of bytes in all segments.
    public var sizeInBytes: Int64 { segments.reduce(0) { $0 + $1.size } }

    /// Base offsets of the segments, oldest first.
    public var segmentBaseOffsets: [Int64] { segments.map(\.baseOffset) }

    // MARK: Close

    /// Flushes everything and closes the files; the log then refuses every call.
    public func close() async throws {
        if case .online = state { try await flush() }
        closeWithoutFlush()
    }

    /// Closes the files without flushing (deleting the partition or abandoning an offline one). Files a
    /// sync or compaction in flight still uses are closed when it ends.
    func closeWithoutFlush() {
        if case .online = state { state = .closed }
        if syncInFlight || compactionRunning {
            pendingClose += segments
        } else {
            for segment in segments { segment.close() }
        }
    }
}
