#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File operations for key material and the CA database: every file is written to a fresh temporary
/// file in the same directory (created with `O_CREAT|O_EXCL` and its final mode, so a private key is
/// never readable by others, not even for an instant), synced, then moved into place in one step.
/// Without `replace` the move is a `link(2)`, which fails if the target exists: an existing key is
/// never overwritten, even by a concurrent writer.
enum SecureFile {
    /// Owner read/write only: private keys and files holding them.
    static let secretMode: mode_t = 0o600
    /// Readable by everyone: certificates, CRLs, the database.
    static let publicMode: mode_t = 0o644

    /// Writes `bytes` to `path` atomically with `mode`. Throws `.fileExists` if `path` exists and
    /// `replace` is false.
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t, replace: Bool) throws {
        let directory = parentDirectory(of: path)
        let temporary = "\(directory)/.\(baseName(of: path)).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ioError("cannot create", temporary) }
        var closed = false
        defer {
            if !closed { close(fd) }
        }
        do {
            // The umask may have cleared bits of `mode`; set it exactly before any byte is written.
            guard fchmod(fd, mode) == 0 else { throw ioError("cannot set the mode of", temporary) }
            try writeAll(fd, bytes, path: temporary)
            guard fsync(fd) == 0 else { throw ioError("cannot sync", temporary) }
            closed = true
            guard close(fd) == 0 else { throw ioError("cannot close", temporary) }
            if replace {
                guard rename(temporary, path) == 0 else { throw ioError("cannot write", path) }
            } else {
                guard link(temporary, path) == 0 else {
                    if errno == EEXIST {
                        throw CertificateError(kind: .fileExists, message: "\(path) already exists")
                    }
                    throw ioError("cannot write", path)
                }
                unlink(temporary)
            }
        } catch {
            unlink(temporary)
            throw error
        }
        syncDirectory(directory)
    }

    /// The contents of `path`; errors name the file.
    static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw errno == ENOENT
                ? CertificateError(kind: .fileError, message: "\(path) does not exist")
                : ioError("cannot open", path)
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ioError("cannot read", path)
            }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0..<count])
        }
    }

    /// Whether anything (a file, a dangling link) exists at `path`.
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// The permission bits of `path`, or nil if it does not exist.
    static func mode(of path: String) -> mode_t? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    /// Removes `path` if it exists.
    static func remove(_ path: String) {
        unlink(path)
    }

    /// Creates `path` (mode 0700) and missing parents (mode 0755) unless it exists as a directory.
    static func createDirectory(_ path: String, mode: mode_t = 0o700) throws {
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw CertificateError(kind: .fileError, message: "\(path) exists and is not a directory")
            }
            return
        }
        let parent = parentDirectory(of: path)
        if parent != path, !exists(parent) {
            try createDirectory(parent, mode: 0o755)
        }
        guard mkdir(path, mode) == 0 || errno == EEXIST else { throw ioError("cannot create the directory", path) }
    }

    /// An exclusive `flock(2)` on a directory, held until `unlock()` (or deinit): serialises CA
    /// operations on one directory so concurrent `issue`/`revoke` never lose a database update.
    final class DirectoryLock {
        private var fd: Int32

        init(_ directory: String) throws {
            fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { throw SecureFile.ioError("cannot open the directory", directory) }
            while flock(fd, LOCK_EX) != 0 {
                if errno == EINTR { continue }
                let error = SecureFile.ioError("cannot lock the directory", directory)
                close(fd)
                fd = -1
                throw error
            }
        }

        func unlock() {
            guard fd >= 0 else { return }
            close(fd)  // releases the lock
            fd = -1
        }

        deinit { unlock() }
    }

    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func baseName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { systemWrite(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw ioError("cannot write", path)
            }
            offset += written
        }
    }

    private static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    static func ioError(_ what: String, _ path: String) -> CertificateError {
        CertificateError(kind: .fileError, message: "\(what) \(path): \(String(cString: strerror(errno)))")
    }
}

// `read`/`write` are shadowed inside types that declare methods of those names.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}
