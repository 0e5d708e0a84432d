/// An error raised while decoding or encoding Kafka wire data.
///
/// Decoding errors never carry the offending bytes (they may hold secrets); they name what was wrong
/// and where.
public struct KafkaProtocolError: Error, Hashable, CustomStringConvertible, Sendable {
    private enum Base: Hashable, Sendable {
        case truncated
        case invalidLength
        case invalidValue
        case unsupportedVersion
        case fieldNotSupportedAtVersion
        case unsupportedMagic
        case corruptRecord
        case compression
        case trailingBytes
    }

    private let base: Base
    /// A human-readable explanation naming the field or structure concerned.
    public let message: String

    private init(_ base: Base, _ message: String) {
        self.base = base
        self.message = message
    }

    public var description: String { message }

    /// Fewer bytes remained than the field needs.
    public static func truncated(_ what: String) -> Self { .init(.truncated, "truncated input reading \(what)") }
    /// A length or count prefix was negative (other than the null marker) or larger than the input.
    public static func invalidLength(_ what: String, _ length: Int) -> Self {
        .init(.invalidLength, "invalid length \(length) for \(what)")
    }
    /// A value outside its domain (a malformed varint, invalid UTF-8, a null in a non-nullable field).
    public static func invalidValue(_ what: String) -> Self { .init(.invalidValue, "invalid value: \(what)") }
    /// The API version is outside the message's valid versions.
    public static func unsupportedVersion(_ message: String, _ version: Int16) -> Self {
        .init(.unsupportedVersion, "\(message) does not support version \(version)")
    }
    /// Writing a field with a non-default value at a version that lacks it, and the field is not ignorable.
    public static func fieldNotSupportedAtVersion(_ field: String, _ version: Int16) -> Self {
        .init(.fieldNotSupportedAtVersion, "field \(field) has a non-default value but does not exist at version \(version)")
    }
    /// A record set with a magic byte other than 2 (message set v0/v1).
    public static func unsupportedMagic(_ magic: Int8) -> Self {
        .init(.unsupportedMagic, "unsupported record batch magic \(magic) (only v2 record batches are accepted)")
    }
    /// A record batch whose CRC or structure is inconsistent.
    public static func corruptRecord(_ what: String) -> Self { .init(.corruptRecord, "corrupt record batch: \(what)") }
    /// A compression codec failed or is unknown.
    public static func compression(_ what: String) -> Self { .init(.compression, "compression: \(what)") }
    /// A message decoded completely but bytes remained after it.
    public static func trailingBytes(_ what: String, _ count: Int) -> Self {
        .init(.trailingBytes, "\(count) unexpected trailing bytes after \(what)")
    }

    /// Whether two errors are of the same kind, ignoring the message.
    public func isSameKind(as other: KafkaProtocolError) -> Bool { base == other.base }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.base == rhs.base && lhs.message == rhs.message }
    public func hash(into hasher: inout Hasher) { hasher.combine(base); hasher.combine(message) }
}
