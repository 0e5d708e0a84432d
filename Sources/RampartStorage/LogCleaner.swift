import KafkaProtocol
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The compaction worker shared by all partitions of a `LogManager`: one dedicated thread (Kafka's
/// `log.cleaner.threads` = 1) and an I/O throttle (`log.cleaner.io.max.bytes.per.second`) that counts
/// bytes read and written.
final class LogCleaner: Sendable {
    let thread: StorageIOThread
    let throttle: Throttle

    init(ioBytesPerSecond: Double) {
        thread = StorageIOThread(name: "rampart-cleaner")
        throttle = Throttle(bytesPerSecond: ioBytesPerSecond)
    }

    /// Runs blocking work on the cleaner thread.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            thread.submit {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
        }
    }
}

/// Keeps a byte rate under a limit by sleeping the calling thread.
final class Throttle: @unchecked Sendable {
    let bytesPerSecond: Double
    private let lock = PThreadLock()
    private var windowStart: Double = 0
    private var bytesInWindow: Double = 0

    init(bytesPerSecond: Double) { self.bytesPerSecond = bytesPerSecond }

    /// Total time slept so far, for tests.
    private(set) var sleptSeconds: Double = 0

    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Accounts for `bytes` of I/O, sleeping as long as needed to stay under the rate.
    func account(_ bytes: Int) {
        guard bytesPerSecond.isFinite, bytesPerSecond > 0 else { return }
        let sleep: Double = lock.withLock {
            let now = Self.monotonicSeconds()
            if windowStart == 0 || now - windowStart > 1 {
                windowStart = now
                bytesInWindow = 0
            }
            bytesInWindow += Double(bytes)
            let due = bytesInWindow / bytesPerSecond - (now - windowStart)
            if due > 0 { sleptSeconds += due }
            return due
        }
        if sleep > 0 { blockingSleep(.nanoseconds(Int64(sleep * 1e9))) }
    }
}

/// What one compaction pass did.
public struct CompactionResult: Sendable, Hashable {
    /// Segments rewritten.
    public var segmentsCleaned = 0
    /// Records removed (superseded values and expired tombstones).
    public var recordsRemoved = 0
    /// Bytes of log before and after.
    public var bytesBefore: Int64 = 0
    public var bytesAfter: Int64 = 0
}

/// A cleaned copy of one segment, written next to it as `<base>.log.cleaned`.
struct CleanedSegment: Sendable {
    var baseOffset: Int64
    var path: String
    var recordsRemoved: Int
    var bytesBefore: Int64
    var bytesAfter: Int64
    /// The earliest delete horizon among retained tombstone batches (when the next pass has work).
    var earliestHorizon: Int64?
}

/// A key, by value.
struct RecordKey: Hashable {
    var bytes: [UInt8]
    init(_ buffer: ByteBuffer) { bytes = Array(buffer.readableBytesView) }
}

/// The blocking part of compaction, run on the cleaner thread over immutable segments.
///
/// Rules (Kafka's): for each key, only the record with the highest offset in the cleanable range is
/// kept; offsets never change (a filtered batch keeps its base offset and last offset delta, its
/// records keep their offset deltas, and the batch keeps its codec). A tombstone (null value) that is
/// the latest for its key is kept until the batch's delete horizon: the first pass that keeps it marks
/// the batch (attribute bit 6, KIP-534) with `baseTimestamp = now + delete.retention.ms` (record
/// timestamps are preserved by rebasing their deltas); a later pass after the horizon drops it.
/// Records without a key and control batches are kept unchanged. Batches left with no records are dropped.
struct CompactionJob: Sendable {
    struct Source: Sendable {
        var baseOffset: Int64
        var file: any StorageFile
        var size: Int64
        var directory: String
    }

    var sources: [Source]
    var fs: any StorageFileSystem
    var throttle: Throttle
    var now: Int64
    var deleteRetentionMs: Int64

    func forEachBatch(in source: Source, _ body: (RecordBatch) throws -> Void) throws {
        var position: Int64 = 0
        let chunkSize = 1 << 20
        while position < source.size {
            let want = Int(min(Int64(chunkSize), source.size - position))
            var chunk = try source.file.read(at: position, count: want)
            throttle.account(chunk.readableBytes)
            var consumed = 0
            while let batch = try RecordBatch.read(from: &chunk) {
                consumed += batch.totalSize
                try body(batch)
            }
            if consumed == 0 {
                // One batch larger than the chunk: read exactly it.
                guard let header = try RecordBatchHeader.peek(chunk, at: chunk.readerIndex) else {
                    throw StorageError.corruptBatch("truncated batch in segment \(source.baseOffset) at byte \(position)")
                }
                var whole = try source.file.read(at: position, count: header.totalSize)
                throttle.account(whole.readableBytes)
                guard let batch = try RecordBatch.read(from: &whole) else {
                    throw StorageError.corruptBatch("truncated batch in segment \(source.baseOffset) at byte \(position)")
                }
                consumed = batch.totalSize
                try body(batch)
            }
            position += Int64(consumed)
        }
    }

