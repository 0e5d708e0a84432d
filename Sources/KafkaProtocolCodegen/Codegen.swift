import Foundation

/// Turns Apache Kafka's JSON message schemas into Swift sources for `KafkaProtocol`.
///
/// Output is deterministic: files are named after their schema and their content depends only on the
/// schemas, so a regenerated tree can be compared byte for byte with the committed one.
public enum KafkaProtocolCodegen {
    /// The generated files, as file name → contents.
    public struct Output: Sendable, Equatable {
        /// Files for `Sources/KafkaProtocol/Generated/`.
        public var sources: [String: String]
        /// Test support for `Tests/KafkaProtocolTests/Generated/` (random value factories).
        public var testSupport: [String: String]
    }

    /// Generates everything from the schemas in `schemaDirectory`.
    public static func generate(schemaDirectory: URL) throws -> Output {
        try generate(specs: loadSchemas(directory: schemaDirectory))
    }

    /// Generates everything from already parsed schemas.
    public static func generate(specs: [MessageSpec]) throws -> Output {
        var byName: [String: MessageSpec] = [:]
        for spec in specs {
            guard byName[spec.name] == nil else { throw CodegenError.invalidSchema("duplicate message \(spec.name)") }
            byName[spec.name] = spec
        }
        var sources: [String: String] = [:]
        var tests: [String: String] = [:]
        for spec in specs {
            sources["\(spec.name).swift"] = try MessageGenerator(spec: spec, all: byName).generate()
            tests["\(spec.name)+Random.swift"] = try RandomGenerator(spec: spec).generate()
        }
        let apiKeys = ApiKeyGenerator(specs: specs.sorted { $0.name < $1.name })
        sources["KafkaApiKey.swift"] = try apiKeys.generateApiKeys()
        sources["KafkaEntityType.swift"] = apiKeys.generateEntityTypes()
        tests["AllMessages+Random.swift"] = RandomGenerator.generateIndex(specs)
        return Output(sources: sources, testSupport: tests)
    }

    /// Writes `files` into `directory`, creating it, and removes `*.swift` files there that are not in
    /// `files` (so a message dropped from the schemas disappears). Other files (README.md) are kept.
    public static func write(_ files: [String: String], to directory: URL) throws {
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw CodegenError.io("cannot create \(directory.path): \(error)")
        }
        let existing = (try? fm.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in existing where name.hasSuffix(".swift") && files[name] == nil {
            try? fm.removeItem(at: directory.appendingPathComponent(name))
        }
        for (name, contents) in files.sorted(by: { $0.key < $1.key }) {
            let url = directory.appendingPathComponent(name)
            let data = Data(contents.utf8)
            if fm.contents(atPath: url.path) == data { continue }
            do {
                try data.write(to: url, options: .atomic)
            } catch {
                throw CodegenError.io("cannot write \(url.path): \(error)")
            }
        }
    }

    /// Differences between `files` and the `*.swift` files in `directory`: names missing, extra or
    /// different. Empty when they match exactly.
    public static func differences(_ files: [String: String], in directory: URL) -> [String] {
        let fm = FileManager.default
        let existing = Set(((try? fm.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".swift") })
        var problems: [String] = []
        for name in files.keys.sorted() {
            let url = directory.appendingPathComponent(name)
            guard let data = fm.contents(atPath: url.path) else {
                problems.append("missing: \(url.path)")
                continue
            }
            if data != Data(files[name]!.utf8) { problems.append("differs: \(url.path)") }
        }
        for name in existing.sorted() where files[name] == nil {
            problems.append("not generated (stale): \(directory.appendingPathComponent(name).path)")
        }
        return problems
    }
}
