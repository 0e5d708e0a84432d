import Foundation
import Synchronization

/// `rampart.acl.policy.path`: one policy file, or a directory whose `*.yaml` and `*.yml` files (not
/// hidden, not in subdirectories) together make the policy, read in name order.
public enum PolicyPath {
    /// The policy files `path` stands for.
    public static func files(at path: String) throws(PolicyError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw PolicyError(file: path, reason: "no such file or directory")
        }
        guard isDirectory.boolValue else { return [path] }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw PolicyError(file: path, reason: "cannot list the directory: \(error.localizedDescription)")
        }
        return names.filter { name in
            !name.hasPrefix(".") && (name.hasSuffix(".yaml") || name.hasSuffix(".yml"))
        }.sorted().map { (path as NSString).appendingPathComponent($0) }.filter { file in
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: file, isDirectory: &isDir) && !isDir.boolValue
        }
    }

    /// Every ACL the policy at `path` declares. Any file that cannot be read, parsed or validated
    /// refuses the whole policy (so a broken file never drops rules the others rely on).
    public static func load(_ path: String) throws(PolicyError) -> [AclBinding] {
        var bindings: [AclBinding] = []
        for file in try files(at: path) {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw PolicyError(file: file, reason: "cannot read the file (or it is not UTF-8): \(error.localizedDescription)")
            }
            bindings += try PolicyFile.parse(text, file: file)
        }
        return bindings
    }

    /// What identifies the current contents of the policy: per file its name, device, inode, size
    /// and modification time (nanoseconds). A change of any (or a file added or removed) is a change.
    public static func stamp(_ path: String) -> [FileStamp] {
        let files = (try? files(at: path)) ?? []
        return ([path] + files).map(FileStamp.init)
    }
}

/// The identity of one file's contents as `stat` sees it.
public struct FileStamp: Hashable, Sendable {
    public var path: String
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var modifiedNanoseconds: Int64

    public init(_ path: String) {
        self.path = path
        var info = stat()
        if stat(path, &info) == 0 {
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modifiedNanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        } else {
            device = 0
            inode = 0
            size = -1
            modifiedNanoseconds = 0
        }
    }
}

/// Keeps an `Authorizer`'s file ACLs in step with `rampart.acl.policy.path`.
///
/// `poll()` is called periodically (the broker does it every `rampart.acl.policy.reload.interval.ms`).
/// A change is applied once the files have stayed the same for one poll — so a file caught half
/// written is not loaded — then parsed and validated as a whole: a valid policy replaces the file
/// ACLs atomically; an invalid one is refused, the previous policy stays, and the failure is
/// counted (and not retried until the files change again).
public final class PolicyWatcher: Sendable {
    public let path: String
    private let authorizer: Authorizer

    private struct State {
        var applied: [FileStamp]
        var pending: [FileStamp]?
        var reloads = 0
        var failures = 0
    }

    private let state: Mutex<State>

    /// What a poll did.
    public enum Outcome: Equatable, Sendable {
        /// Nothing changed since the policy in force was read.
        case unchanged
        /// The files changed; they are loaded once they stay unchanged until the next poll.
        case pending
        /// The new policy is in force, with this many ACLs.
        case reloaded(aclCount: Int)
        /// The new policy was refused; the previous one stays.
        case failed(PolicyError)
    }

    /// Loads the policy and installs it in `authorizer`; a policy that does not load throws (a broker
    /// does not start with a broken policy).
    public init(path: String, authorizer: Authorizer) throws(PolicyError) {
        self.path = path
        self.authorizer = authorizer
        let stamp = PolicyPath.stamp(path)
        let bindings = try PolicyPath.load(path)
        authorizer.replaceFileBindings(bindings)
        state = Mutex(State(applied: stamp))
    }

    /// Checks the files; `force` reloads now whatever changed (SIGHUP). Reads files: call it off the
    /// event loops.
    public func poll(force: Bool = false) -> Outcome {
        let stamp = PolicyPath.stamp(path)
        let ready: Bool = state.withLock { state in
            if force { return true }
            if stamp == state.applied {
                state.pending = nil
                return false
            }
            if state.pending == stamp { return true }
            state.pending = stamp
            return false
        }
        guard ready else { return state.withLock { $0.pending == nil } ? .unchanged : .pending }
        do {
            let bindings = try PolicyPath.load(path)
            authorizer.replaceFileBindings(bindings)
            state.withLock { state in
                state.applied = stamp
                state.pending = nil
                state.reloads += 1
            }
            return .reloaded(aclCount: bindings.count)
        } catch {
            state.withLock { state in
                state.applied = stamp
                state.pending = nil
                state.failures += 1
            }
            return .failed(error)
        }
    }

    /// Successful and refused reloads so far.
    public var reloadCounts: (succeeded: Int, failed: Int) { state.withLock { ($0.reloads, $0.failures) } }
}
