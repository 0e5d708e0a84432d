import Foundation

/// A field resolved against its struct: Swift names and types, defaults, and the version conditions the
/// emitted code tests.
struct FieldModel {
    let spec: FieldSpec
    /// The struct that holds the field (for diagnostics: `"ProduceRequest.TopicData"`).
    let owner: String
    /// The versions at which the owning struct is written.
    let context: VersionRange
    /// The versions at which the field is written inline (not as a tagged field), within `context`.
    let untagged: VersionRange
    /// The versions at which the field is a tagged field, within `context`.
    let tagged: VersionRange
    /// The versions at which strings, bytes and arrays of this field use compact encoding.
    let flexible: VersionRange

    init(spec: FieldSpec, owner: String, context: VersionRange, messageFlexible: VersionRange) throws {
        self.spec = spec
        self.owner = owner
        self.context = context
        let present = spec.versions.intersection(context)
        let tagged = spec.tag == nil ? VersionRange.none : spec.taggedVersions.intersection(present)
        self.tagged = tagged
        if tagged.isEmpty {
            self.untagged = present
        } else if tagged.covers(present) {
            self.untagged = .none
        } else if let p = present.bounds, let t = tagged.bounds, t.upperBound == p.upperBound {
            self.untagged = VersionRange(p.lowerBound, t.lowerBound - 1)
        } else {
            throw CodegenError.invalidSchema("\(owner).\(spec.name): tagged versions must be a suffix of versions")
        }
        if !tagged.isEmpty && !messageFlexible.covers(tagged) {
            throw CodegenError.invalidSchema("\(owner).\(spec.name): tagged at non-flexible versions")
        }
        self.flexible = (spec.flexibleVersions ?? messageFlexible).intersection(context)
    }

    var present: VersionRange { spec.versions.intersection(context) }
    var name: String { SwiftNames.identifier(spec.name) }
    var label: String { SwiftNames.lowerCamel(spec.name) }
    var what: String { SwiftNames.stringLiteral("\(owner).\(spec.name)") }

    /// Whether the Swift property is optional.
    var isOptional: Bool {
        if spec.type == .records { return true }
        return spec.hasNullableVersions
    }

    static func baseType(_ type: FieldType) -> String {
        switch type {
        case .int8: return "Int8"
        case .int16: return "Int16"
        case .int32: return "Int32"
        case .int64: return "Int64"
        case .uint16: return "UInt16"
        case .uint32: return "UInt32"
        case .float64: return "Double"
        case .bool: return "Bool"
        case .string: return "String"
        case .bytes, .records: return "ByteBuffer"
        case .uuid: return "KafkaUUID"
        case .array(let element): return "[\(baseType(element))]"
        case .structure(let name): return SwiftNames.typeName(name)
        }
    }

    /// The property type, with nested struct names unqualified (valid inside the message's scope).
    var swiftType: String { Self.baseType(spec.type) + (isOptional ? "?" : "") }

    /// The property type, with nested struct names qualified by `message`.
    func qualifiedType(in message: String) -> String {
        Self.qualified(spec.type, message) + (isOptional ? "?" : "")
    }

    static func qualified(_ type: FieldType, _ message: String) -> String {
        switch type {
        case .array(let element): return "[\(qualified(element, message))]"
        case .structure(let name): return "\(message).\(SwiftNames.typeName(name))"
        default: return baseType(type)
        }
    }

    /// The schema default as a Swift expression (assumes the unqualified nested type names are visible).
    func defaultExpression(qualifier: String? = nil) throws -> String {
        let d = spec.defaultValue
        if d == "null" {
            guard isOptional else {
                throw CodegenError.invalidSchema("\(owner).\(spec.name): default null on a non-nullable field")
            }
            return "nil"
        }
        switch spec.type {
        case .int8, .int16, .int32, .int64, .uint16, .uint32:
            guard let d, !d.isEmpty else { return "0" }
            return try Self.integerLiteral(d, field: "\(owner).\(spec.name)")
        case .float64:
            guard let d, !d.isEmpty else { return "0" }
            guard let v = Double(d) else { throw CodegenError.invalidSchema("\(owner).\(spec.name): bad default \(d)") }
            return "\(v)"
        case .bool:
            guard let d, !d.isEmpty else { return "false" }
            switch d.lowercased() {
            case "true": return "true"
            case "false": return "false"
            default: throw CodegenError.invalidSchema("\(owner).\(spec.name): bad default \(d)")
            }
        case .string:
            return SwiftNames.stringLiteral(d ?? "")
        case .bytes:
            return "ByteBuffer()"
        case .records:
            return "nil"
        case .uuid:
            guard d == nil || d == "" || d == "AAAAAAAAAAAAAAAAAAAAAA" else {
                throw CodegenError.invalidSchema("\(owner).\(spec.name): unsupported uuid default \(d ?? "")")
            }
            return "KafkaUUID.zero"
        case .array:
            return "[]"
        case .structure(let name):
            return "\(qualifier.map { "\($0)." } ?? "")\(SwiftNames.typeName(name))()"
        }
    }

    static func integerLiteral(_ text: String, field: String) throws -> String {
        var s = text.trimmingCharacters(in: .whitespaces)
        var negative = false
        if s.hasPrefix("-") { negative = true; s.removeFirst() }
        let value: Int64?
        if s.lowercased().hasPrefix("0x") {
            value = Int64(s.dropFirst(2), radix: 16)
        } else {
            value = Int64(s)
        }
        guard let value else { throw CodegenError.invalidSchema("\(field): bad integer default \(text)") }
        return negative ? "-\(value)" : "\(value)"
    }

    /// A one-line summary of the schema facts for the doc comment.
    var schemaSummary: String {
        var parts = ["Versions \(spec.versions)"]
        if spec.hasNullableVersions { parts.append("nullable \(spec.nullableVersions)") }
        if let tag = spec.tag { parts.append("tagged (tag \(tag)) \(spec.taggedVersions)") }
        if spec.ignorable { parts.append("ignorable") }
        if spec.mapKey { parts.append("map key") }
        if let e = spec.entityType { parts.append("entity type `\(e)`") }
        if let d = spec.defaultValue { parts.append("default `\(d)`") }
        if spec.zeroCopy || spec.type == .records { parts.append("zero-copy slice") }
        return parts.joined(separator: "; ") + "."
    }
}
