import Metrics
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The real file system: `open`/`pread`/`pwrite`/`fsync`/`ftruncate` through swift-system's
/// `FileDescriptor`, directory operations through libc.
public struct PosixStorageFileSystem: StorageFileSystem {
    public init() {}

    public func openFile(_ path: String, create: Bool) throws -> any StorageFile {
        let fd = try FileDescriptor.open(
            FilePath(path), .readWrite, options: create ? [.create, .closeOnExec] : [.closeOnExec],
            permissions: [.ownerReadWrite, .groupRead, .otherRead])
        return PosixStorageFile(fd: fd)
    }

    public func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    public func isDirectory(_ path: String) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        return (st.st_mode & S_IFMT) == S_IFDIR
    }

    public func contentsOfDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw Errno(rawValue: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { ptr in
                ptr.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public func createDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 {
            let e = errno
            if e == EEXIST && isDirectory(path) { return }
            throw Errno(rawValue: e)
        }
    }

    public func removeFile(_ path: String) throws {
        if unlink(path) != 0 { throw Errno(rawValue: errno) }
    }

    public func removeDirectory(_ path: String) throws {
        if rmdir(path) != 0 { throw Errno(rawValue: errno) }
    }

    public func rename(_ from: String, to: String) throws {
        #if canImport(Glibc) || canImport(Musl)
        if Glibc.rename(from, to) != 0 { throw Errno(rawValue: errno) }
        #else
        if Darwin.rename(from, to) != 0 { throw Errno(rawValue: errno) }
        #endif
    }

    public func syncDirectory(_ path: String) throws {
        let fd = try FileDescriptor.open(FilePath(path), .readOnly, options: [.directory, .closeOnExec])
        defer { try? fd.close() }
        if fsync(fd.rawValue) != 0 { throw Errno(rawValue: errno) }
    }
}

/// A file opened by `PosixStorageFileSystem`.
final class PosixStorageFile: StorageFile {
    private let fd: FileDescriptor

    init(fd: FileDescriptor) { self.fd = fd }

    func pwrite(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws -> Int {
        try fd.write(toAbsoluteOffset: offset, bytes)
    }

    func pread(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
        try fd.read(fromAbsoluteOffset: offset, into: buffer)
    }

    func size() throws -> Int64 {
        var st = stat()
        if fstat(fd.rawValue, &st) != 0 { throw Errno(rawValue: errno) }
        return Int64(st.st_size)
    }

    func truncate(to size: Int64) throws {
        try fd.resize(to: size)
    }

    func sync() throws {
        // fdatasync would skip the inode's timestamps, but a size change must reach the disk too,
        // and Linux's fdatasync already flushes the size; fsync keeps the rule simple everywhere.
        let start = ContinuousClock.now
        if fsync(fd.rawValue) != 0 { throw Errno(rawValue: errno) }
        let elapsed = (ContinuousClock.now - start).components
        Metrics.Timer(label: Self.fsyncDuration).recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
    }

    /// `rampart_fsync_duration_seconds` (a histogram): how long each segment or index fsync took.
    static let fsyncDuration = "rampart_fsync_duration_seconds"

    func close() throws { try fd.close() }
}
