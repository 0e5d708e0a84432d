/// A password in memory: its UTF-8 bytes, never printed. `description`, `debugDescription` and
/// `dump` show `<redacted>`, so a password that reaches a log line or an error message by accident
/// says nothing.
public struct SASLPassword: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The UTF-8 bytes (Kafka and Cyrus use the bytes as given, without SASLprep).
    public let bytes: [UInt8]

    public init(_ password: String) { self.bytes = Array(password.utf8) }
    public init(bytes: [UInt8]) { self.bytes = bytes }

    public var isEmpty: Bool { bytes.isEmpty }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
