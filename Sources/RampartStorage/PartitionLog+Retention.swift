/// What one retention pass removed.
public struct RetentionResult: Sendable, Hashable {
    /// Segments deleted.
    public var deletedSegments = 0
    /// Bytes of log deleted.
    public var deletedBytes: Int64 = 0
    /// The log start offset afterwards.
    public var logStartOffset: Int64 = 0
}

extension PartitionLog {
    /// One retention pass (the manager runs it every `log.retention.check.interval.ms`). Deletes whole
    /// segments from the oldest, never a segment with offsets at or past the high watermark:
    /// - segments wholly below the log start offset (DeleteRecords), under every cleanup policy;
    /// - with `delete` in `cleanup.policy`: segments whose newest timestamp is older than `retention.ms`
    ///   (when every segment has expired, the active one is rolled first, as Kafka does), then old
    ///   non-active segments while the log stays larger than `retention.bytes`.
    /// The log start offset then moves up to the first remaining segment.
    @discardableResult
    public func enforceRetention(now: Int64? = nil) throws -> RetentionResult {
        try checkOnline()
        let now = now ?? clock.nowMs()
        producerState.expire(olderThan: now - Self.producerIDExpirationMs)
        func upperBound(_ i: Int) -> Int64 { i + 1 < segments.count ? segments[i + 1].baseOffset : logEndOffset }
        var count = 0
        while count < segments.count - 1 && segments[count + 1].baseOffset <= logStartOffset { count += 1 }
        if config.cleanupPolicy.contains(.delete) {
            if config.retentionMs >= 0 {
                var i = count
                while i < segments.count {
                    let segment = segments[i]
                    let newest = segment.maxTimestamp >= 0 ? segment.maxTimestamp : segment.createdAtMs
                    guard segment.size > 0, now - newest > config.retentionMs, upperBound(i) <= highWatermark else { break }
                    i += 1
                }
                count = i
            }
            if config.retentionBytes >= 0 {
                var excess = segments[count...].reduce(0) { $0 + $1.size } - config.retentionBytes
                var i = count
                while i < segments.count - 1, upperBound(i) <= highWatermark, excess - segments[i].size >= 0 {
                    excess -= segments[i].size
                    i += 1
                }
                count = i
            }
        }
        if count == segments.count {
            try roll()
        }
        return try deleteOldestSegments(count)
    }

    /// DeleteRecords: makes `offset` the new log start offset (-1 means the high watermark) and deletes
    /// the segments wholly below it. An offset past the high watermark is `OFFSET_OUT_OF_RANGE`; one
    /// below the current log start changes nothing. Returns the log start offset (the low watermark).
    /// The caller checkpoints it (`LogManager.deleteRecords` does).
    public func deleteRecords(before offset: Int64) throws -> Int64 {
        try checkOnline()
        let target = offset == -1 ? highWatermark : offset
        guard target >= 0, target <= highWatermark else {
            throw StorageError.offsetOutOfRange(offset, logStart: logStartOffset, logEnd: highWatermark)
        }
        if target > logStartOffset { logStartOffset = target }
        var count = 0
        while count < segments.count - 1 && segments[count + 1].baseOffset <= logStartOffset { count += 1 }
        try deleteOldestSegments(count)
        return logStartOffset
    }

    @discardableResult
    func deleteOldestSegments(_ count: Int) throws -> RetentionResult {
        var result = RetentionResult()
        guard count > 0 else {
            result.logStartOffset = logStartOffset
            return result
        }
        let doomed = Array(segments.prefix(count))
        segments.removeFirst(count)
        logStartOffset = max(logStartOffset, segments[0].baseOffset)
        for segment in doomed {
            result.deletedSegments += 1
            result.deletedBytes += segment.size
            do {
                // A sync or compaction in flight may hold the handles; close them when it ends.
                let busy = syncInFlight || compactionRunning
                try segment.deleteFiles(closeHandles: !busy)
                if busy { pendingClose.append(segment) }
            } catch {
                goOffline("deleting segment \(segment.logPath) failed: \(error)")
                throw StorageError.offline(name, reason: "deleting segment \(segment.logPath) failed: \(error)")
            }
        }
        directoryDirty = true
        requestSync()
        logger.info("deleted old segments", metadata: ["count": "\(count)", "logStartOffset": "\(logStartOffset)"])
        result.logStartOffset = logStartOffset
        return result
    }
}
