import Foundation

/// Emits the `read(from:version:)` and `write(to:version:)` bodies of one struct.
struct WireCode {
    let structName: String
    let fields: [FieldModel]
    let context: VersionRange
    let messageFlexible: VersionRange
    /// The message's Swift type name, to qualify nested struct names.
    let messageType: String

    /// The condition under which the struct ends with a tagged-field section.
    var flexibleCondition: String { messageFlexible.condition(in: context) }

    /// The versions at which the tagged-field section exists; tagged-field conditions are relative to it.
    var taggedContext: VersionRange { messageFlexible.intersection(context) }

    // MARK: Reading

    func emitRead(_ w: inout SourceWriter) throws {
        w.open("mutating func read(from buffer: inout ByteBuffer, version: Int16) throws")
        for field in fields where !field.untagged.isEmpty {
            let cond = field.untagged.condition(in: context)
            let compact = field.flexible.condition(in: field.untagged)
            let nullable = field.spec.nullableVersions.condition(in: field.untagged)
            let stmt = readStatement(field, buffer: "buffer", compact: compact, nullable: nullable)
            if cond == "true" {
                w.line(stmt)
            } else {
                w.open("if \(cond)")
                w.line(stmt)
                w.close()
            }
        }
        let flex = flexibleCondition
        if flex != "false" {
            if flex != "true" { w.open("if \(flex)") }
            let taggedFields = fields.filter { !$0.tagged.isEmpty }.sorted { $0.spec.tag! < $1.spec.tag! }
            if taggedFields.isEmpty {
                w.line("try buffer.readKafkaTaggedFields(\(SwiftNames.stringLiteral(structName))) { _, _ in false }")
            } else {
                w.openRaw("try buffer.readKafkaTaggedFields(\(SwiftNames.stringLiteral(structName))) { tag, payload in")
                w.line("switch tag {")
                for field in taggedFields {
                    let cond = field.tagged.condition(in: taggedContext)
                    let nullable = field.spec.nullableVersions.condition(in: field.tagged)
                    w.line("case \(field.spec.tag!)\(cond == "true" ? "" : " where \(cond)"):")
                    w.indent()
                    w.line(readStatement(field, buffer: "payload", compact: "true", nullable: nullable))
                    w.line("return true")
                    w.dedent()
                }
                w.line("default:")
                w.line("    return false")
                w.line("}")
                w.close()
            }
            if flex != "true" { w.close() }
        }
        w.close()
    }

    /// A statement that reads `field` from `buffer` into `self`.
    func readStatement(_ field: FieldModel, buffer: String, compact: String, nullable: String) -> String {
        let target = "self.\(field.name)"
        let what = field.what
        switch field.spec.type {
        case .structure:
            if field.isOptional {
                return "\(target) = try \(buffer).readKafkaNullableStruct(\(what), nullable: \(nullable), version: version)"
            }
            return "try \(target).read(from: &\(buffer), version: version)"
        case .array(let element):
            if element.structName != nil {
                if field.isOptional {
                    return "\(target) = try \(buffer).readKafkaNullableStructArray(\(what), compact: \(compact), nullable: \(nullable), version: version)"
                }
                return "\(target) = try \(buffer).readKafkaStructArray(\(what), compact: \(compact), version: version)"
            }
            let elementRead = Self.scalarRead(element, buffer: "$0", compact: compact, what: what)
            if field.isOptional {
                return "\(target) = try \(buffer).readKafkaNullableArray(\(what), compact: \(compact), nullable: \(nullable)) { \(elementRead) }"
            }
            return "\(target) = try \(buffer).readKafkaArray(\(what), compact: \(compact)) { \(elementRead) }"
        case .string:
            if field.isOptional {
                return "\(target) = try \(buffer).readKafkaNullableString(\(what), compact: \(compact), nullable: \(nullable))"
            }
            return "\(target) = \(Self.scalarRead(field.spec.type, buffer: buffer, compact: compact, what: what))"
        case .bytes, .records:
            if field.isOptional {
                return "\(target) = try \(buffer).readKafkaNullableBytes(\(what), compact: \(compact), nullable: \(nullable))"
            }
            return "\(target) = \(Self.scalarRead(field.spec.type, buffer: buffer, compact: compact, what: what))"
        default:
            return "\(target) = \(Self.scalarRead(field.spec.type, buffer: buffer, compact: compact, what: what))"
        }
    }

    /// An expression reading one non-null scalar.
    static func scalarRead(_ type: FieldType, buffer: String, compact: String, what: String) -> String {
        switch type {
        case .int8: return "try \(buffer).readKafkaInt8(\(what))"
        case .int16: return "try \(buffer).readKafkaInt16(\(what))"
        case .int32: return "try \(buffer).readKafkaInt32(\(what))"
        case .int64: return "try \(buffer).readKafkaInt64(\(what))"
        case .uint16: return "try \(buffer).readKafkaUInt16(\(what))"
        case .uint32: return "try \(buffer).readKafkaUInt32(\(what))"
        case .float64: return "try \(buffer).readKafkaFloat64(\(what))"
        case .bool: return "try \(buffer).readKafkaBool(\(what))"
        case .uuid: return "try \(buffer).readKafkaUUID(\(what))"
        case .string: return "try \(buffer).readKafkaString(\(what), compact: \(compact))"
        case .bytes, .records: return "try \(buffer).readKafkaBytes(\(what), compact: \(compact))"
        case .array, .structure: fatalError("not a scalar: \(type)")
        }
    }

    // MARK: Writing

