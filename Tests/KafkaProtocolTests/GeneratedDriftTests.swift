import Foundation
import KafkaProtocolCodegen
import Testing

/// The committed generated code must be exactly what the generator makes of the schemas.
@Suite struct GeneratedDriftTests {
    /// The package root, found from this file's path (Tests/KafkaProtocolTests/<file>).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `RAMPART_SCHEMA_DIR` (the Makefile sets it), else `../shared/kafka-protocol/messages`.
    static var schemaDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["RAMPART_SCHEMA_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        return packageRoot.appendingPathComponent("../shared/kafka-protocol/messages").standardizedFileURL
    }

    @Test func committedCodeMatchesTheSchemas() throws {
        let schemas = Self.schemaDirectory
        try #require(
            FileManager.default.fileExists(atPath: schemas.path),
            "schema directory \(schemas.path) not found; set RAMPART_SCHEMA_DIR")
        let output = try KafkaProtocolCodegen.generate(schemaDirectory: schemas)
        let temp = FileManager.default.temporaryDirectory
            .appendingPathComponent("rampart-drift-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: temp) }
        let pairs: [(generated: URL, committed: URL, files: [String: String])] = [
            (temp.appendingPathComponent("sources"),
             Self.packageRoot.appendingPathComponent("Sources/KafkaProtocol/Generated"), output.sources),
            (temp.appendingPathComponent("tests"),
             Self.packageRoot.appendingPathComponent("Tests/KafkaProtocolTests/Generated"), output.testSupport),
        ]
        var problems: [String] = []
        for pair in pairs {
            try KafkaProtocolCodegen.write(pair.files, to: pair.generated)
            problems += Self.compare(pair.generated, pair.committed)
        }
        #expect(problems.isEmpty, "generated code drifted from the schemas; run `make generate`:\n\(problems.joined(separator: "\n"))")
    }

    /// Differences between the `*.swift` files of two directories.
    static func compare(_ generated: URL, _ committed: URL) -> [String] {
        let fm = FileManager.default
        func swiftFiles(_ dir: URL) -> Set<String> {
            Set(((try? fm.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".swift") })
        }
        let new = swiftFiles(generated)
        let old = swiftFiles(committed)
        var problems: [String] = []
        for name in new.subtracting(old).sorted() { problems.append("not committed: \(committed.path)/\(name)") }
        for name in old.subtracting(new).sorted() { problems.append("stale: \(committed.path)/\(name)") }
        for name in new.intersection(old).sorted() {
            let a = fm.contents(atPath: generated.appendingPathComponent(name).path)
            let b = fm.contents(atPath: committed.appendingPathComponent(name).path)
            if a != b { problems.append("differs: \(committed.path)/\(name)") }
        }
        return problems
    }
}
