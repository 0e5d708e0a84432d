import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where the cluster metadata lives. Single node: `EmbeddedMetadataStore`, a file in the data directory.
/// A cluster store (etcd) implements the same protocol later.
public protocol MetadataStore: Sendable {
    /// The current image.
    func current() async -> ClusterMetadata
    /// Applies `change` to the current image and commits the result durably before returning it. If
    /// `change` throws, nothing is written and the error is rethrown. The epoch is incremented by the
    /// store.
    func update(_ change: @Sendable (inout ClusterMetadata) throws -> Void) async throws -> ClusterMetadata
}

/// An error from a metadata store, naming the file and the problem.
public struct MetadataStoreError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The single-node metadata store: one JSON file, `<dir>/__rampart_metadata.json`, replaced atomically on
/// each change (write a temporary file, fsync it, rename over the old one, fsync the directory), so a
/// crash leaves either the old or the new image, never a mix.
public actor EmbeddedMetadataStore: MetadataStore {
    public static let fileName = "__rampart_metadata.json"

    private let directory: URL
    private var image: ClusterMetadata

    /// The file holding the image.
    public nonisolated var fileURL: URL { directory.appendingPathComponent(Self.fileName) }

    /// Opens the store in `directory` (created if missing), loading the image or creating a new one with a
    /// fresh cluster id. A file that cannot be parsed is an error naming the file — never silently replaced.
    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(Self.fileName)
        if FileManager.default.fileExists(atPath: url.path) {
            let data: Data
            do {
                data = try Data(contentsOf: url)
            } catch {
                throw MetadataStoreError("cannot read metadata file \(url.path): \(error.localizedDescription)")
            }
            do {
                self.image = try JSONDecoder().decode(ClusterMetadata.self, from: data)
            } catch {
                throw MetadataStoreError("metadata file \(url.path) is corrupt: \(Self.describe(error))")
            }
            guard image.formatVersion <= ClusterMetadata.formatVersion else {
                throw MetadataStoreError("metadata file \(url.path) has format version \(image.formatVersion), newer than this broker understands (\(ClusterMetadata.formatVersion))")
            }
        } else {
            let fresh = ClusterMetadata(clusterID: ClusterMetadata.newClusterID())
            try Self.writeAtomically(fresh, directory: directory)
            self.image = fresh
        }
        // A leftover temporary file from a crash mid-write is garbage.
        try? FileManager.default.removeItem(at: directory.appendingPathComponent(Self.fileName + ".tmp"))
    }

    public func current() -> ClusterMetadata { image }

    public func update(_ change: @Sendable (inout ClusterMetadata) throws -> Void) throws -> ClusterMetadata {
        var next = image
        try change(&next)
        next.epoch = image.epoch + 1
        try Self.writeAtomically(next, directory: directory)
        image = next
        return next
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context): return context.debugDescription
        case DecodingError.keyNotFound(let key, _): return "missing key \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default: return String(describing: error)
        }
    }

    static func writeAtomically(_ image: ClusterMetadata, directory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(image)
        let final = directory.appendingPathComponent(fileName).path
        let temp = final + ".tmp"
        // The image holds SCRAM keys: a leftover temp file (or a planted link) must not keep its mode or
        // redirect the write, so it is removed and created afresh, exclusively, with mode 0600.
        unlink(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw MetadataStoreError("cannot create \(temp): \(String(cString: strerror(errno)))") }
        guard fchmod(fd, 0o600) == 0 else {
            let message = "cannot set the mode of \(temp): \(String(cString: strerror(errno)))"
            close(fd)
            unlink(temp)
            throw MetadataStoreError(message)
        }
        var failure: String?
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = "cannot write \(temp): \(String(cString: strerror(errno)))"
                    return
                }
                offset += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = "cannot fsync \(temp): \(String(cString: strerror(errno)))" }
        close(fd)
        if let failure {
            unlink(temp)
            throw MetadataStoreError(failure)
        }
        guard rename(temp, final) == 0 else {
            let message = "cannot rename \(temp) to \(final): \(String(cString: strerror(errno)))"
            unlink(temp)
            throw MetadataStoreError(message)
        }
        let dirfd = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            defer { close(dirfd) }
            guard fsync(dirfd) == 0 else { throw MetadataStoreError("cannot fsync directory \(directory.path): \(String(cString: strerror(errno)))") }
        }
    }
}
