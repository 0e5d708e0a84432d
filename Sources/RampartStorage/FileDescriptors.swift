import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's file descriptor limit (`RLIMIT_NOFILE`) and how many descriptors are open.
public enum FileDescriptorLimit {
    /// The soft and hard limits (`Int.max` for unlimited).
    public static func current() -> (soft: Int, hard: Int) {
        var limit = rlimit()
        guard getrlimit(resourceNoFile, &limit) == 0 else { return (Int.max, Int.max) }
        return (clamp(limit.rlim_cur), clamp(limit.rlim_max))
    }

    /// Raises the soft limit to the hard limit, as Kafka's operations guide asks operators to do (the
    /// defaults of 1,024 or so are far too few for a broker). Returns the limits before and after, and
    /// the `errno` when `setrlimit` failed (the soft limit then stays as it was).
    @discardableResult
    public static func raiseSoftLimitToHard() -> (before: Int, after: Int, errno: Int32?) {
        var limit = rlimit()
        guard getrlimit(resourceNoFile, &limit) == 0 else { return (Int.max, Int.max, errno) }
        let before = clamp(limit.rlim_cur)
        guard limit.rlim_cur < limit.rlim_max else { return (before, before, nil) }
        var raised = limit
        raised.rlim_cur = limit.rlim_max
        if setrlimit(resourceNoFile, &raised) != 0 {
            let error = errno
            return (before, before, error)
        }
        return (before, clamp(raised.rlim_max), nil)
    }

    /// How many descriptors the process has open (the entries of `/proc/self/fd`), nil where that
    /// directory does not exist. Opening the directory takes one descriptor: when none is left
    /// (`EMFILE`, or `ENFILE` for the whole system) this answers the soft limit — every descriptor the
    /// process may have is in use — so that callers refuse instead of taking "unknown" for "room".
    public static func openCount() -> Int? {
        guard let dir = opendir("/proc/self/fd") else {
            let error = errno
            return error == EMFILE || error == ENFILE ? current().soft : nil
        }
        defer { closedir(dir) }
        var count = 0
        while readdir(dir) != nil { count += 1 }
        // ".", ".." and the descriptor of the directory itself.
        return max(0, count - 3)
    }

    #if canImport(Glibc)
    private static var resourceNoFile: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }
    #else
    private static var resourceNoFile: Int32 { Int32(RLIMIT_NOFILE) }
    #endif

    private static func clamp(_ value: rlim_t) -> Int {
        value == rlim_t.max || value > rlim_t(Int.max) ? Int.max : Int(value)
    }
}

/// Whether new partitions fit in the file descriptor limit while leaving a reserve for connections,
/// segment rolls, index writes, checkpoints and the runtime's own descriptors.
///
/// A partition keeps one descriptor open per segment (its `.log`; index files are opened only to be
/// written). CreateTopics and CreatePartitions ask `refusal(newPartitions:)` before creating anything,
/// so that running out of descriptors shows up as a refused creation with a clear message, not as
/// `Too many open files` for whatever opens a descriptor next (a connection, an fsync of a directory).
public struct FileDescriptorBudget: Sendable {
    /// Descriptors a new, empty partition keeps open: the active segment's `.log`.
    public static let descriptorsPerPartition = 1

    /// The limit (the soft `RLIMIT_NOFILE`).
    public var limit: @Sendable () -> Int
    /// Descriptors open now; nil when unknown (the check is then skipped).
    public var openCount: @Sendable () -> Int?
    /// `rampart.file.descriptors.reserve`; nil picks `automaticReserve(limit:)`.
    public var configuredReserve: Int?
    /// Told the descriptors a creation will open when `refusal` lets it through: the connection guard
    /// adds them to its estimate, which otherwise sees only the connections it admitted since its last
    /// count (partitions created right before a burst of connections went unseen, and the burst took the
    /// descriptors kept free).
    public var onApproval: (@Sendable (_ descriptors: Int) -> Void)?

    /// A budget over explicit figures (tests).
    public init(limit: @escaping @Sendable () -> Int, openCount: @escaping @Sendable () -> Int?, reserve: Int?) {
        self.limit = limit
        self.openCount = openCount
        self.configuredReserve = reserve
    }

    /// The process's own limit and open descriptors.
    public static func process(reserve: Int?) -> FileDescriptorBudget {
        FileDescriptorBudget(limit: { FileDescriptorLimit.current().soft }, openCount: { FileDescriptorLimit.openCount() },
                             reserve: reserve)
    }

    /// No check at all.
    public static let unlimited = FileDescriptorBudget(limit: { Int.max }, openCount: { nil }, reserve: 0)

    /// The reserve when none is configured: a tenth of the limit, at least 64 and at most 10,000.
    public static func automaticReserve(limit: Int) -> Int {
        min(10_000, max(64, limit / 10))
    }

