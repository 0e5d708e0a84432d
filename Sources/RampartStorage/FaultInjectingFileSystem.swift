import NIOCore
import Synchronization
import SystemPackage

/// An in-memory `StorageFileSystem` for tests that injects the failures a disk can produce.
///
/// Each file keeps two images: what the page cache holds (what reads see) and what the last `sync()`
/// made durable. `crashImage(_:)` turns the state at a simulated crash into a fresh file system:
/// `.powerLoss` keeps only durable bytes, `.processKill` keeps the page cache. Directory operations
/// (create, rename, remove) are durable at once — a simplification the log does not rely on, since it
/// always fsyncs the directory after them.
///
/// Faults:
/// - `crashAtWrite`: the N-th `pwrite` (1-based, counted across all files) writes only
///   `tornBytes` of its bytes and every later operation fails with `EIO`, as if the process died.
/// - `capacity`: total bytes stored; a write beyond it is short, the next fails with `ENOSPC`.
/// - `shortWrites`: every `pwrite` writes at most half its bytes (the caller must loop).
/// - `failSync`: a path predicate; a `sync()` of a matching file fails with `EIO` and the page cache
///   of that file is dropped back to its durable image, as Linux does after a failed writeback.
/// - `holdSyncs`: a path predicate; a `sync()` of a matching file blocks (its thread sleeps) until the
///   predicate is lifted, so a test can see which fsyncs are in flight at the same time (`heldSyncs`).
/// - `descriptorLimit`: open files (handles not yet closed) are counted like descriptors; opening one
///   more than the limit, or a directory sync (which opens the directory), fails with `EMFILE`.
public final class FaultInjectingFileSystem: StorageFileSystem {
    /// What survives a simulated crash.
    public enum CrashMode: Sendable {
        /// Power loss: only bytes made durable by `sync()` survive (plus a torn prefix of the write in flight
        /// when it directly extends the durable bytes).
        case powerLoss
        /// The process was killed: the page cache survives, including a torn prefix of the write in flight.
        case processKill
    }

    struct Node {
        var isDirectory: Bool
        var data: [UInt8] = []
        var durable: [UInt8] = []
    }

    struct InFlight {
        var id: Int
        var offset: Int64
        var bytes: [UInt8]
    }

    struct State {
        /// Path → node id; handles keep the id, so a renamed or unlinked file stays usable through
        /// handles opened before, as on POSIX.
        var paths: [String: Int] = ["/": 0]
        var store: [Int: Node] = [0: Node(isDirectory: true)]
        var nextID = 1
        var writeCount = 0
        var syncCount = 0
        var directorySyncCount = 0
        var syncCountByPath: [String: Int] = [:]
        var crashed = false
        var crashAtWrite: Int?
        var tornBytes = 0
        var inFlight: InFlight?
        var capacity: Int?
        var shortWrites = false
        var failSync: (@Sendable (String) -> Bool)?
        var syncDelay: Duration = .zero
        var holdSyncs: (@Sendable (String) -> Bool)?
        var heldSyncs = 0
        var openDescriptors = 0
        var descriptorLimit: Int?
    }

    let state: Mutex<State>

    /// An empty file system holding only `/`.
    public init() { state = Mutex(State()) }

    init(state: State) { self.state = Mutex(state) }

    // MARK: Fault configuration

    /// Simulates a crash at the `n`-th write (1-based): that write stores only `tornBytes` bytes.
    public func crash(atWrite n: Int, tornBytes: Int = 0) {
        state.withLock { $0.crashAtWrite = n; $0.tornBytes = tornBytes }
    }

    /// Limits the total number of bytes stored; writes beyond it fail with `ENOSPC`. `nil` lifts the limit.
    public func setCapacity(_ bytes: Int?) { state.withLock { $0.capacity = bytes } }

    /// Makes every write short (at most half the bytes asked for, at least one).
    public func setShortWrites(_ on: Bool) { state.withLock { $0.shortWrites = on } }

    /// Makes `sync()` fail with `EIO` for files whose path matches; `nil` stops failing.
    public func failSync(where predicate: (@Sendable (String) -> Bool)?) { state.withLock { $0.failSync = predicate } }

