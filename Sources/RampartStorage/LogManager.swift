import Logging

/// Broker-level settings of the log manager, named after Kafka's server properties.
public struct LogManagerConfig: Sendable {
    /// `log.dirs`: the directories partitions are spread over.
    public var logDirs: [String]
    /// The `log.*` defaults every topic starts from.
    public var defaultLogConfig: LogConfig
    /// `log.retention.check.interval.ms` (default 5 minutes).
    public var retentionCheckIntervalMs: Int64 = 300_000
    /// `log.flush.scheduler.interval.ms`: how often `flush.ms` is checked (Rampart default 1 s).
    public var flushCheckIntervalMs: Int64 = 1_000
    /// `log.flush.offset.checkpoint.interval.ms` (default 60 s); also used for the log start offset checkpoint.
    public var checkpointIntervalMs: Int64 = 60_000
    /// `log.cleaner.enable` (default true).
    public var cleanerEnabled = true
    /// `log.cleaner.backoff.ms`: pause between compaction passes (default 15 s).
    public var cleanerBackoffMs: Int64 = 15_000
    /// `log.cleaner.io.max.bytes.per.second`: read+write rate of compaction (default unlimited).
    public var cleanerIOMaxBytesPerSecond: Double = .infinity

    public init(logDirs: [String], defaultLogConfig: LogConfig = LogConfig()) {
        self.logDirs = logDirs
        self.defaultLogConfig = defaultLogConfig
    }
}

