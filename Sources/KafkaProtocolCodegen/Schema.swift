import Foundation

/// An error in a schema file or while writing the output.
public struct CodegenError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public static func invalidSchema(_ what: String) -> CodegenError { CodegenError(description: "invalid schema: \(what)") }
    public static func io(_ what: String) -> CodegenError { CodegenError(description: "I/O: \(what)") }
}

/// The kind of a top-level schema file.
public enum MessageKind: String, Sendable {
    case request, response, header, data
}

/// The type of a field as written in the schema (`int32`, `[]string`, `[]TopicData`, `Cursor`, …).
public indirect enum FieldType: Hashable, Sendable {
    case int8, int16, int32, int64, uint16, uint32, float64, bool, string, bytes, records, uuid
    case array(FieldType)
    case structure(String)

    public init(parsing text: String) {
        if text.hasPrefix("[]") {
            self = .array(FieldType(parsing: String(text.dropFirst(2))))
            return
        }
        switch text {
        case "int8": self = .int8
        case "int16": self = .int16
        case "int32": self = .int32
        case "int64": self = .int64
        case "uint16": self = .uint16
        case "uint32": self = .uint32
        case "float64": self = .float64
        case "bool": self = .bool
        case "string": self = .string
        case "bytes": self = .bytes
        case "records": self = .records
        case "uuid": self = .uuid
        default: self = .structure(text)
        }
    }

    public var isArray: Bool { if case .array = self { return true } else { return false } }

    /// The struct name for a struct or an array of structs.
    public var structName: String? {
        switch self {
        case .structure(let name): return name
        case .array(let element): return element.structName
        default: return nil
        }
    }
}

/// A field of a message or struct.
public struct FieldSpec: Sendable {
    public var name: String
    public var type: FieldType
    public var typeText: String
    public var about: String?
    public var versions: VersionRange
    public var nullableVersions: VersionRange
    public var taggedVersions: VersionRange
    public var tag: UInt32?
    /// A per-field override of the message's flexible versions (only `RequestHeader.ClientId` uses it).
    public var flexibleVersions: VersionRange?
    /// The raw `default` value, already turned into text (`"null"`, `"-1"`, `"0x7fffffff"`, `"true"`…).
    public var defaultValue: String?
    public var ignorable: Bool
    public var mapKey: Bool
    public var entityType: String?
    public var zeroCopy: Bool
    /// Inline struct fields, when the type is a struct defined here.
    public var fields: [FieldSpec]?

    /// Whether the schema allows null at any version.
    public var hasNullableVersions: Bool { !nullableVersions.isEmpty }
}

/// A named struct: the message itself, an inline struct, or a common struct.
public struct StructSpec: Sendable {
    public var name: String
    public var about: String?
    public var fields: [FieldSpec]
    /// The versions at which this struct can be written: the intersection of the versions of the fields
    /// that lead to it (or the common struct's versions) with the message's valid versions.
    public var context: VersionRange
    public var isCommon: Bool
}

/// One schema file.
public struct MessageSpec: Sendable {
    public var fileName: String
    public var name: String
    public var kind: MessageKind
    public var apiKey: Int16?
    public var validVersions: VersionRange
    public var flexibleVersions: VersionRange
    public var fields: [FieldSpec]
    public var commonStructs: [StructSpec]
    /// Every nested struct (inline and common) in first-appearance order, depth first.
    public var structs: [StructSpec]

    /// The message as a struct (its top-level fields).
    public var rootStruct: StructSpec {
        StructSpec(name: name, about: nil, fields: fields, context: validVersions, isCommon: false)
    }

    public func structSpec(named name: String) -> StructSpec? { structs.first { $0.name == name } }
}

// MARK: - Parsing