    /// Limits the number of open file handles (`nil` lifts the limit): beyond it `openFile` and
    /// `syncDirectory` fail with `EMFILE` (Too many open files).
    public func setDescriptorLimit(_ limit: Int?) { state.withLock { $0.descriptorLimit = limit } }

    /// File handles opened and not yet closed.
    public var openDescriptors: Int { state.withLock { $0.openDescriptors } }

    /// Makes every file `sync()` sleep this long (to let concurrent appends pile up behind it).
    public func setSyncDelay(_ delay: Duration) { state.withLock { $0.syncDelay = delay } }

    /// Makes `sync()` of files whose path matches block until this is called again with `nil` (or a
    /// predicate they no longer match); they then complete (or fail, per `failSync`) as usual.
    public func holdSyncs(where predicate: (@Sendable (String) -> Bool)?) { state.withLock { $0.holdSyncs = predicate } }

    /// File syncs blocked by `holdSyncs` right now: how many fsyncs are in flight together.
    public var heldSyncs: Int { state.withLock { $0.heldSyncs } }

    // MARK: Inspection

    /// Number of `pwrite` calls so far.
    public var writeCount: Int { state.withLock { $0.writeCount } }
    /// Number of successful file `sync()` calls so far.
    public var syncCount: Int { state.withLock { $0.syncCount } }
    /// Number of directory syncs so far.
    public var directorySyncCount: Int { state.withLock { $0.directorySyncCount } }
    /// Whether the simulated crash happened.
    public var hasCrashed: Bool { state.withLock { $0.crashed } }
    /// Number of successful `sync()` calls of files whose path (at sync time) has this suffix.
    public func syncCount(pathSuffix: String) -> Int {
        state.withLock { s in s.syncCountByPath.filter { $0.key.hasSuffix(pathSuffix) }.reduce(0) { $0 + $1.value } }
    }

    /// The paths of all files (not directories), sorted.
    public var allFiles: [String] {
        state.withLock { s in s.paths.filter { s.store[$0.value]?.isDirectory == false }.keys.sorted() }
    }

    /// The page-cache contents of a file, or nil if it does not exist.
    public func contents(of path: String) -> [UInt8]? {
        state.withLock { s in s.paths[path].flatMap { s.store[$0]?.data } }
    }

    /// Replaces the contents of a file (page cache and durable image), creating it; for corrupting logs in tests.
    public func setContents(of path: String, _ bytes: [UInt8]) {
        state.withLock { s in
            let id = s.paths[path] ?? s.newNode(path, isDirectory: false)
            s.store[id]!.data = bytes
            s.store[id]!.durable = bytes
        }
    }

    /// The file system as it would be found after restarting from the simulated crash (or from now).
    public func crashImage(_ mode: CrashMode) -> FaultInjectingFileSystem {
        state.withLock { s in
            var fresh = State()
            fresh.paths = [:]
            fresh.store = [:]
            for (path, id) in s.paths {
                var node = s.store[id]!
                if mode == .powerLoss { node.data = node.durable }
                fresh.paths[path] = id
                fresh.store[id] = node
            }
            fresh.nextID = s.nextID
            if let inFlight = s.inFlight, s.tornBytes > 0, var node = fresh.store[inFlight.id] {
                let torn = Array(inFlight.bytes.prefix(s.tornBytes))
                let start = Int(inFlight.offset)
                if mode == .processKill || start <= node.data.count {
                    Self.apply(torn, at: start, to: &node.data)
                }
                fresh.store[inFlight.id] = node
            }
            for key in fresh.store.keys { fresh.store[key]!.durable = fresh.store[key]!.data }
            return FaultInjectingFileSystem(state: fresh)
        }
    }

    static func apply(_ bytes: [UInt8], at offset: Int, to data: inout [UInt8]) {
        if data.count < offset { data.append(contentsOf: repeatElement(0, count: offset - data.count)) }
        let overlap = min(bytes.count, data.count - offset)
        if overlap > 0 { data.replaceSubrange(offset..<(offset + overlap), with: bytes[0..<overlap]) }
        if overlap < bytes.count { data.append(contentsOf: bytes[overlap...]) }
    }

