import KafkaProtocol
import NIOCore

/// One segment of a partition log: `<base>.log` with its `<base>.index` and `<base>.timeindex`.
///
/// `<base>` is the segment's base offset (the offset of its first record at creation) printed as 20
/// decimal digits, zero-padded (`00000000000000001234.log`), so that names sort like offsets.
///
/// The `.log` file is a plain concatenation of v2 record batches exactly as on the wire (61-byte
/// `RecordBatchHeader` then records, possibly compressed), with the broker-assigned `baseOffset` in
/// each header; no other framing, header or footer. All offsets in a segment are ≥ its base offset
/// and < the next segment's base offset, and `lastOffset - base` fits in an int32.
///
/// A segment is confined to its `PartitionLog` actor; only its `log` file handle (thread-safe
/// positional I/O) is handed out, for syncing and for compaction reads of immutable segments. Only the
/// `.log` stays open: the index files are opened to be written or synced and closed again (`IndexFile`).
final class LogSegment {
    let baseOffset: Int64
    let directory: String
    let fs: any StorageFileSystem
    private(set) var log: any StorageFile
    var offsetIndex: OffsetIndex
    var timeIndex: TimeIndex
    /// Size of the `.log` file in bytes (what has been written, synced or not).
    private(set) var size: Int64
    /// One past the last offset stored (the base offset when empty).
    private(set) var nextOffset: Int64
    /// The largest batch max-timestamp in the segment, -1 when none.
    private(set) var maxTimestamp: Int64 = -1
    private(set) var offsetOfMaxTimestamp: Int64 = -1
    /// The max timestamp of the first batch, which `segment.ms` counts from.
    private(set) var firstBatchTimestamp: Int64?
    /// When the segment was created or loaded (wall clock); `segment.ms` and retention use it when
    /// batches carry no timestamps.
    let createdAtMs: Int64
    /// Whether the log file has writes not yet synced.
    var logDirty = false
    /// Whether the index files have writes not yet synced.
    var indexesDirty = false
    private var bytesSinceLastIndexEntry = 0