    func emitWrite(_ w: inout SourceWriter) throws {
        w.open("func write(to buffer: inout ByteBuffer, version: Int16) throws")
        for field in fields {
            let defaultValue = try field.defaultExpression(qualifier: messageType)
            let absentCheck = "self.\(field.name) != \(defaultValue)"
            let throwAbsent = "throw KafkaProtocolError.fieldNotSupportedAtVersion(\(field.what), version)"
            if field.tagged.isEmpty && field.untagged.isEmpty {
                // Never written in this struct's versions.
                if !field.spec.ignorable {
                    w.open("if \(absentCheck)")
                    w.line(throwAbsent)
                    w.close()
                }
                continue
            }
            if !field.tagged.isEmpty {
                // Written in the tagged section; only the "absent" rule applies here.
                let absent = field.present.condition(in: context)
                if absent != "true" && !field.spec.ignorable {
                    w.open("if !(\(absent)) && \(absentCheck)")
                    w.line(throwAbsent)
                    w.close()
                }
                if field.untagged.isEmpty { continue }
            }
            let cond = field.untagged.condition(in: context)
            let compact = field.flexible.condition(in: field.untagged)
            let nullable = field.spec.nullableVersions.condition(in: field.untagged)
            let stmt = writeStatement(field, buffer: "buffer", compact: compact, nullable: nullable)
            if cond == "true" {
                w.line(stmt)
            } else if field.spec.ignorable || !field.tagged.isEmpty {
                w.open("if \(cond)")
                w.line(stmt)
                w.close()
            } else {
                w.open("if \(cond)")
                w.line(stmt)
                w.reopen("else if \(absentCheck)")
                w.line(throwAbsent)
                w.close()
            }
        }
        let flex = flexibleCondition
        if flex != "false" {
            if flex != "true" { w.open("if \(flex)") }
            let taggedFields = fields.filter { !$0.tagged.isEmpty }.sorted { $0.spec.tag! < $1.spec.tag! }
            if taggedFields.isEmpty {
                w.line("buffer.writeKafkaUnsignedVarint(0)")
            } else {
                var conditions: [String] = []
                for field in taggedFields {
                    let cond = field.tagged.condition(in: taggedContext)
                    let differs = "self.\(field.name) != \(try field.defaultExpression(qualifier: messageType))"
                    conditions.append(cond == "true" ? differs : "\(cond) && \(differs)")
                }
                w.line("var taggedFieldCount: UInt32 = 0")
                for cond in conditions {
                    w.line("if \(cond) { taggedFieldCount += 1 }")
                }
                w.line("buffer.writeKafkaUnsignedVarint(taggedFieldCount)")
                for (field, cond) in zip(taggedFields, conditions) {
                    let nullable = field.spec.nullableVersions.condition(in: field.tagged)
                    w.open("if \(cond)")
                    w.openRaw("try buffer.writeKafkaTaggedField(\(field.spec.tag!)) { tagged in")
                    w.line(writeStatement(field, buffer: "tagged", compact: "true", nullable: nullable))
                    w.close()
                    w.close()
                }
            }
            if flex != "true" { w.close() }
        }
        w.close()
    }

    func writeStatement(_ field: FieldModel, buffer: String, compact: String, nullable: String) -> String {
        let value = "self.\(field.name)"
        let what = field.what
        switch field.spec.type {
        case .structure:
            if field.isOptional {
                return "try \(buffer).writeKafkaNullableStruct(\(value), nullable: \(nullable), version: version, \(what))"
            }
            return "try \(value).write(to: &\(buffer), version: version)"
        case .array(let element):
            if element.structName != nil {
                if field.isOptional {
                    return "try \(buffer).writeKafkaNullableStructArray(\(value), compact: \(compact), nullable: \(nullable), version: version, \(what))"
                }
                return "try \(buffer).writeKafkaStructArray(\(value), compact: \(compact), version: version)"
            }
            let elementWrite = Self.scalarWrite(element, buffer: "$0", value: "$1", compact: compact)
            if field.isOptional {
                return "try \(buffer).writeKafkaNullableArray(\(value), compact: \(compact), nullable: \(nullable), \(what)) { \(elementWrite) }"
            }
            return "try \(buffer).writeKafkaArray(\(value), compact: \(compact)) { \(elementWrite) }"
        case .string:
            if field.isOptional {
                return "try \(buffer).writeKafkaNullableString(\(value), compact: \(compact), nullable: \(nullable), \(what))"
            }
            return Self.scalarWrite(field.spec.type, buffer: buffer, value: value, compact: compact)
        case .bytes, .records:
            if field.isOptional {
                return "try \(buffer).writeKafkaNullableBytes(\(value), compact: \(compact), nullable: \(nullable), \(what))"
            }
            return Self.scalarWrite(field.spec.type, buffer: buffer, value: value, compact: compact)
        default:
            return Self.scalarWrite(field.spec.type, buffer: buffer, value: value, compact: compact)
        }
    }

    static func scalarWrite(_ type: FieldType, buffer: String, value: String, compact: String) -> String {
        switch type {
        case .int8: return "\(buffer).writeKafkaInt8(\(value))"
        case .int16: return "\(buffer).writeKafkaInt16(\(value))"
        case .int32: return "\(buffer).writeKafkaInt32(\(value))"
        case .int64: return "\(buffer).writeKafkaInt64(\(value))"
        case .uint16: return "\(buffer).writeKafkaUInt16(\(value))"
        case .uint32: return "\(buffer).writeKafkaUInt32(\(value))"
        case .float64: return "\(buffer).writeKafkaFloat64(\(value))"
        case .bool: return "\(buffer).writeKafkaBool(\(value))"
        case .uuid: return "\(buffer).writeKafkaUUID(\(value))"
        case .string: return "try \(buffer).writeKafkaString(\(value), compact: \(compact))"
        case .bytes, .records: return "\(buffer).writeKafkaBytes(\(value), compact: \(compact))"
        case .array, .structure: fatalError("not a scalar: \(type)")
        }
    }
}