    /// The offset of the latest record of each key in the cleanable range.
    func buildOffsetMap() throws -> [RecordKey: Int64] {
        var map: [RecordKey: Int64] = [:]
        for source in sources {
            try forEachBatch(in: source) { batch in
                guard !batch.header.attributes.isControl else { return }
                var records = try batch.records()
                while let record = try records.next() {
                    // Offsets only grow along the scan, so the last one seen is the latest.
                    if let key = record.key { map[RecordKey(key)] = batch.offset(of: record) }
                }
            }
        }
        return map
    }

    func run() throws -> [CleanedSegment] {
        let map = try buildOffsetMap()
        var cleaned: [CleanedSegment] = []
        for source in sources {
            let path = joinPath(source.directory, LogSegment.name(source.baseOffset, ".log.cleaned"))
            try fs.removeFileIfExists(path)
            let out = try fs.openFile(path, create: true)
            defer { try? out.close() }
            var written: Int64 = 0
            var removed = 0
            var earliestHorizon: Int64?
            try forEachBatch(in: source) { batch in
                let (result, dropped, horizon) = try filter(batch, map: map)
                removed += dropped
                if let horizon { earliestHorizon = min(earliestHorizon ?? horizon, horizon) }
                guard let result else { return }
                var buffer = ByteBufferAllocator().buffer(capacity: result.totalSize)
                result.write(to: &buffer)
                try out.writeAll(buffer, at: written)
                throttle.account(buffer.readableBytes)
                written += Int64(buffer.readableBytes)
            }
            try out.sync()
            cleaned.append(CleanedSegment(
                baseOffset: source.baseOffset, path: path, recordsRemoved: removed, bytesBefore: source.size,
                bytesAfter: written, earliestHorizon: earliestHorizon))
        }
        return cleaned
    }

    /// The batch to write (nil: drop it), the number of records removed, and the delete horizon of a
    /// batch that keeps tombstones.
    func filter(_ batch: RecordBatch, map: [RecordKey: Int64]) throws -> (RecordBatch?, Int, Int64?) {
        let header = batch.header
        if header.attributes.isControl { return (batch, 0, nil) }
        let horizonSet = header.attributes.hasDeleteHorizon
        let tombstonesExpired = horizonSet && now >= header.baseTimestamp
        var kept: [Record] = []
        var removed = 0
        var keptTombstone = false
        var records = try batch.records()
        while let record = try records.next() {
            let offset = batch.offset(of: record)
            if let key = record.key {
                if let latest = map[RecordKey(key)], latest > offset {
                    removed += 1
                    continue
                }
                if record.value == nil {
                    if tombstonesExpired {
                        removed += 1
                        continue
                    }
                    keptTombstone = true
                }
            }
            kept.append(record)
        }
        if kept.isEmpty { return (nil, removed, nil) }
        let needsHorizon = keptTombstone && !horizonSet
        if removed == 0 && !needsHorizon {
            return (batch, 0, keptTombstone ? header.baseTimestamp : nil)
        }
        var baseTimestamp = header.baseTimestamp
        var attributesHorizon = horizonSet
        if needsHorizon {
            baseTimestamp = now &+ deleteRetentionMs
            attributesHorizon = true
        }
        if baseTimestamp != header.baseTimestamp {
            kept = kept.map { record in
                var r = record
                r.timestampDelta = (header.baseTimestamp &+ record.timestampDelta) &- baseTimestamp
                return r
            }
        }
        var rebuilt = try RecordBatch(
            records: kept, baseOffset: header.baseOffset, baseTimestamp: baseTimestamp, maxTimestamp: header.maxTimestamp,
            compression: try batch.compression, producerId: header.producerId, producerEpoch: header.producerEpoch,
            baseSequence: header.baseSequence, isTransactional: header.attributes.isTransactional,
            isControl: false, isLogAppendTime: header.attributes.isLogAppendTime,
            partitionLeaderEpoch: header.partitionLeaderEpoch)
        // Keep the batch's offset range (and so the producer's last sequence) as Kafka does.
        rebuilt.header.lastOffsetDelta = header.lastOffsetDelta
        rebuilt.header.attributes.hasDeleteHorizon = attributesHorizon
        rebuilt.updateCRC()
        return (rebuilt, removed, keptTombstone ? baseTimestamp : nil)
    }
}

extension PartitionLog {
    /// Whether a compaction pass has work: segments rolled since the last pass, or a delete horizon passed.
    func compactionDue(now: Int64) -> Bool {
        guard segments.count > 1 else { return false }
        if segments[segments.count - 1].baseOffset > cleanedUpTo { return true }
        if let horizon = earliestDeleteHorizon, now >= horizon { return true }
        return false
    }

    /// One compaction pass over the cleanable segments: every segment but the active one, up to the
    /// high watermark, and only segments whose newest record is older than `min.compaction.lag.ms`.
    /// The segments are read and rewritten on the cleaner thread (throttled) while the partition keeps
    /// serving; each rewritten segment is swapped in atomically (`<base>.log.cleaned` is fsynced, the old
    /// index files are removed, the cleaned file is renamed over the `.log`, the directory is fsynced, and
    /// the indexes are rebuilt). A crash at any point leaves either the old or the new segment; leftovers
    /// are removed at load.
    @discardableResult
    public func compact(now: Int64? = nil, cleaner: LogCleanerHandle) async throws -> CompactionResult {
        try await compact(now: now, cleaner: cleaner.cleaner)
    }

