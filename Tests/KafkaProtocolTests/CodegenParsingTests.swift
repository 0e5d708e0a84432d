import Foundation
import KafkaProtocolCodegen
import Testing

/// The generator's schema reading: version ranges, comments, defaults, struct discovery.
@Suite struct CodegenParsingTests {
    @Test func versionRanges() throws {
        #expect(try VersionRange(parsing: "0+").bounds == 0...Int16.max)
        #expect(try VersionRange(parsing: "3-5").bounds == 3...5)
        #expect(try VersionRange(parsing: "7").bounds == 7...7)
        #expect(try VersionRange(parsing: "none").isEmpty)
        #expect(throws: CodegenError.self) { try VersionRange(parsing: "5-3") }
        #expect(throws: CodegenError.self) { try VersionRange(parsing: "x+") }
        #expect(try VersionRange(parsing: "3+").description == "3+")
    }

    @Test func versionConditionsAreRelativeToTheContext() throws {
        let context = VersionRange(0, 11)
        #expect(try VersionRange(parsing: "0+").condition(in: context) == "true")
        #expect(try VersionRange(parsing: "3+").condition(in: context) == "version >= 3")
        #expect(try VersionRange(parsing: "0-7").condition(in: context) == "version <= 7")
        #expect(try VersionRange(parsing: "2-4").condition(in: context) == "version >= 2 && version <= 4")
        #expect(try VersionRange(parsing: "12+").condition(in: context) == "false")
        #expect(try VersionRange(parsing: "3+").condition(in: VersionRange(5, 9)) == "true")
    }

    @Test func commentsAreStrippedOutsideStrings() throws {
        let text = """
        // Licensed ...
        {
          "type": "data", "name": "Thing", // trailing comment
          /* block */ "validVersions": "0-1",
          "flexibleVersions": "1+",
          "fields": [
            { "name": "Url", "type": "string", "versions": "0+", "default": "http://x//y",
              "about": "A // not a comment." },
            { "name": "Count", "type": "int32", "versions": "1+", "default": "0x7fffffff", "ignorable": true },
            { "name": "Flag", "type": "bool", "versions": "0+", "default": false },
            { "name": "Items", "type": "[]Item", "versions": "0+", "nullableVersions": "1+", "default": "null",
              "fields": [ { "name": "Id", "type": "int64", "versions": "0+", "mapKey": true, "default": "-1" } ] }
          ]
        }
        """
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-codegen-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(text.utf8).write(to: dir.appendingPathComponent("Thing.json"))
        let specs = try loadSchemas(directory: dir)
        let spec = try #require(specs.first)
        #expect(spec.name == "Thing")
        #expect(spec.kind == .data)
        #expect(spec.validVersions.bounds == 0...1)
        #expect(spec.flexibleVersions.bounds == 1...1)
        #expect(spec.fields.map(\.name) == ["Url", "Count", "Flag", "Items"])
        #expect(spec.fields[0].defaultValue == "http://x//y")
        #expect(spec.fields[0].about == "A // not a comment.")
        #expect(spec.fields[1].ignorable)
        #expect(spec.fields[2].defaultValue == "false")
        #expect(spec.fields[3].type == .array(.structure("Item")))
        #expect(spec.structs.map(\.name) == ["Item"])
        #expect(spec.structs[0].fields[0].mapKey)

        let output = try KafkaProtocolCodegen.generate(specs: specs)
        let source = try #require(output.sources["Thing.swift"])
        #expect(source.contains("public var count: Int32 = 2147483647"))
        #expect(source.contains("public var items: [Item]? = nil"))
        #expect(source.contains("public var id: Int64 = -1"))
        #expect(source.contains("extension Array where Element == Thing.Item"))
        #expect(output.testSupport["Thing+Random.swift"] != nil)
        // Deterministic: a second run gives the same bytes.
        #expect(try KafkaProtocolCodegen.generate(specs: specs) == output)
    }

    @Test func badSchemasAreReported() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-codegen-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{ "type": "data", "name": "Bad", "validVersions": "0", "fields": [ { "name": "X", "type": "[]Missing", "versions": "0+" } ] }"#.utf8)
            .write(to: dir.appendingPathComponent("Bad.json"))
        #expect(throws: CodegenError.self) { _ = try loadSchemas(directory: dir) }
    }
}
