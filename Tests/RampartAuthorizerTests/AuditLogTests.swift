import Foundation
import Synchronization
import Testing
@testable import RampartAuthorizer

/// The audit log: SHA-256, the hash chain, `verify` catching edits, drops and reorders, mode 0600.
@Suite struct AuditLogTests {
    @Test func sha256KnownAnswers() {
        #expect(SHA256Digest.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256Digest.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256Digest.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func event(_ i: Int) -> AuthorizationEvent {
        AuthorizationEvent(timeMs: 1_700_000_000_000 + Int64(i), principal: KafkaPrincipal(name: "bob"), clientHost: "10.0.0.\(i)", listener: "SSL",
                           apiKey: 0, apiName: "Produce", operation: .write, resourceType: .topic, resourceName: "orders",
                           decision: AuthorizationDecision(.noAclFound), matchedRule: nil, policyFingerprint: "f00d")
    }

    @Test func chainDetectsEditsDropsAndReorders() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let log = try AuditLog(path: path)
            for i in 0..<3 { log.record(event(i)) }
            log.flush()
        }
        // Reopening continues the chain.
        let log = try AuditLog(path: path)
        log.record(event(3))
        log.flush()
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try AuditLog.verify(path: path).problems.isEmpty)
        #expect(try AuditLog.verify(path: path).lines == 4)

        let text = try String(contentsOfFile: path, encoding: .utf8)
        var lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0].contains("\"decision\":\"DENIED\"") && lines[0].contains("\"principal\":\"User:bob\"") && lines[0].contains("\"prev\":\"\(AuditLog.genesis)\""))
        func verify(_ lines: [String]) throws -> Int {
            try lines.joined(separator: "\n").write(toFile: path, atomically: false, encoding: .utf8)
            return try AuditLog.verify(path: path).problems.count
        }
        let original = lines
        lines[1] = lines[1].replacingOccurrences(of: "10.0.0.1", with: "10.0.0.9")
        #expect(try verify(lines) == 1)
        lines = original
        lines.remove(at: 1)
        #expect(try verify(lines) == 1)
        lines = original
        lines.swapAt(1, 2)
        #expect(try verify(lines) > 0)
        #expect(try verify(original) == 0)
    }

    /// A write that fails (here: /dev/full, ENOSPC) is counted and reported once, naming the file and
    /// the reason, not per lost event.
    @Test func writeFailuresAreReported() throws {
        let reports = Mutex<[String]>([])
        let log = try AuditLog(path: "/dev/full") { problem in reports.withLock { $0.append(problem) } }
        for i in 0..<3 { log.record(event(i)) }
        log.flush()
        #expect(log.writeFailures == 3)
        let seen = reports.withLock { $0 }
        #expect(seen.count == 1)
        #expect(seen.first?.contains("/dev/full") == true && seen.first?.contains("lost") == true)
    }
}
