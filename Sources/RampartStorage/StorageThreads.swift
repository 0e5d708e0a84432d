#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Dedicated threads for the log's blocking file I/O, so that neither a NIO event loop nor the
/// Swift cooperative pool ever blocks in `pwrite` or `fsync`.
///
/// Each `PartitionLog` actor runs on one of the `actorThreads` (its custom executor), so its appends,
/// reads and index updates happen there. File syncs run on the separate sync workers, which lets a
/// partition keep accepting appends — that then share the next fsync — while one is in flight.
///
/// The sync workers take their work from one shared queue: a partition's fsync starts as soon as any
/// worker is free, never behind another partition's fsync on a busy thread while others idle. The
/// fsyncs of several partitions are thus in flight together (ext4's jbd2 merges concurrent fsyncs into
/// one journal commit), as long as there are at most `syncThreads` of them.
public final class StorageThreadPool: Sendable {
    let actorThreads: [StorageIOThread]
    let syncWorkers: SharedWorkQueue
    private let next: AtomicCounter

    /// The process-wide pool, created on first use (threads live for the rest of the process). Sync
    /// workers mostly wait in the kernel for the disk, so there are enough for the fsyncs of many
    /// partitions to be in flight at once.
    public static let shared = StorageThreadPool(actorThreads: 4, syncThreads: 16)

    /// A pool with the given numbers of threads.
    public init(actorThreads: Int, syncThreads: Int) {
        precondition(actorThreads > 0 && syncThreads > 0)
        self.actorThreads = (0..<actorThreads).map { StorageIOThread(name: "rampart-log-\($0)") }
        self.syncWorkers = SharedWorkQueue(threads: syncThreads, name: "rampart-sync")
        self.next = AtomicCounter()
    }

    /// The executor for the next partition (round robin).
    func nextActorThread() -> StorageIOThread {
        actorThreads[next.increment() % actorThreads.count]
    }

    /// Runs blocking work on a free sync worker (the first to become free) and returns its result.
    func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            syncWorkers.submit {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
        }
    }
}

/// Threads draining one shared FIFO of closures: an item waits only while every thread is busy.
final class SharedWorkQueue: Sendable {
    private let queue = BlockingFIFO<@Sendable () -> Void>()

    init(threads: Int, name: String) {
        let queue = self.queue
        for i in 0..<threads {
            startDetachedThread(name: "\(name)-\(i)") {
                while true { queue.pop()() }
            }
        }
    }

    /// Queues `body` for the first free thread.
    func submit(_ body: @escaping @Sendable () -> Void) {
        queue.push(body)
    }
}

/// A FIFO shared between threads; `pop` waits until an item is there.
final class BlockingFIFO<Element>: @unchecked Sendable {
    private let lock = PThreadLock()
    private var items: [Element] = []
    private var head = 0

    /// Appends `item` and wakes one waiting thread.
    func push(_ item: Element) {
        lock.withLock {
            items.append(item)
            pthread_cond_signal(lock.condition)
        }
    }

    /// Takes the oldest item, waiting for one if there is none.
    func pop() -> Element {
        lock.withLock {
            while head == items.count {
                if head > 0 { items.removeAll(keepingCapacity: true); head = 0 }
                pthread_cond_wait(lock.condition, lock.mutex)
            }
            let item = items[head]
            head += 1
            if head > 1024 && head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
            return item
        }
    }
}

/// Starts a detached thread named `name` (as `top` and `perf` show it, cut to Linux's 15 characters)
/// that runs `body` for the rest of the process.
func startDetachedThread(name: String, _ body: @escaping @Sendable () -> Never) {
    final class Start: @unchecked Sendable {
        let name: String
        let body: @Sendable () -> Never
        init(name: String, body: @escaping @Sendable () -> Never) {
            self.name = name
            self.body = body
        }
    }
    let box = Unmanaged.passRetained(Start(name: name, body: body))
    var tid = pthread_t()
    let rc = pthread_create(&tid, nil, { raw -> UnsafeMutableRawPointer? in
        let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
        #if os(Linux)
        // pthread_setname_np is not visible from Swift's Glibc module; /proc takes the name too.
        let comm = open("/proc/thread-self/comm", O_WRONLY)
        if comm >= 0 {
            let name = Array(start.name.utf8.prefix(15))
            _ = name.withUnsafeBytes { write(comm, $0.baseAddress, $0.count) }
            close(comm)
        }
        #endif
        start.body()
    }, box.toOpaque())
    precondition(rc == 0, "pthread_create failed: \(rc)")
    pthread_detach(tid)
}

/// A counter shared between threads.
final class AtomicCounter: @unchecked Sendable {
    private var value = 0
    private let lock = PThreadLock()
    func increment() -> Int { lock.withLock { value += 1; return value } }
}

/// A pthread mutex + condition variable, heap-allocated so its address never moves.
final class PThreadLock: @unchecked Sendable {
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// One thread draining a FIFO of work items; also a `SerialExecutor` for actors.
final class StorageIOThread: SerialExecutor, @unchecked Sendable {
    private enum Work {
        case job(UnownedJob)
        case closure(() -> Void)
    }

    private let queue = BlockingFIFO<Work>()

    init(name: String) {
        startDetachedThread(name: name) { [self] in
            while true {
                switch queue.pop() {
                case .job(let job): job.runSynchronously(on: asUnownedSerialExecutor())
                case .closure(let body): body()
                }
            }
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        queue.push(.job(UnownedJob(job)))
    }

    func submit(_ body: @escaping @Sendable () -> Void) {
        queue.push(.closure(body))
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }
}

/// Sleeps the calling thread (used only by the fault-injecting file system's sync delay).
func blockingSleep(_ duration: Duration) {
    let (seconds, attoseconds) = duration.components
    var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&ts, &remaining) != 0 && errno == EINTR { ts = remaining }
}