    static func name(_ baseOffset: Int64, _ suffix: String) -> String {
        let digits = String(baseOffset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    /// Parses `<20 digits>.log` into a base offset.
    static func baseOffset(fromLogFileName name: String) -> Int64? {
        guard name.hasSuffix(".log") else { return nil }
        let digits = name.dropLast(4)
        guard digits.count == 20, digits.allSatisfy(\.isASCIIDigit) else { return nil }
        return Int64(digits)
    }

    var logPath: String { joinPath(directory, Self.name(baseOffset, ".log")) }
    var indexPath: String { joinPath(directory, Self.name(baseOffset, ".index")) }
    var timeIndexPath: String { joinPath(directory, Self.name(baseOffset, ".timeindex")) }

    private init(directory: String, baseOffset: Int64, fs: any StorageFileSystem, nowMs: Int64, create: Bool) throws {
        self.directory = directory
        self.baseOffset = baseOffset
        self.fs = fs
        self.createdAtMs = nowMs
        let logPath = joinPath(directory, Self.name(baseOffset, ".log"))
        let log = try fs.openFile(logPath, create: create)
        self.log = log
        self.offsetIndex = OffsetIndex(path: joinPath(directory, Self.name(baseOffset, ".index")), baseOffset: baseOffset)
        self.timeIndex = TimeIndex(path: joinPath(directory, Self.name(baseOffset, ".timeindex")), baseOffset: baseOffset)
        do {
            self.size = try log.size()
        } catch {
            try? log.close()
            throw error
        }
        self.nextOffset = baseOffset
    }

    /// Creates a new empty segment (emptying files left over at that name).
    static func create(directory: String, baseOffset: Int64, fs: any StorageFileSystem, nowMs: Int64) throws -> LogSegment {
        let segment = try LogSegment(directory: directory, baseOffset: baseOffset, fs: fs, nowMs: nowMs, create: true)
        segment.offsetIndex.reset()
        segment.timeIndex.reset()
        do {
            try segment.log.truncate(to: 0)
            // Empty index files now, so that no leftover at this name is ever taken for this segment's.
            _ = try segment.offsetIndex.writeOut(fs: fs, keepOpen: false)
            _ = try segment.timeIndex.writeOut(fs: fs, keepOpen: false)
        } catch {
            segment.close()
            throw error
        }
        segment.size = 0
        segment.logDirty = true
        segment.indexesDirty = true
        return segment
    }

    /// Opens an existing segment without validating its batches (a clean start, or a segment below
    /// the recovery point). Returns nil when the indexes are missing or fail their sanity check, or the
    /// tail cannot be read: the caller then runs `recover()`.
    /// Batches past the last offset-index entry (entries an unclean stop did not write) are indexed again
    /// every `indexIntervalBytes`.
    static func open(
        directory: String, baseOffset: Int64, fs: any StorageFileSystem, nowMs: Int64, indexIntervalBytes: Int = 4096
    ) throws -> (LogSegment, trusted: Bool) {
        let hadIndexes = fs.exists(joinPath(directory, name(baseOffset, ".index")))
            && fs.exists(joinPath(directory, name(baseOffset, ".timeindex")))
        let segment = try LogSegment(directory: directory, baseOffset: baseOffset, fs: fs, nowMs: nowMs, create: false)
        do {
            guard hadIndexes, try segment.offsetIndex.load(fs: fs), try segment.timeIndex.load(fs: fs) else { return (segment, false) }
            return (segment, try segment.loadTail(indexIntervalBytes: indexIntervalBytes))
        } catch {
            segment.close()
            throw error
        }
    }

    /// Scans the batches after the last offset-index entry to learn the next offset and max timestamp,
    /// checking that the indexes agree with the log. False if they do not.
    private func loadTail(indexIntervalBytes: Int) throws -> Bool {
        let start = offsetIndex.lastPosition ?? 0
        guard start <= size || size == 0 else { return false }
        if let lastTime = timeIndex.lastEntry {
            guard lastTime.relativeOffset >= 0 else { return false }
            maxTimestamp = lastTime.timestamp
            offsetOfMaxTimestamp = baseOffset + Int64(lastTime.relativeOffset)
        }
        var first = true
        var ok = true
        let end = try forEachBatch(from: start, validateCRC: false) { summary in
            if first, let expected = offsetIndex.lastOffset, summary.lastOffset != expected {
                ok = false
                return false
            }
            first = false
            indexBatch(summary, intervalBytes: indexIntervalBytes)
            observe(summary)
            return true
        }
        guard ok, case .endOfLog = end else { return false }
        if let lastTime = timeIndex.lastEntry, baseOffset + Int64(lastTime.relativeOffset) >= nextOffset, size > 0 {
            return false
        }
        if size > 0, firstBatchTimestamp == nil {
            // The first batch was before the tail we scanned.
            _ = try forEachBatch(from: 0, validateCRC: false) { firstBatchTimestamp = $0.maxTimestamp; return false }
        }
        return true
    }

    private func observe(_ summary: BatchSummary) {
        if firstBatchTimestamp == nil { firstBatchTimestamp = summary.maxTimestamp }
        if summary.maxTimestamp > maxTimestamp {
            maxTimestamp = summary.maxTimestamp
            offsetOfMaxTimestamp = summary.baseOffset
        }
        nextOffset = max(nextOffset, summary.lastOffset + 1)
    }

    // MARK: Recovery

    /// Where a full scan stopped.
    enum RecoveryOutcome {
        /// Every batch is valid.
        case valid
        /// The batch at `position` is invalid; everything before it is valid and indexed.
        case invalid(position: Int64, problem: BatchProblem)
    }

    /// Rebuilds both indexes by scanning every batch with its CRC (and offsets increasing, within
    /// the segment's int32 range, and ≥ `minOffset`). Stops at the first invalid batch, without
    /// truncating anything.
    func recover(minOffset: Int64, indexIntervalBytes: Int) throws -> RecoveryOutcome {
        offsetIndex.reset()
        timeIndex.reset()
        indexesDirty = true
        nextOffset = baseOffset
        maxTimestamp = -1
        offsetOfMaxTimestamp = -1
        firstBatchTimestamp = nil
        bytesSinceLastIndexEntry = 0
        var expected = max(minOffset, baseOffset)
        var problem: BatchProblem?
        let end = try forEachBatch(from: 0, validateCRC: true) { summary in
            if summary.baseOffset < expected || summary.lastOffset - baseOffset > Int64(Int32.max) {
                problem = .malformed("offset \(summary.baseOffset) out of order (expected ≥ \(expected))")
                return false
            }
            expected = summary.lastOffset + 1
            indexBatch(summary, intervalBytes: indexIntervalBytes)
            observe(summary)
            return true
        }
        // As Kafka does, end with an entry for the segment's largest timestamp.
        if maxTimestamp >= 0 { timeIndex.maybeAppend(timestamp: maxTimestamp, offset: offsetOfMaxTimestamp) }
        switch end {
        case .endOfLog: return .valid
        case .stopped(let position): return .invalid(position: position, problem: problem ?? .truncated)
        case .invalid(let position, let p): return .invalid(position: position, problem: p)
        }
    }

    /// Whether a valid batch with offsets ≥ `minOffset` starts anywhere after `position` (used to tell a
    /// torn tail, after which nothing valid follows, from corruption in the middle of the log).
    func hasValidBatch(after position: Int64, minOffset: Int64) throws -> Bool {
        guard position + 1 < size else { return false }
        let bytes = try log.read(at: position + 1, count: Int(size - position - 1))
        var index = bytes.readerIndex
        let last = bytes.writerIndex - RecordBatchHeader.size
        while index <= last {
            if bytes.getInteger(at: index + RecordBatchHeader.magicOffset, as: Int8.self) == 2,
               case .success(let header) = validateBatch(bytes, at: index), header.baseOffset >= minOffset,
               header.recordsCount > 0 {
                return true
            }
            index += 1
        }
        return false
    }

    /// Cuts the log at `position` (a batch boundary found by `recover`) and drops index entries past it.
    func truncate(toPosition position: Int64) throws {
        try log.truncate(to: position)
        size = position
        offsetIndex.truncate(toPosition: position)
        timeIndex.truncate(toOffset: nextOffset)
        logDirty = true
        indexesDirty = true
    }

    // MARK: Append

    /// Writes `buffer` (whole batches with offsets assigned, described by `batches` with positions
    /// relative to the buffer) at the end of the log and indexes them. On a write error the log is
    /// cut back to its previous size and the error rethrown; index write errors are tolerated (the
    /// index is sparse, its entries stay in memory and are written again by the next attempt).
    func append(_ buffer: ByteBuffer, batches: [BatchSummary], indexIntervalBytes: Int) throws {
        let start = size
        do {
            try log.writeAll(buffer, at: start)
        } catch {
            try? log.truncate(to: start)
            throw error
        }
        size += Int64(buffer.readableBytes)
        logDirty = true
        for var summary in batches {
            summary.position += start
            indexBatch(summary, intervalBytes: indexIntervalBytes)
            observe(summary)
        }
        if offsetIndex.unwrittenEntries >= Self.indexWriteBatch { writeIndexes() }
    }

    /// New index entries are written to the files in batches of this many (besides rolls, full flushes
    /// and close), which bounds what an unclean stop leaves unindexed (re-indexed at load by `loadTail`).
    static let indexWriteBatch = 64

    /// Writes unwritten index entries (no fsync); an error leaves them for the next attempt.
    func writeIndexes() {
        if offsetIndex.hasUnwrittenChanges { _ = try? offsetIndex.writeOut(fs: fs, keepOpen: false) }
        if timeIndex.hasUnwrittenChanges { _ = try? timeIndex.writeOut(fs: fs, keepOpen: false) }
    }

    private func indexBatch(_ summary: BatchSummary, intervalBytes: Int) {
        let timestampCandidate = summary.maxTimestamp > maxTimestamp
        if bytesSinceLastIndexEntry > intervalBytes {
            let ts = timestampCandidate ? summary.maxTimestamp : maxTimestamp
            let tsOffset = timestampCandidate ? summary.baseOffset : offsetOfMaxTimestamp
            bytesSinceLastIndexEntry = 0
            indexesDirty = true
            offsetIndex.append(offset: summary.lastOffset, position: summary.position)
            if ts >= 0 { timeIndex.maybeAppend(timestamp: ts, offset: tsOffset) }
        }
        bytesSinceLastIndexEntry += summary.size
    }

    /// Called when the segment stops being the active one: records its final max timestamp in the time index.
    func onBecomeInactive() {
        if maxTimestamp >= 0 {
            timeIndex.maybeAppend(timestamp: maxTimestamp, offset: offsetOfMaxTimestamp)
            indexesDirty = true
        }
    }

    // MARK: Reads

    /// How a batch scan ended.
    enum ScanEnd {
        case endOfLog
        case stopped(position: Int64)
        case invalid(position: Int64, problem: BatchProblem)
    }

    /// Calls `body` for each batch from `position` until it returns false, the log ends or a batch
    /// is invalid. With `validateCRC` each batch is read whole and checked; otherwise only headers.
    func forEachBatch(from position: Int64, validateCRC: Bool, _ body: (BatchSummary) throws -> Bool) throws -> ScanEnd {
        let chunkSize = 64 * 1024
        var pos = position
        var chunk = ByteBuffer()
        var chunkStart: Int64 = pos
        func ensure(_ count: Int) throws -> Bool {
            let have = Int64(chunk.writerIndex) - (pos - chunkStart)
            if pos >= chunkStart, have >= Int64(count) { return true }
            let want = min(Int64(max(chunkSize, count)), size - pos)
            chunk = try log.read(at: pos, count: Int(want))
            chunkStart = pos
            return chunk.writerIndex >= count
        }
        while pos < size {
            guard try ensure(RecordBatchHeader.size) else { return .invalid(position: pos, problem: .truncated) }
            let index = Int(pos - chunkStart)
            let header: RecordBatchHeader
            do {
                guard let h = try RecordBatchHeader.peek(chunk, at: index) else { return .invalid(position: pos, problem: .truncated) }
                header = h
            } catch {
                return .invalid(position: pos, problem: .malformed("\(error)"))
            }
            if Int64(header.totalSize) > size - pos { return .invalid(position: pos, problem: .truncated) }
            if validateCRC {
                guard try ensure(header.totalSize) else { return .invalid(position: pos, problem: .truncated) }
                if case .failure(let problem) = validateBatch(chunk, at: Int(pos - chunkStart)) {
                    return .invalid(position: pos, problem: problem)
                }
            }
            let summary = BatchSummary(
                position: pos, baseOffset: header.baseOffset, lastOffset: header.lastOffset,
                maxTimestamp: header.maxTimestamp, size: header.totalSize, recordsCount: header.recordsCount,
                producerId: header.producerId, producerEpoch: header.producerEpoch,
                baseSequence: header.baseSequence, lastSequence: header.lastSequence)
            guard try body(summary) else { return .stopped(position: pos) }
            pos += Int64(header.totalSize)
        }
        return .endOfLog
    }

    /// The first batch whose last offset is ≥ `offset`, or nil if none in this segment.
    func findBatch(containing offset: Int64) throws -> BatchSummary? {
        var found: BatchSummary?
        _ = try forEachBatch(from: offsetIndex.lookup(offset), validateCRC: false) { summary in
            if summary.lastOffset >= offset { found = summary; return false }
            return true
        }
        return found
    }

    /// Whole batches starting with the one containing `offset`: as many as fit in `maxBytes`
    /// (at least one when `minOneBatch`), none whose base offset is ≥ `limit`.
    ///
    /// The bytes are read once (up to `maxBytes`, or the first batch) and the batch headers walked in
    /// memory; the result is a slice of that buffer, without the partial batch at its end.
    func read(from offset: Int64, maxBytes: Int, limit: Int64, minOneBatch: Bool) throws -> ByteBuffer? {
        guard let first = try findBatch(containing: offset) else { return nil }
        guard first.baseOffset < limit else { return ByteBuffer() }
        let available = size - first.position
        var want = Int(min(Int64(max(maxBytes, 0)), available))
        if minOneBatch { want = max(want, Int(min(Int64(first.size), available))) }
        let bytes = try log.read(at: first.position, count: want)
        var total = 0
        while let header = try? RecordBatchHeader.peek(bytes, at: bytes.readerIndex + total),
              header.baseOffset < limit, header.totalSize > 0, total + header.totalSize <= bytes.readableBytes {
            total += header.totalSize
        }
        return bytes.getSlice(at: bytes.readerIndex, length: total)
    }

    /// The first batch whose max timestamp is ≥ `timestamp`, or nil.
    func findBatch(timestampAtLeast timestamp: Int64) throws -> BatchSummary? {
        guard maxTimestamp >= timestamp else { return nil }
        let startOffset = timeIndex.lookup(timestamp)
        var found: BatchSummary?
        _ = try forEachBatch(from: offsetIndex.lookup(startOffset), validateCRC: false) { summary in
            if summary.maxTimestamp >= timestamp { found = summary; return false }
            return true
        }
        return found
    }

    /// Bytes of one batch.
    func readBatch(_ summary: BatchSummary) throws -> ByteBuffer {
        try log.read(at: summary.position, count: summary.size)
    }

    // MARK: Files

    /// Files with unsynced writes (indexes only when `includeIndexes`), marking them clean. Index files
    /// are written out first and returned open, to be closed after their sync (`DirtyFile.syncAll`);
    /// without `includeIndexes` the active segment's new entries wait for `indexWriteBatch` of them (a
    /// sync round of an acks=all append then does no index I/O at all). An index that cannot be
    /// written (e.g. no descriptor left) stays dirty for a later round: it is derived data, rebuilt from
    /// the log when damaged.
    func takeDirtyFiles(includeIndexes: Bool) -> [DirtyFile] {
        var files: [DirtyFile] = []
        if logDirty { files.append(DirtyFile(file: log, closeAfterSync: false)); logDirty = false }
        if includeIndexes && indexesDirty {
            do {
                if let file = try offsetIndex.writeOut(fs: fs, keepOpen: true) { files.append(DirtyFile(file: file, closeAfterSync: true)) }
                if let file = try timeIndex.writeOut(fs: fs, keepOpen: true) { files.append(DirtyFile(file: file, closeAfterSync: true)) }
                indexesDirty = false
            } catch {
                // Keep indexesDirty: the next full round tries again.
            }
        }
        return files
    }

    private var isClosed = false

    /// Closes the log file once (a second close could hit a descriptor number reused by another file).
    func close() {
        guard !isClosed else { return }
        isClosed = true
        try? log.close()
    }

    /// Removes the segment's files: the `.log` is first renamed to `.log.deleted` so a crash half-way
    /// leaves no segment that looks live (leftover `.deleted` and orphan index files are removed at load).
    func deleteFiles(closeHandles: Bool) throws {
        if closeHandles { close() }
        let deleted = logPath + ".deleted"
        try fs.rename(logPath, to: deleted)
        try fs.removeFileIfExists(indexPath)
        try fs.removeFileIfExists(timeIndexPath)
        try fs.removeFile(deleted)
    }
}

/// A file a sync round fsyncs: a segment's `.log` (kept open) or an index file opened for the round.
struct DirtyFile: Sendable {
    let file: any StorageFile
    let closeAfterSync: Bool

    /// Runs `first`, then fsyncs every file in order, stopping at the first error; closes the index files
    /// in any case (exactly once).
    static func syncAll(_ files: [DirtyFile], first: () throws -> Void = {}) throws {
        defer { for entry in files where entry.closeAfterSync { try? entry.file.close() } }
        try first()
        for entry in files { try entry.file.sync() }
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
