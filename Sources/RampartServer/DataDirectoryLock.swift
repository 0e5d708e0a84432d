import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a data directory (`<dir>/.lock`, Kafka's file name), held by a running broker
/// and by offline tools that write its metadata (`rampart user add --config`), so that neither
/// overwrites what the other wrote. The lock is an `flock` on the open file: it ends with the process.
public final class DataDirectoryLock: Sendable {
    public static let fileName = ".lock"

    private let descriptor: Int32
    public let directory: String

    /// Takes the lock, creating the directory and the lock file if needed; throws naming the
    /// directory when another process holds it.
    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DataDirectoryLockError(message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason = String(cString: strerror(errno))
            close(fd)
            throw DataDirectoryLockError(message: busy
                ? "\(directory) is in use by another Rampart process (a running broker holds \(path))"
                : "cannot lock \(path): \(reason)")
        }
        self.descriptor = fd
        self.directory = directory
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

/// The data directory is locked by another process, or cannot be locked.
public struct DataDirectoryLockError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
