import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The audit log (`rampart.audit.log.path`): one JSON object per line for every denial and every allowed
/// audited change, each carrying `prev`, the SHA-256 of the previous line (64 zeros for the first), so
/// `rampart audit verify` detects an edited, dropped or reordered line. The file is created with mode
/// 0600 and appended to; events are formatted and written on the log's own serial queue, never on the
/// event loops (`record` only enqueues).
public final class AuditLog: AuthorizationAuditSink, Sendable {
    /// The `prev` of the first line.
    public static let genesis = String(repeating: "0", count: 64)

    public let path: String
    private let fd: Int32
    private let queue = DispatchQueue(label: "rampart.audit-log")
    private let last: Mutex<String>
    private let failures = Atomic<Int>(0)
    /// Whether the last write failed (a failure is reported when writing starts to fail, not per event).
    private let failing = Atomic<Bool>(false)
    private let onWriteFailure: (@Sendable (String) -> Void)?

    /// Opens (or creates, 0600) the log and reads the hash of its last line to continue the chain.
    /// `onWriteFailure` is told (on the log's queue) when an event cannot be written — the first failure
    /// after a successful write, naming the file and the system's reason — so a full disk or an I/O
    /// error does not lose audit events unnoticed.
    public init(path: String, onWriteFailure: (@Sendable (String) -> Void)? = nil) throws(AuditLogError) {
        self.path = path
        self.onWriteFailure = onWriteFailure
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AuditLogError("cannot open the audit log \(path): \(String(cString: strerror(errno)))") }
        self.fd = fd
        last = Mutex(Self.lastLineHash(path: path))
    }

    deinit { close(fd) }

    /// The hash of the file's last non-empty line (the genesis value for an empty file), reading only
    /// the file's tail (up to 1 MiB: an event line is far shorter).
    static func lastLineHash(path: String) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return genesis }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd(), size > 0 else { return genesis }
        let start = size > 1 << 20 ? size - (1 << 20) : 0
        guard (try? handle.seek(toOffset: start)) != nil, let tail = try? handle.readToEnd() else { return genesis }
        let lines = tail.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
        return lines.last.map { SHA256Digest.hex($0) } ?? genesis
    }

    /// Events that could not be written (disk full, I/O error) since the log was opened.
    public var writeFailures: Int { failures.load(ordering: .relaxed) }

    public func record(_ event: AuthorizationEvent) {
        queue.async { self.write(event) }
    }

    /// Waits until every event recorded so far is written.
    public func flush() {
        queue.sync {}
    }

    private func write(_ event: AuthorizationEvent) {
        let previous = last.withLock { $0 }
        var line = Self.line(event, previous: previous)
        let hash = SHA256Digest.hex(line.utf8)
        line.append("\n")
        let error = line.utf8CString.withUnsafeBufferPointer { buffer -> Int32? in
            var offset = 0
            let count = buffer.count - 1
            while offset < count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, count - offset)
                if n < 0 { if errno == EINTR { continue }; return errno }
                offset += n
            }
            return nil
        }
        guard let error else {
            last.withLock { $0 = hash }
            failing.store(false, ordering: .relaxed)
            return
        }
        let lost = failures.add(1, ordering: .relaxed).newValue
        if !failing.exchange(true, ordering: .relaxed) {
            onWriteFailure?("cannot write to the audit log \(path): \(String(cString: strerror(error))); the event is lost (\(lost) lost since start-up)")
        }
    }

    /// One event as a JSON line (keys sorted, no newline).
    static func line(_ event: AuthorizationEvent, previous: String) -> String {
        var fields: [String: String] = [
            "time": Self.timestamp(event.timeMs),
            "principal": event.principal.description,
            "client": event.clientHost,
            "listener": event.listener,
            "api": event.apiName,
            "apiKey": "\(event.apiKey)",
            "resource": "\(event.resourceType.kafkaName):\(event.resourceName)",
            "operation": event.operation.kafkaName,
            "decision": event.decision.isAllowed ? "ALLOWED" : "DENIED",
            "policy": event.policyFingerprint,
            "prev": previous,
        ]
        if let rule = event.matchedRule {
            fields["rule"] = rule.summary
        }
        if let action = event.action { fields["action"] = action }
        if !event.enforced { fields["mode"] = "shadow" }
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func timestamp(_ ms: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    /// Checks a log's chain: every line is a JSON object whose `prev` is the SHA-256 of the line before
    /// (64 zeros for the first). Returns the problems found (empty: intact) and the number of lines.
    public static func verify(path: String) throws(AuditLogError) -> (lines: Int, problems: [String]) {
        guard let data = FileManager.default.contents(atPath: path) else { throw AuditLogError("cannot read \(path)") }
        var problems: [String] = []
        var previous = genesis
        var count = 0
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty { continue }
            count += 1
            let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            guard let object, let prev = object["prev"] as? String else {
                problems.append("line \(index + 1): not an audit event (JSON with prev)")
                previous = SHA256Digest.hex(line)
                continue
            }
            if prev != previous {
                problems.append("line \(index + 1): prev does not match the line before (a line was edited, dropped, inserted or reordered)")
            }
            previous = SHA256Digest.hex(line)
        }
        return (count, problems)
    }
}

/// Why the audit log cannot be opened or read.
public struct AuditLogError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