enum SchemaParser {
    /// Removes `//` and `/* */` comments outside JSON strings (Jackson's ALLOW_COMMENTS, as Kafka reads them).
    static func stripComments(_ text: String) -> String {
        var out = [UInt8]()
        let bytes = Array(text.utf8)
        out.reserveCapacity(bytes.count)
        var i = 0
        var inString = false
        while i < bytes.count {
            let c = bytes[i]
            if inString {
                out.append(c)
                if c == UInt8(ascii: "\\"), i + 1 < bytes.count {
                    out.append(bytes[i + 1])
                    i += 2
                    continue
                }
                if c == UInt8(ascii: "\"") { inString = false }
                i += 1
                continue
            }
            if c == UInt8(ascii: "\"") {
                inString = true
                out.append(c)
                i += 1
            } else if c == UInt8(ascii: "/"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "/") {
                while i < bytes.count, bytes[i] != UInt8(ascii: "\n") { i += 1 }
            } else if c == UInt8(ascii: "/"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "*") {
                i += 2
                while i + 1 < bytes.count, !(bytes[i] == UInt8(ascii: "*") && bytes[i + 1] == UInt8(ascii: "/")) { i += 1 }
                i += 2
            } else {
                out.append(c)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func parse(fileName: String, text: String) throws -> MessageSpec {
        let stripped = stripComments(text)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(stripped.utf8))
        } catch {
            throw CodegenError.invalidSchema("\(fileName): \(error)")
        }
        guard let root = object as? [String: Any] else { throw CodegenError.invalidSchema("\(fileName): not an object") }
        let name = try string(root, "name", fileName)
        guard let kind = MessageKind(rawValue: try string(root, "type", fileName)) else {
            throw CodegenError.invalidSchema("\(fileName): unknown type")
        }
        let valid = try VersionRange(parsing: try string(root, "validVersions", fileName))
        let flexible = try VersionRange(parsing: (root["flexibleVersions"] as? String) ?? "none")
        let apiKey = (root["apiKey"] as? NSNumber).map { Int16(truncating: $0) }
        let fields = try parseFields(root["fields"], fileName)
        var common: [StructSpec] = []
        for entry in (root["commonStructs"] as? [[String: Any]]) ?? [] {
            let csName = try string(entry, "name", fileName)
            let csVersions = try VersionRange(parsing: (entry["versions"] as? String) ?? "0+")
            common.append(StructSpec(
                name: csName, about: entry["about"] as? String,
                fields: try parseFields(entry["fields"], fileName),
                context: csVersions.intersection(valid), isCommon: true))
        }
        var spec = MessageSpec(
            fileName: fileName, name: name, kind: kind, apiKey: apiKey, validVersions: valid,
            flexibleVersions: flexible.intersection(valid), fields: fields, commonStructs: common, structs: [])
        spec.structs = try collectStructs(spec)
        return spec
    }

    private static func string(_ object: [String: Any], _ key: String, _ file: String) throws -> String {
        guard let v = object[key] as? String else { throw CodegenError.invalidSchema("\(file): missing \"\(key)\"") }
        return v
    }

    private static func parseFields(_ value: Any?, _ file: String) throws -> [FieldSpec] {
        guard let list = value as? [[String: Any]] else { return [] }
        return try list.map { try parseField($0, file) }
    }

    private static func parseField(_ f: [String: Any], _ file: String) throws -> FieldSpec {
        let name = try string(f, "name", file)
        let typeText = try string(f, "type", file)
        let type = FieldType(parsing: typeText)
        let versions = try VersionRange(parsing: try string(f, "versions", "\(file) \(name)"))
        let nullable = try VersionRange(parsing: (f["nullableVersions"] as? String) ?? "none")
        var tagged = try VersionRange(parsing: (f["taggedVersions"] as? String) ?? "none")
        let tag = (f["tag"] as? NSNumber).map { UInt32(truncating: $0) }
        if tag != nil && tagged.isEmpty { tagged = versions }
        let flexible = try (f["flexibleVersions"] as? String).map { try VersionRange(parsing: $0) }
        var defaultText: String?
        if let d = f["default"] {
            if let s = d as? String {
                defaultText = s
            } else if let n = d as? NSNumber {
                defaultText = type == .bool ? (n.boolValue ? "true" : "false") : n.stringValue
            }
        }
        var fields: [FieldSpec]?
        if f["fields"] != nil { fields = try parseFields(f["fields"], file) }
        return FieldSpec(
            name: name, type: type, typeText: typeText, about: f["about"] as? String, versions: versions,
            nullableVersions: nullable, taggedVersions: tagged, tag: tag, flexibleVersions: flexible,
            defaultValue: defaultText, ignorable: (f["ignorable"] as? Bool) ?? false,
            mapKey: (f["mapKey"] as? Bool) ?? false, entityType: f["entityType"] as? String,
            zeroCopy: (f["zeroCopy"] as? Bool) ?? false, fields: fields)
    }

    /// Collects nested structs depth first, computing each one's version context.
    private static func collectStructs(_ spec: MessageSpec) throws -> [StructSpec] {
        var result: [StructSpec] = []
        var seen: Set<String> = []
        let commonNames = Set(spec.commonStructs.map(\.name))
        func visit(_ fields: [FieldSpec], context: VersionRange) throws {
            for field in fields {
                guard let structName = field.type.structName else { continue }
                let fieldContext = field.versions.intersection(context)
                if let inline = field.fields {
                    guard !seen.contains(structName) else {
                        throw CodegenError.invalidSchema("\(spec.fileName): struct \(structName) defined twice")
                    }
                    seen.insert(structName)
                    result.append(StructSpec(name: structName, about: field.about, fields: inline, context: fieldContext, isCommon: false))
                    try visit(inline, context: fieldContext)
                } else if commonNames.contains(structName) {
                    if !seen.contains(structName), let common = spec.commonStructs.first(where: { $0.name == structName }) {
                        seen.insert(structName)
                        result.append(common)
                        try visit(common.fields, context: common.context)
                    }
                } else {
                    throw CodegenError.invalidSchema("\(spec.fileName): unknown struct type \(structName)")
                }
            }
        }
        try visit(spec.fields, context: spec.validVersions)
        // Common structs that no field reaches still get generated, for completeness.
        for common in spec.commonStructs where !seen.contains(common.name) {
            seen.insert(common.name)
            result.append(common)
            try visit(common.fields, context: common.context)
        }
        return result
    }
}

/// Loads every `*.json` schema of a directory, sorted by file name.
public func loadSchemas(directory: URL) throws -> [MessageSpec] {
    let names: [String]
    do {
        names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
    } catch {
        throw CodegenError.io("cannot list \(directory.path): \(error)")
    }
    var specs: [MessageSpec] = []
    for name in names.sorted() where name.hasSuffix(".json") {
        let url = directory.appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: url.path) else { throw CodegenError.io("cannot read \(url.path)") }
        specs.append(try SchemaParser.parse(fileName: name, text: String(decoding: data, as: UTF8.self)))
    }
    return specs
}