    // MARK: StorageFileSystem

    public func openFile(_ path: String, create: Bool) throws -> any StorageFile {
        let id: Int = try state.withLock { s in
            try s.checkAlive()
            guard s.isDirectory(parentDirectory(of: path)) else { throw Errno.noSuchFileOrDirectory }
            if let id = s.paths[path] {
                if s.store[id]!.isDirectory { throw Errno.isDirectory }
                return id
            }
            guard create else { throw Errno.noSuchFileOrDirectory }
            return s.newNode(path, isDirectory: false)
        }
        try state.withLock { s in
            if let limit = s.descriptorLimit, s.openDescriptors >= limit { throw Errno.tooManyOpenFiles }
            s.openDescriptors += 1
        }
        return FaultInjectingFile(fs: self, id: id)
    }

    public func exists(_ path: String) -> Bool { state.withLock { $0.paths[path] != nil } }

    public func isDirectory(_ path: String) -> Bool { state.withLock { $0.isDirectory(path) } }

    public func contentsOfDirectory(_ path: String) throws -> [String] {
        try state.withLock { s in
            try s.checkAlive()
            guard s.isDirectory(path) else { throw Errno.noSuchFileOrDirectory }
            let prefix = path.hasSuffix("/") ? path : path + "/"
            return s.paths.keys.filter { $0.hasPrefix(prefix) && $0 != prefix && !$0.dropFirst(prefix.count).contains("/") }
                .map { String($0.dropFirst(prefix.count)) }.sorted()
        }
    }

    public func createDirectory(_ path: String) throws {
        try state.withLock { s in
            try s.checkAlive()
            if let id = s.paths[path] {
                if s.store[id]!.isDirectory { return }
                throw Errno.fileExists
            }
            guard s.isDirectory(parentDirectory(of: path)) else { throw Errno.noSuchFileOrDirectory }
            _ = s.newNode(path, isDirectory: true)
        }
    }

    public func removeFile(_ path: String) throws {
        try state.withLock { s in
            try s.checkAlive()
            guard let id = s.paths[path], !s.store[id]!.isDirectory else { throw Errno.noSuchFileOrDirectory }
            s.paths[path] = nil
        }
    }

    public func removeDirectory(_ path: String) throws {
        try state.withLock { s in
            try s.checkAlive()
            guard s.isDirectory(path) else { throw Errno.noSuchFileOrDirectory }
            let prefix = path + "/"
            if s.paths.keys.contains(where: { $0.hasPrefix(prefix) }) { throw Errno.directoryNotEmpty }
            s.paths[path] = nil
        }
    }

    public func rename(_ from: String, to: String) throws {
        try state.withLock { s in
            try s.checkAlive()
            guard let id = s.paths[from] else { throw Errno.noSuchFileOrDirectory }
            if s.store[id]!.isDirectory {
                // Move the directory and everything under it.
                let prefix = from + "/"
                for (path, child) in s.paths where path.hasPrefix(prefix) {
                    s.paths[path] = nil
                    s.paths[to + "/" + path.dropFirst(prefix.count)] = child
                }
            }
            s.paths[to] = id
            s.paths[from] = nil
        }
    }

    public func syncDirectory(_ path: String) throws {
        try state.withLock { s in
            try s.checkAlive()
            if let limit = s.descriptorLimit, s.openDescriptors >= limit { throw Errno.tooManyOpenFiles }
            s.directorySyncCount += 1
        }
    }

    // MARK: File operations

    func pwrite(id: Int, _ bytes: UnsafeRawBufferPointer, at offset: Int64) throws -> Int {
        try state.withLock { s in
            try s.checkAlive()
            guard s.store[id] != nil else { throw Errno.badFileDescriptor }
            s.writeCount += 1
            var count = bytes.count
            if s.shortWrites && count > 1 { count = max(1, count / 2) }
            if let capacity = s.capacity {
                let used = s.paths.values.reduce(0) { $0 + (s.store[$1]?.data.count ?? 0) }
                let current = s.store[id]!.data.count
                let growth = max(0, Int(offset) + count - current)
                let room = capacity - used
                if growth > room {
                    let allowed = max(0, room - max(0, Int(offset) - current))
                    if allowed == 0 { throw Errno.noSpace }
                    count = min(count, allowed)
                }
            }
            if let crashAt = s.crashAtWrite, s.writeCount >= crashAt {
                s.crashed = true
                s.inFlight = InFlight(id: id, offset: offset, bytes: Array(bytes))
                throw Errno.ioError
            }
            Self.apply(Array(bytes.prefix(count)), at: Int(offset), to: &s.store[id]!.data)
            return count
        }
    }