    @discardableResult
    func compact(now: Int64?, cleaner: LogCleaner) async throws -> CompactionResult {
        try checkOnline()
        let now = now ?? clock.nowMs()
        var result = CompactionResult()
        guard config.cleanupPolicy.contains(.compact), !compactionRunning, compactionDue(now: now) else { return result }
        var cleanable: [LogSegment] = []
        for (i, segment) in segments.dropLast().enumerated() {
            let upper = segments[i + 1].baseOffset
            let newest = segment.maxTimestamp >= 0 ? segment.maxTimestamp : segment.createdAtMs
            guard upper <= highWatermark, now - newest >= config.minCompactionLagMs else { break }
            cleanable.append(segment)
        }
        guard !cleanable.isEmpty else { return result }
        compactionRunning = true
        defer {
            compactionRunning = false
            if !syncInFlight {
                for segment in pendingClose { segment.close() }
                pendingClose.removeAll()
            }
        }
        let job = CompactionJob(
            sources: cleanable.map { .init(baseOffset: $0.baseOffset, file: $0.log, size: $0.size, directory: directory) },
            fs: fs, throttle: cleaner.throttle, now: now, deleteRetentionMs: config.deleteRetentionMs)
        let outputs: [CleanedSegment]
        do {
            outputs = try await cleaner.run { try job.run() }
        } catch {
            for source in job.sources {
                try? fs.removeFileIfExists(joinPath(directory, LogSegment.name(source.baseOffset, ".log.cleaned")))
            }
            throw StorageError.io("compaction of \(name)", cause: error)
        }
        try checkOnline()
        var horizon: Int64?
        for (segment, output) in zip(cleanable, outputs) {
            // Retention may have deleted the segment meanwhile.
            guard let index = segments.firstIndex(where: { $0 === segment }) else {
                try? fs.removeFileIfExists(output.path)
                continue
            }
            if let h = output.earliestHorizon { horizon = min(horizon ?? h, h) }
            guard output.recordsRemoved > 0 || output.bytesAfter != output.bytesBefore else {
                try? fs.removeFileIfExists(output.path)
                continue
            }
            do {
                try fs.removeFileIfExists(segment.indexPath)
                try fs.removeFileIfExists(segment.timeIndexPath)
                try fs.rename(output.path, to: segment.logPath)
                try fs.syncDirectory(directory)
                let (replacement, _) = try LogSegment.open(
                    directory: directory, baseOffset: segment.baseOffset, fs: fs, nowMs: clock.nowMs(),
                    indexIntervalBytes: config.indexIntervalBytes)
                let minOffset = index > 0 ? segments[index - 1].nextOffset : segment.baseOffset
                guard case .valid = try replacement.recover(minOffset: minOffset, indexIntervalBytes: config.indexIntervalBytes) else {
                    throw StorageError.corruptLog("cleaned segment \(segment.logPath) does not validate")
                }
                try DirtyFile.syncAll(replacement.takeDirtyFiles(includeIndexes: true))
                segments[index] = replacement
            } catch {
                goOffline("swapping in the compacted segment \(segment.logPath) failed: \(error)")
                throw StorageError.offline(name, reason: "compaction swap failed: \(error)")
            }
            if syncInFlight { pendingClose.append(segment) } else { segment.close() }
            result.segmentsCleaned += 1
            result.recordsRemoved += output.recordsRemoved
            result.bytesBefore += output.bytesBefore
            result.bytesAfter += output.bytesAfter
        }
        cleanedUpTo = max(cleanedUpTo, cleanable.last.map { s in
            let i = segments.firstIndex(where: { $0.baseOffset == s.baseOffset }) ?? 0
            return i + 1 < segments.count ? segments[i + 1].baseOffset : s.baseOffset
        } ?? cleanedUpTo)
        earliestDeleteHorizon = horizon
        if result.segmentsCleaned > 0 {
            logger.info("compacted", metadata: [
                "segments": "\(result.segmentsCleaned)", "removed": "\(result.recordsRemoved)",
                "bytes": "\(result.bytesBefore)->\(result.bytesAfter)",
            ])
        }
        return result
    }
}

/// A handle on a compaction worker for callers that drive `PartitionLog.compact` themselves (tests,
/// tools); the `LogManager` owns one and runs passes every `log.cleaner.backoff.ms`.
public struct LogCleanerHandle: Sendable {
    let cleaner: LogCleaner
    /// A worker limited to `ioBytesPerSecond` of reads plus writes.
    public init(ioBytesPerSecond: Double = .infinity) { cleaner = LogCleaner(ioBytesPerSecond: ioBytesPerSecond) }
    /// Seconds the throttle has slept so far.
    public var throttledSeconds: Double { cleaner.throttle.sleptSeconds }
}
