import NIOCore
import SystemPackage

/// One open file of the log: a segment, an index or a checkpoint.
///
/// Implementations must be safe to call from several threads at once: positional reads and writes
/// (`pread`/`pwrite`) do not share a file position, and the log relies on reading immutable
/// segments off its actor (compaction) while the actor appends to the active one.
public protocol StorageFile: AnyObject, Sendable {
    /// Writes up to `bytes.count` bytes at `offset`; returns how many were written (may be short).
    func pwrite(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws -> Int
    /// Reads up to `buffer.count` bytes at `offset`; returns how many were read (0 at end of file).
    func pread(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int
    /// The current size of the file in bytes.
    func size() throws -> Int64
    /// Cuts the file to `size` bytes.
    func truncate(to size: Int64) throws
    /// Makes every write so far durable (`fsync`). An error here means data may be lost.
    func sync() throws
    /// Closes the file; further calls fail.
    func close() throws
}

/// The file-system operations the log needs. Paths are absolute, `/`-separated strings.
///
/// `PosixStorageFileSystem` is the real one; `FaultInjectingFileSystem` is an in-memory one for
/// tests that can tear writes, fail with `ENOSPC`/`EIO` and simulate a crash at the N-th write.
public protocol StorageFileSystem: Sendable {
    /// Opens a file for reading and writing, creating it (empty) when `create` is true.
    func openFile(_ path: String, create: Bool) throws -> any StorageFile
    /// Whether anything exists at `path`.
    func exists(_ path: String) -> Bool
    /// Whether `path` is a directory.
    func isDirectory(_ path: String) -> Bool
    /// The names (not paths) of the entries of a directory, without `.` and `..`.
    func contentsOfDirectory(_ path: String) throws -> [String]
    /// Creates one directory level; succeeds if it already exists.
    func createDirectory(_ path: String) throws
    /// Removes a file.
    func removeFile(_ path: String) throws
    /// Removes an empty directory.
    func removeDirectory(_ path: String) throws
    /// Atomically renames `from` to `to`, replacing `to` if it exists.
    func rename(_ from: String, to: String) throws
    /// Makes the directory's entries (creations, renames, removals) durable.
    func syncDirectory(_ path: String) throws
}

extension StorageFile {
    /// Writes all readable bytes of `buffer` at `offset`, looping over short writes.
    func writeAll(_ buffer: ByteBuffer, at offset: Int64) throws {
        try buffer.withUnsafeReadableBytes { raw in
            var done = 0
            while done < raw.count {
                let n = try pwrite(UnsafeRawBufferPointer(rebasing: raw[done...]), at: offset + Int64(done))
                guard n > 0 else { throw Errno.ioError }
                done += n
            }
        }
    }

    /// Reads `count` bytes at `offset`, fewer only if the file ends first.
    func read(at offset: Int64, count: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) throws -> ByteBuffer {
        var buffer = allocator.buffer(capacity: count)
        guard count > 0 else { return buffer }
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
            var done = 0
            while done < count {
                let n = try pread(
                    into: UnsafeMutableRawBufferPointer(rebasing: raw[done..<count]), at: offset + Int64(done))
                if n == 0 { break }
                done += n
            }
            return done
        }
        return buffer
    }
}

extension StorageFileSystem {
    /// Removes a file if it exists.
    func removeFileIfExists(_ path: String) throws {
        if exists(path) { try removeFile(path) }
    }

    /// Writes `contents` to `path` atomically: a temporary file, fsync, rename, directory fsync.
    func writeFileAtomically(_ path: String, contents: ByteBuffer) throws {
        let tmp = path + ".tmp"
        try removeFileIfExists(tmp)
        let file = try openFile(tmp, create: true)
        do {
            try file.writeAll(contents, at: 0)
            try file.sync()
            try file.close()
        } catch {
            try? file.close()
            throw error
        }
        try rename(tmp, to: path)
        try syncDirectory(parentDirectory(of: path))
    }

    /// Reads a whole small file.
    func readWholeFile(_ path: String) throws -> ByteBuffer {
        let file = try openFile(path, create: false)
        defer { try? file.close() }
        return try file.read(at: 0, count: Int(try file.size()))
    }
}

/// The directory part of a path (`/a/b/c` → `/a/b`).
func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
}

/// Joins two path components with `/`.
func joinPath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}
