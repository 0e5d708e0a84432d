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
/// reads and index updates happen there. File syncs run on the separate `syncThreads`, which lets a
/// partition keep accepting appends — that then share the next fsync — while one is in flight.
public final class StorageThreadPool: Sendable {
    let actorThreads: [StorageIOThread]
    let syncThreads: [StorageIOThread]
    private let next: AtomicCounter

    /// The process-wide pool, created on first use (threads live for the rest of the process).
    public static let shared = StorageThreadPool(actorThreads: 4, syncThreads: 4)

    /// A pool with the given numbers of threads.
    public init(actorThreads: Int, syncThreads: Int) {
        precondition(actorThreads > 0 && syncThreads > 0)
        self.actorThreads = (0..<actorThreads).map { StorageIOThread(name: "rampart-log-\($0)") }
        self.syncThreads = (0..<syncThreads).map { StorageIOThread(name: "rampart-sync-\($0)") }
        self.next = AtomicCounter()
    }

    /// The executor for the next partition (round robin).
    func nextActorThread() -> StorageIOThread {
        actorThreads[next.increment() % actorThreads.count]
    }

    /// Runs blocking work on a sync thread and returns its result.
    func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let thread = syncThreads[next.increment() % syncThreads.count]
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            thread.submit {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
        }
    }
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

    private let lock = PThreadLock()
    private var queue: [Work] = []
    private var head = 0

    init(name: String) {
        let box = Unmanaged.passRetained(ThreadStart(thread: self, name: name))
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { raw -> UnsafeMutableRawPointer? in
            let start = Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue()
            start.thread.runLoop()
        }, box.toOpaque())
        precondition(rc == 0, "pthread_create failed: \(rc)")
        pthread_detach(tid)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        push(.job(UnownedJob(job)))
    }

    func submit(_ body: @escaping @Sendable () -> Void) {
        push(.closure(body))
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    private func push(_ work: Work) {
        lock.withLock {
            queue.append(work)
            pthread_cond_signal(lock.condition)
        }
    }

    private func runLoop() -> Never {
        while true {
            let work: Work = lock.withLock {
                while head == queue.count {
                    if head > 0 { queue.removeAll(keepingCapacity: true); head = 0 }
                    pthread_cond_wait(lock.condition, lock.mutex)
                }
                let w = queue[head]
                head += 1
                if head > 1024 && head * 2 > queue.count {
                    queue.removeFirst(head)
                    head = 0
                }
                return w
            }
            switch work {
            case .job(let job): job.runSynchronously(on: asUnownedSerialExecutor())
            case .closure(let body): body()
            }
        }
    }
}

private final class ThreadStart {
    let thread: StorageIOThread
    let name: String
    init(thread: StorageIOThread, name: String) {
        self.thread = thread
        self.name = name
    }
}

/// Sleeps the calling thread (used only by the fault-injecting file system's sync delay).
func blockingSleep(_ duration: Duration) {
    let (seconds, attoseconds) = duration.components
    var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&ts, &remaining) != 0 && errno == EINTR { ts = remaining }
}