    /// The reserve in effect for `limit`.
    public func reserve(limit: Int) -> Int { configuredReserve ?? Self.automaticReserve(limit: limit) }

    /// Why `newPartitions` more partitions cannot be created now (nil when they fit). `open` is the
    /// number of descriptors open when the caller counted them already (`openCount()`).
    public func refusal(newPartitions: Int, open counted: Int? = nil) -> String? {
        let limit = limit()
        guard limit < Int.max, let open = counted ?? openCount() else { return nil }
        let reserve = reserve(limit: limit)
        let needed = newPartitions * Self.descriptorsPerPartition
        guard open + needed + reserve > limit else {
            onApproval?(needed)
            return nil
        }
        let reserveSource = configuredReserve == nil ? "the automatic reserve" : "rampart.file.descriptors.reserve"
        return "creating \(newPartitions) partition(s) needs \(needed) more file descriptor(s), but \(open) of the limit of "
            + "\(limit) (RLIMIT_NOFILE) are open and \(reserve) are kept in reserve for connections (\(reserveSource)); "
            + "raise the broker's file descriptor limit (ulimit -n, systemd LimitNOFILE) or delete topics"
    }
}

/// Keeps client connections from taking the process's last file descriptors.
///
/// When every descriptor is in use, the next thing that needs one fails — and some of those cannot
/// fail gracefully: libdispatch's worker-pool monitor (which runs the Swift concurrency thread pool
/// on Linux) opens `/proc/<tid>/stat` once a second while work is queued and traps (SIGILL in
/// `_dispatch_workq_monitor_pools`) when that `open` fails. So a new connection is refused while
/// fewer than `floor` descriptors would be left. Counting `/proc/self/fd` costs time proportional to
/// the descriptors open, so the count is sampled: taken again when it is older than a second or the
/// estimate (last count + connections admitted and descriptors `noteOpened` since) comes near the limit.
public final class ConnectionDescriptorGuard: Sendable {
    /// Descriptors never handed to connections: for the runtime, fsyncs of directories, index writes,
    /// segment rolls and checkpoints.
    public static let defaultFloor = 32

    private struct Sample {
        var count = 0
        var takenAt: ContinuousClock.Instant?
        var openedSince = 0
    }

    public let limit: Int
    public let floor: Int
    private let openCount: @Sendable () -> Int?
    private let state = Mutex(Sample())

    /// A guard over `limit` descriptors of which `floor` stay free; `openCount` counts the open ones.
    public init(limit: Int, floor: Int = ConnectionDescriptorGuard.defaultFloor,
                openCount: @escaping @Sendable () -> Int? = { FileDescriptorLimit.openCount() }) {
        self.limit = limit
        self.floor = floor
        self.openCount = openCount
    }

    /// The process's current soft limit.
    public static func process() -> ConnectionDescriptorGuard {
        ConnectionDescriptorGuard(limit: FileDescriptorLimit.current().soft)
    }

    /// Whether a connection that has just been accepted (its descriptor already counts) may stay open;
    /// when false, the caller closes it. Also the number of descriptors open, for the log.
    public func admit() -> (admitted: Bool, open: Int) {
        guard limit < Int.max else { return (true, 0) }
        return state.withLock { sample in
            guard let open = Self.refreshed(&sample, limit: limit, floor: floor, openCount: openCount) else { return (true, 0) }
            guard open <= limit - floor else { return (false, open) }
            sample.openedSince += 1
            return (true, open)
        }
    }

    /// Whether one more connection would be admitted now, without admitting one: what a listener asks
    /// before accepting more (it stops accepting while there is no room). Also the descriptors open.
    public func hasRoom() -> (room: Bool, open: Int) {
        guard limit < Int.max else { return (true, 0) }
        return state.withLock { sample in
            guard let open = Self.refreshed(&sample, limit: limit, floor: floor, openCount: openCount) else { return (true, 0) }
            return (open < limit - floor, open)
        }
    }

    /// Adds descriptors opened elsewhere (partitions created) to the estimate, so that the next check
    /// counts afresh when they bring it near the limit.
    public func noteOpened(_ descriptors: Int) {
        state.withLock { $0.openedSince += max(0, descriptors) }
    }

    /// The estimate of the descriptors open, counted afresh when the sample is older than a second or
    /// the estimate is near the limit; nil when they cannot be counted.
    private static func refreshed(_ sample: inout Sample, limit: Int, floor: Int, openCount: () -> Int?) -> Int? {
        let now = ContinuousClock.now
        let estimate = sample.count + sample.openedSince
        let stale = sample.takenAt.map { now - $0 > .seconds(1) } ?? true
        if stale || estimate + 64 >= limit - floor {
            guard let count = openCount() else { return nil }
            sample = Sample(count: count, takenAt: now, openedSince: 0)
        }
        return sample.count + sample.openedSince
    }
}
