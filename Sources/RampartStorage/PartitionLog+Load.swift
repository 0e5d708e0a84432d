import Logging
import SystemPackage

extension PartitionLog {
    /// Creates the partition directory with one empty segment at `startOffset`; with `syncParent` false
    /// the caller fsyncs the log directory (once for many partitions).
    func createEmpty(startOffset: Int64, syncParent: Bool = true) throws {
        var segment: LogSegment?
        do {
            try fs.createDirectory(directory)
            let created = try LogSegment.create(directory: directory, baseOffset: startOffset, fs: fs, nowMs: clock.nowMs())
            segment = created
            try created.log.sync()
            try fs.syncDirectory(directory)
            if syncParent { try fs.syncDirectory(parentDirectory(of: directory)) }
            segments = [created]
        } catch {
            segment?.close()
            if let errno = error as? Errno, errno == .tooManyOpenFiles || errno == .tooManyOpenFilesInSystem {
                throw StorageError.io("create log directory \(directory): out of file descriptors (RLIMIT_NOFILE \(FileDescriptorLimit.current().soft))", cause: error)
            }
            throw StorageError.io("create log directory \(directory)", cause: error)
        }
        logStartOffset = startOffset
        logEndOffset = startOffset
        highWatermark = startOffset
        recoveryPoint = startOffset
        cleanedUpTo = startOffset
    }

    /// Loads the segments of an existing directory.
    ///
    /// After a clean shutdown (`cleanShutdown`) every segment is trusted and only its indexes are
    /// sanity-checked (and rebuilt when missing or damaged). Otherwise every segment that holds offsets
    /// at or past `recoveryPoint` is scanned batch by batch with CRC checks and its indexes rebuilt. The
    /// first invalid batch ends the scan:
    /// - nothing valid after it and it lies past the recovery point: a torn tail, cut off;
    /// - valid batches after it, or it lies below the recovery point (fsynced data): the partition goes
    ///   offline with the reason in `loadReport` — data is never skipped silently.
    ///
    /// Leftovers of interrupted operations are removed: `*.deleted` (retention), `*.cleaned`
    /// (compaction), `*.tmp`, and index files without a `.log`.
    func load(cleanShutdown: Bool, recoveryPointCheckpoint: Int64?, logStartCheckpoint: Int64?) {
        do {
            try loadSegments(
                cleanShutdown: cleanShutdown, recoveryPointCheckpoint: recoveryPointCheckpoint,
                logStartCheckpoint: logStartCheckpoint)
        } catch let error as StorageError {
            goOffline(error.description)
            for segment in segments { segment.close() }
        } catch {
            goOffline("load failed: \(error)")
            for segment in segments { segment.close() }
        }
    }