    func pread(id: Int, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        try state.withLock { s in
            try s.checkAlive()
            guard let node = s.store[id] else { throw Errno.badFileDescriptor }
            let start = Int(offset)
            guard start < node.data.count else { return 0 }
            let n = min(buffer.count, node.data.count - start)
            node.data.withUnsafeBytes { src in
                buffer.baseAddress!.copyMemory(from: src.baseAddress! + start, byteCount: n)
            }
            return n
        }
    }

    func size(id: Int) throws -> Int64 {
        try state.withLock { s in
            try s.checkAlive()
            guard let node = s.store[id] else { throw Errno.badFileDescriptor }
            return Int64(node.data.count)
        }
    }

    func truncate(id: Int, to size: Int64) throws {
        try state.withLock { s in
            try s.checkAlive()
            guard s.store[id] != nil else { throw Errno.badFileDescriptor }
            let n = Int(size)
            if s.store[id]!.data.count > n {
                s.store[id]!.data.removeSubrange(n...)
            } else {
                s.store[id]!.data.append(contentsOf: repeatElement(0, count: n - s.store[id]!.data.count))
            }
        }
    }

    func sync(id: Int) throws {
        let delay = state.withLock { $0.syncDelay }
        if delay > .zero { blockingSleep(delay) }
        var held = false
        while state.withLock({ s -> Bool in
            let path = s.paths.first(where: { $0.value == id })?.key ?? "(unlinked)"
            let hold = s.holdSyncs?(path) ?? false
            if hold != held { s.heldSyncs += hold ? 1 : -1 }
            held = hold
            return hold
        }) {
            blockingSleep(.milliseconds(1))
        }
        try state.withLock { s in
            try s.checkAlive()
            guard s.store[id] != nil else { throw Errno.badFileDescriptor }
            let path = s.paths.first(where: { $0.value == id })?.key ?? "(unlinked)"
            if let fail = s.failSync, fail(path) {
                s.store[id]!.data = s.store[id]!.durable
                throw Errno.ioError
            }
            s.store[id]!.durable = s.store[id]!.data
            s.syncCount += 1
            s.syncCountByPath[path, default: 0] += 1
        }
    }
}

extension FaultInjectingFileSystem.State {
    func checkAlive() throws {
        if crashed { throw Errno.ioError }
    }

    func isDirectory(_ path: String) -> Bool {
        paths[path].flatMap { store[$0]?.isDirectory } == true
    }

    mutating func newNode(_ path: String, isDirectory: Bool) -> Int {
        let id = nextID
        nextID += 1
        store[id] = FaultInjectingFileSystem.Node(isDirectory: isDirectory)
        paths[path] = id
        return id
    }
}

/// A file handle of `FaultInjectingFileSystem`, bound to the file's node like a POSIX descriptor.
final class FaultInjectingFile: StorageFile {
    let fs: FaultInjectingFileSystem
    let id: Int

    init(fs: FaultInjectingFileSystem, id: Int) {
        self.fs = fs
        self.id = id
    }

    func pwrite(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws -> Int {
        try fs.pwrite(id: id, bytes, at: offset)
    }

    func pread(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        try fs.pread(id: id, into: buffer, at: offset)
    }

    func size() throws -> Int64 { try fs.size(id: id) }
    func truncate(to size: Int64) throws { try fs.truncate(id: id, to: size) }
    func sync() throws { try fs.sync(id: id) }
    func close() throws {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        fs.state.withLock { $0.openDescriptors -= 1 }
    }
    private let closed = Atomic<Bool>(false)
}