/// Owns every partition log of the broker across `log.dirs`.
///
/// Per log directory it keeps Kafka's files:
/// - `.kafka_cleanshutdown`: written last by `shutdown()`, removed once `startup()` has loaded the
///   directory; its absence at start-up means segments past the recovery point are scanned;
/// - `recovery-point-offset-checkpoint` and `log-start-offset-checkpoint` (`OffsetCheckpointFile` format);
/// - one `<topic>-<partition>` directory per partition; a deleted partition's directory is first
///   renamed to `<topic>-<partition>.<id>-delete`, and such leftovers are removed at start-up.
public actor LogManager {
    public let config: LogManagerConfig
    let fs: any StorageFileSystem
    let clock: any StorageClock
    let pool: StorageThreadPool
    nonisolated let thread: StorageIOThread
    let logger = Logger(label: "rampart.storage.manager")

    var logs: [TopicPartition: PartitionLog] = [:]
    var logDirOf: [TopicPartition: String] = [:]
    var topicConfigs: [String: LogConfig] = [:]
    /// Checkpointed offsets of partitions that could not be loaded, kept so a checkpoint rewrite does not lose them.
    var offlineCheckpoints: [String: (recovery: [TopicPartition: Int64], logStart: [TopicPartition: Int64])] = [:]
    var background: Task<Void, Never>?
    var deleteCounter = 0
    let cleaner: LogCleaner

    public nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }

    /// A manager over `config.logDirs`; call `startup()` before anything else.
    public init(
        config: LogManagerConfig, fileSystem: any StorageFileSystem = PosixStorageFileSystem(),
        clock: any StorageClock = SystemStorageClock(), threads: StorageThreadPool = .shared
    ) {
        precondition(!config.logDirs.isEmpty, "log.dirs must name at least one directory")
        self.config = config
        self.fs = fileSystem
        self.clock = clock
        self.pool = threads
        self.thread = threads.nextActorThread()
        self.cleaner = LogCleaner(ioBytesPerSecond: config.cleanerIOMaxBytesPerSecond)
    }

    // MARK: Start-up

    /// Loads every partition of every log directory, recovering after an unclean shutdown. Partitions
    /// that cannot be loaded are kept offline (their calls fail with `KAFKA_STORAGE_ERROR`) and appear
    /// in the returned report with their reason.
    @discardableResult
    public func startup() async throws -> [TopicPartition: PartitionLog.LoadReport] {
        var reports: [TopicPartition: PartitionLog.LoadReport] = [:]
        for dir in config.logDirs {
            do {
                try fs.createDirectory(dir)
            } catch {
                throw StorageError.io("create log directory \(dir)", cause: error)
            }
            let marker = joinPath(dir, OffsetCheckpointFile.cleanShutdownName)
            let clean = fs.exists(marker)
            var recoveryPoints: [TopicPartition: Int64] = [:]
            var logStarts: [TopicPartition: Int64] = [:]
            do {
                recoveryPoints = try OffsetCheckpointFile(path: joinPath(dir, OffsetCheckpointFile.recoveryPointName), fs: fs).read()
            } catch {
                logger.warning("unreadable recovery point checkpoint; recovering every segment", metadata: ["dir": "\(dir)"])
            }
            do {
                logStarts = try OffsetCheckpointFile(path: joinPath(dir, OffsetCheckpointFile.logStartOffsetName), fs: fs).read()
            } catch {
                logger.warning("unreadable log start offset checkpoint", metadata: ["dir": "\(dir)"])
            }
            var loadedHere: [(TopicPartition, PartitionLog)] = []
            for name in try fs.contentsOfDirectory(dir) where fs.isDirectory(joinPath(dir, name)) {
                if name.hasSuffix("-delete") {
                    try? removeTree(joinPath(dir, name))
                    continue
                }
                guard let tp = TopicPartition(directoryName: name) else { continue }
                let log = PartitionLog(
                    topicPartition: tp, directory: joinPath(dir, name), config: config(forTopic: tp.topic), fs: fs,
                    clock: clock, pool: pool)
                loadedHere.append((tp, log))
            }
            await withTaskGroup(of: Void.self) { group in
                for (tp, log) in loadedHere {
                    let clean = clean
                    let rp = recoveryPoints[tp]
                    let ls = logStarts[tp]
                    group.addTask { await log.load(cleanShutdown: clean, recoveryPointCheckpoint: rp, logStartCheckpoint: ls) }
                }
            }
            for (tp, log) in loadedHere {
                logs[tp] = log
                logDirOf[tp] = dir
                let report = await log.loadReport
                reports[tp] = report
                if let reason = report.offlineReason {
                    logger.error("partition offline after load", metadata: ["partition": "\(tp)", "reason": "\(reason)"])
                    offlineCheckpoints[dir, default: ([:], [:])].recovery[tp] = recoveryPoints[tp]
                    offlineCheckpoints[dir, default: ([:], [:])].logStart[tp] = logStarts[tp]
                }
            }
            if clean {
                do {
                    try fs.removeFile(marker)
                    try fs.syncDirectory(dir)
                } catch {
                    throw StorageError.io("remove \(marker)", cause: error)
                }
            }
        }
        try await checkpoint()
        return reports
    }

    func removeTree(_ path: String) throws {
        for name in try fs.contentsOfDirectory(path) {
            let child = joinPath(path, name)
            if fs.isDirectory(child) { try removeTree(child) } else { try fs.removeFile(child) }
        }
        try fs.removeDirectory(path)
    }

    // MARK: Partitions

    /// The log of a partition, if it exists.
    public func log(for tp: TopicPartition) -> PartitionLog? { logs[tp] }

    /// Every partition log.
    public var allLogs: [TopicPartition: PartitionLog] { logs }

    /// Partitions that are offline, with the reason.
    public func offlinePartitions() async -> [TopicPartition: String] {
        var result: [TopicPartition: String] = [:]
        for (tp, log) in logs {
            if case .offline(let reason) = await log.state { result[tp] = reason }
        }
        return result
    }

    /// The effective config of a topic: its override, else the broker default.
    public func config(forTopic topic: String) -> LogConfig {
        topicConfigs[topic] ?? config.defaultLogConfig
    }

    /// Sets (or with nil removes) a topic's config override and applies it to its loaded partitions.
    public func setTopicConfig(_ topic: String, _ logConfig: LogConfig?) async {
        topicConfigs[topic] = logConfig
        let effective = config(forTopic: topic)
        for (tp, log) in logs where tp.topic == topic { await log.updateConfig(effective) }
    }

    /// Creates the log of a new partition in the log directory holding the fewest partitions.
    /// Fails if it exists already.
    public func createLog(_ tp: TopicPartition, startOffset: Int64 = 0) async throws -> PartitionLog {
        guard logs[tp] == nil else { throw StorageError.alreadyExists(tp.directoryName) }
        let counts = Dictionary(grouping: logDirOf.values, by: { $0 }).mapValues(\.count)
        let dir = config.logDirs.min { (counts[$0] ?? 0) < (counts[$1] ?? 0) }!
        let log = PartitionLog(
            topicPartition: tp, directory: joinPath(dir, tp.directoryName), config: config(forTopic: tp.topic), fs: fs,
            clock: clock, pool: pool)
        try await log.createEmpty(startOffset: startOffset)
        logs[tp] = log
        logDirOf[tp] = dir
        return log
    }

    /// Creates the logs of several new partitions (a new topic, or new partitions of one) as one unit:
    /// the logs are created concurrently (their fsyncs overlap) and each log directory's own entry is
    /// fsynced once at the end, not once per partition. If any fails, the ones created are deleted again
    /// and the first error is thrown — nothing is left half-created.
    ///
    /// With `syncLogDirectories` false the caller calls `syncLogDirectories()` after creating several
    /// batches (one fsync per log directory for a whole CreateTopics request).
    public func createLogs(_ tps: [TopicPartition], syncLogDirectories: Bool = true) async throws {
        for tp in tps where logs[tp] != nil { throw StorageError.alreadyExists(tp.directoryName) }
        var counts = Dictionary(grouping: logDirOf.values, by: { $0 }).mapValues(\.count)
        var planned: [(TopicPartition, PartitionLog, String)] = []
        for tp in tps {
            let dir = config.logDirs.min { (counts[$0] ?? 0) < (counts[$1] ?? 0) }!
            counts[dir, default: 0] += 1
            let log = PartitionLog(
                topicPartition: tp, directory: joinPath(dir, tp.directoryName), config: config(forTopic: tp.topic), fs: fs,
                clock: clock, pool: pool)
            planned.append((tp, log, dir))
        }
        let failures = await withTaskGroup(of: (Int, (any Error)?).self) { group in
            for (i, entry) in planned.enumerated() {
                let log = entry.1
                group.addTask {
                    do {
                        try await log.createEmpty(startOffset: 0, syncParent: false)
                        return (i, nil)
                    } catch {
                        return (i, error)
                    }
                }
            }
            var failures: [(Int, any Error)] = []
            for await (i, error) in group { if let error { failures.append((i, error)) } }
            return failures.sorted { $0.0 < $1.0 }
        }
        var failure = failures.first?.1
        if failure == nil && syncLogDirectories {
            for dir in Set(planned.map(\.2)) {
                do { try fs.syncDirectory(dir) } catch {
                    failure = StorageError.io("sync log directory \(dir)", cause: error)
                    break
                }
            }
        }
        if let failure {
            let failed = Set(failures.map(\.0))
            for (i, (tp, log, dir)) in planned.enumerated() {
                await log.closeWithoutFlush()
                if failed.contains(i) && !fs.exists(log.directory) { continue }
                do { try removeTree(log.directory) } catch {
                    logger.error("cannot remove the log of a partition whose creation failed",
                                 metadata: ["partition": "\(tp)", "dir": "\(dir)", "error": "\(error)"])
                }
            }
            throw failure
        }
        for (tp, log, dir) in planned {
            logs[tp] = log
            logDirOf[tp] = dir
        }
    }

    /// Fsyncs every log directory (their new partition directories' entries).
    public func syncLogDirectories() throws {
        for dir in config.logDirs {
            do { try fs.syncDirectory(dir) } catch {
                throw StorageError.io("sync log directory \(dir)", cause: error)
            }
        }
    }

    /// The log of a partition, created if missing.
    public func getOrCreateLog(_ tp: TopicPartition) async throws -> PartitionLog {
        if let log = logs[tp] { return log }
        return try await createLog(tp)
    }

    /// Deletes a partition's log: the directory is renamed to `…-delete` (atomic: a crash leaves either
    /// the live log or a leftover removed at start-up), then removed.
    public func deleteLog(_ tp: TopicPartition) async throws {
        guard let log = logs[tp], let dir = logDirOf[tp] else { throw StorageError.unknownPartition(tp.directoryName) }
        logs[tp] = nil
        logDirOf[tp] = nil
        await log.closeWithoutFlush()
        deleteCounter += 1
        let doomed = joinPath(dir, "\(tp.directoryName).\(clock.nowMs())\(deleteCounter)-delete")
        do {
            try fs.rename(log.directory, to: doomed)
            try fs.syncDirectory(dir)
            try removeTree(doomed)
        } catch {
            throw StorageError.io("delete \(log.directory)", cause: error)
        }
        try await checkpoint()
    }

    /// DeleteRecords for one partition; checkpoints the new log start offset before returning it.
    public func deleteRecords(_ tp: TopicPartition, before offset: Int64) async throws -> Int64 {
        guard let log = logs[tp] else { throw StorageError.unknownPartition(tp.directoryName) }
        let low = try await log.deleteRecords(before: offset)
        try await checkpoint()
        return low
    }

    // MARK: Background work

    /// One retention pass over every online partition.
    public func runRetention(now: Int64? = nil) async {
        for (tp, log) in logs {
            do {
                try await log.enforceRetention(now: now)
            } catch let error as StorageError where error.isSameKind(as: .offlineKind) {
                continue
            } catch {
                logger.error("retention failed", metadata: ["partition": "\(tp)", "error": "\(error)"])
            }
        }
    }

    /// One compaction pass over every partition whose cleanup policy includes `compact`.
    public func runCompaction(now: Int64? = nil) async {
        for (tp, log) in logs {
            guard await log.config.cleanupPolicy.contains(.compact) else { continue }
            do {
                try await log.compact(now: now, cleaner: cleaner)
            } catch let error as StorageError where error.isSameKind(as: .offlineKind) {
                continue
            } catch {
                logger.error("compaction failed", metadata: ["partition": "\(tp)", "error": "\(error)"])
            }
        }
    }

    /// Starts `flush.ms` checks for every partition.
    public func runFlushChecks(now: Int64? = nil) async {
        let now = now ?? clock.nowMs()
        for log in logs.values { await log.flushIfDue(now: now) }
    }

    /// Writes both checkpoint files of every log directory.
    public func checkpoint() async throws {
        for dir in config.logDirs {
            var recovery = offlineCheckpoints[dir]?.recovery ?? [:]
            var logStart = offlineCheckpoints[dir]?.logStart ?? [:]
            for (tp, log) in logs where logDirOf[tp] == dir {
                guard case .online = await log.state else { continue }
                recovery[tp] = await log.recoveryPoint
                logStart[tp] = await log.logStartOffset
            }
            do {
                try OffsetCheckpointFile(path: joinPath(dir, OffsetCheckpointFile.recoveryPointName), fs: fs).write(recovery)
                try OffsetCheckpointFile(path: joinPath(dir, OffsetCheckpointFile.logStartOffsetName), fs: fs).write(logStart)
            } catch {
                throw StorageError.io("write checkpoints in \(dir)", cause: error)
            }
        }
    }

    /// Starts the background loop: `flush.ms` checks, checkpoints, retention and compaction at their intervals.
    public func startBackgroundTasks() {
        guard background == nil else { return }
        // The schedule starts now, not whenever the task first runs.
        let started = clock.nowMs()
        background = Task { [config] in
            var lastRetention = started
            var lastCheckpoint = lastRetention
            var lastCompaction = lastRetention
            let tick = max(10, min(config.flushCheckIntervalMs, 1000))
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(tick))
                if Task.isCancelled { break }
                let now = clock.nowMs()
                await runFlushChecks(now: now)
                if now - lastRetention >= config.retentionCheckIntervalMs {
                    lastRetention = now
                    await runRetention(now: now)
                }
                if config.cleanerEnabled && now - lastCompaction >= config.cleanerBackoffMs {
                    lastCompaction = now
                    await runCompaction(now: now)
                }
                if now - lastCheckpoint >= config.checkpointIntervalMs {
                    lastCheckpoint = now
                    do { try await checkpoint() } catch { logger.error("checkpoint failed", metadata: ["error": "\(error)"]) }
                }
            }
        }
    }

    /// Clean shutdown: stops background work, flushes and closes every log, writes the checkpoints and,
    /// in each directory whose partitions all closed cleanly, the clean-shutdown marker.
    public func shutdown() async throws {
        background?.cancel()
        background = nil
        var uncleanDirs: Set<String> = []
        for (tp, log) in logs {
            do {
                try await log.close()
            } catch {
                logger.error("flush at shutdown failed", metadata: ["partition": "\(tp)", "error": "\(error)"])
                uncleanDirs.insert(logDirOf[tp]!)
            }
            if case .offline = await log.state { uncleanDirs.insert(logDirOf[tp]!) }
        }
        for dir in config.logDirs {
            var recovery = offlineCheckpoints[dir]?.recovery ?? [:]
            var logStart = offlineCheckpoints[dir]?.logStart ?? [:]
            for (tp, log) in logs where logDirOf[tp] == dir {
                guard case .closed = await log.state else { continue }
                recovery[tp] = await log.recoveryPoint
                logStart[tp] = await log.logStartOffset
            }
            do {
                try OffsetCheckpointFile(path: joinPath(dir, OffsetCheckpointFile.recoveryPointName), fs: fs).write(recovery)
                try OffsetCheckpointFile(path: joinPath(dir, OffsetCheckpointFile.logStartOffsetName), fs: fs).write(logStart)
                if !uncleanDirs.contains(dir) {
                    let marker = joinPath(dir, OffsetCheckpointFile.cleanShutdownName)
                    let file = try fs.openFile(marker, create: true)
                    try file.sync()
                    try file.close()
                    try fs.syncDirectory(dir)
                }
            } catch {
                throw StorageError.io("write shutdown files in \(dir)", cause: error)
            }
        }
        logs.removeAll()
        logDirOf.removeAll()
    }
}