    private func loadSegments(cleanShutdown: Bool, recoveryPointCheckpoint: Int64?, logStartCheckpoint: Int64?) throws {
        loadReport.recovered = !cleanShutdown
        let names = try fs.contentsOfDirectory(directory)
        var bases: [Int64] = []
        for name in names {
            if name.hasSuffix(".deleted") || name.hasSuffix(".cleaned") || name.hasSuffix(".tmp") || name.hasSuffix(".swap") {
                try fs.removeFile(joinPath(directory, name))
            } else if let base = LogSegment.baseOffset(fromLogFileName: name) {
                bases.append(base)
            }
        }
        for name in names where name.hasSuffix(".index") || name.hasSuffix(".timeindex") {
            if let base = Int64(name.prefix(while: \.isASCIIDigit)), !bases.contains(base) {
                try fs.removeFile(joinPath(directory, name))
            }
        }
        bases.sort()
        let now = clock.nowMs()
        guard !bases.isEmpty else {
            try createEmpty(startOffset: max(logStartCheckpoint ?? 0, recoveryPointCheckpoint ?? 0))
            return
        }
        let recoveryFrom = cleanShutdown ? Int64.max : (recoveryPointCheckpoint ?? 0)
        var loaded: [LogSegment] = []
        var recovered: [LogSegment] = []
        var expectedNext: Int64 = bases[0]
        for (i, base) in bases.enumerated() {
            let nextBase = i + 1 < bases.count ? bases[i + 1] : Int64.max
            let (segment, trusted) = try LogSegment.open(
                directory: directory, baseOffset: base, fs: fs, nowMs: now, indexIntervalBytes: config.indexIntervalBytes)
            loaded.append(segment)
            segments = loaded
            guard base >= expectedNext else {
                throw StorageError.corruptLog("segment \(segment.logPath) starts at \(base), below the previous segment's end \(expectedNext)")
            }
            let mustScan = nextBase > recoveryFrom
            if mustScan || !trusted {
                if !mustScan { loadReport.rebuiltIndexes += 1 }
                recovered.append(segment)
                let outcome = try segment.recover(minOffset: expectedNext, indexIntervalBytes: config.indexIntervalBytes)
                if case .invalid(let position, let problem) = outcome {
                    let later = bases[(i + 1)...]
                    try handleInvalidBatch(
                        segment: segment, position: position, problem: problem, fsynced: !mustScan || segment.nextOffset < recoveryFrom,
                        laterBases: Array(later), now: now)
                    break
                }
            }
            expectedNext = segment.nextOffset
        }
        segments = loaded
        // A recovered tail may be only in the page cache (the process died, the machine did not):
        // make it durable before the recovery point moves past it.
        if !recovered.isEmpty {
            for segment in recovered {
                try DirtyFile.syncAll(segment.takeDirtyFiles(includeIndexes: true))
                try segment.log.sync()
            }
            try fs.syncDirectory(directory)
        }
        logEndOffset = active.nextOffset
        logStartOffset = min(max(logStartCheckpoint ?? 0, segments[0].baseOffset), logEndOffset)
        recoveryPoint = logEndOffset
        highWatermark = logEndOffset
        cleanedUpTo = logStartOffset
        try rebuildProducerState(now: now)
    }

    /// Replays the batch headers of the last two segments into the idempotent-producer state. A
    /// producer whose last batch is older is forgotten, as after Kafka's producer.id.expiration.ms: its
    /// next batch is accepted whatever its sequence (Kafka's rule for unknown producers).
    func rebuildProducerState(now: Int64) throws {
        producerState = PartitionProducerState()
        for segment in segments.suffix(2) {
            _ = try segment.forEachBatch(from: 0, validateCRC: false) { summary in
                producerState.record(summary, now: now)
                return true
            }
        }
    }

    /// Decides between a torn tail (cut it) and corruption (throw, taking the partition offline).
    private func handleInvalidBatch(
        segment: LogSegment, position: Int64, problem: BatchProblem, fsynced: Bool, laterBases: [Int64], now: Int64
    ) throws {
        let where_ = "\(segment.logPath) at byte \(position) (after offset \(segment.nextOffset - 1)): \(problem)"
        if fsynced {
            throw StorageError.corruptLog("corrupt batch in fsynced data in \(where_)")
        }
        var laterData = false
        for base in laterBases {
            let path = joinPath(directory, LogSegment.name(base, ".log"))
            let file = try fs.openFile(path, create: false)
            defer { try? file.close() }
            if try file.size() > 0 { laterData = true }
        }
        let validAfter = try segment.hasValidBatch(after: position, minOffset: segment.nextOffset)
        if laterData || validAfter {
            throw StorageError.corruptLog("corrupt batch followed by valid data in \(where_)")
        }
        let cut = segment.size - position
        logger.warning("truncating torn tail", metadata: ["file": "\(segment.logPath)", "bytes": "\(cut)", "problem": "\(problem)"])
        try segment.truncate(toPosition: position)
        loadReport.truncatedBytes += cut
        for base in laterBases {
            for suffix in [".log", ".index", ".timeindex"] {
                try fs.removeFileIfExists(joinPath(directory, LogSegment.name(base, suffix)))
            }
        }
    }
}
