import NIOCore

/// A Kafka message generated from one of Apache Kafka's JSON schemas: a request or response body, a
/// protocol header, or a data structure (consumer protocol subscription, principal data, …).
///
/// Every field has a schema default; `init()` gives all defaults. Encoding skips the fields a version
/// lacks; a skipped field holding a non-default value is an error
/// (`KafkaProtocolError.fieldNotSupportedAtVersion`) unless the schema marks it ignorable, in which case
/// it is dropped. Decoding leaves absent fields at their defaults.
public protocol KafkaMessage: Sendable, Equatable {
    /// The schema's `name` (`ProduceRequest`).
    static var messageName: String { get }
    /// The versions this message has.
    static var validVersions: ClosedRange<Int16> { get }
    /// The versions using compact encodings and tagged fields (KIP-482), or nil.
    static var flexibleVersions: ClosedRange<Int16>? { get }
    /// Paths of the fields naming entities (the schemas' `entityType`), from the message root.
    static var entityFields: [KafkaEntityField] { get }

    /// A message with every field at its schema default.
    init()

    /// Decodes the message at `version`, consuming exactly its bytes.
    ///
    /// Throws `KafkaProtocolError.unsupportedVersion` for a version outside `validVersions`. Bytes after
    /// the message stay in `buffer` (check `readableBytes` when the message should end the buffer).
    /// `bytes` and `records` fields are slices of `buffer`'s storage, not copies.
    init(from buffer: inout ByteBuffer, version: Int16) throws

    /// Appends the message encoded at `version`.
    func encode(to buffer: inout ByteBuffer, version: Int16) throws
}

extension KafkaMessage {
    public static var entityFields: [KafkaEntityField] { [] }

    /// Whether `version` uses the flexible (compact, tagged-field) encoding.
    public static func isFlexible(version: Int16) -> Bool {
        flexibleVersions?.contains(version) ?? false
    }
}

/// A request body.
public protocol KafkaRequestMessage: KafkaMessage {
    associatedtype Response: KafkaResponseMessage
    static var apiKey: KafkaApiKey { get }
}

/// A response body.
public protocol KafkaResponseMessage: KafkaMessage {
    static var apiKey: KafkaApiKey { get }
}

/// A field that names an entity, for the authorizer: where it is and at which versions it exists.
public struct KafkaEntityField: Sendable, Hashable {
    /// Property names from the message root to the field. Array-valued steps apply to every element:
    /// `["topicData", "name"]` is the `name` of each element of `topicData`.
    public let path: [String]
    /// What the field names.
    public let entityType: KafkaEntityType
    /// The message versions at which the field exists.
    public let versions: ClosedRange<Int16>

    public init(path: [String], entityType: KafkaEntityType, versions: ClosedRange<Int16>) {
        self.path = path
        self.entityType = entityType
        self.versions = versions
    }
}

/// A generated struct (a message or one of its nested structs) that can be read and written inside
/// an enclosing message. Version checks belong to the top-level message.
protocol KafkaStruct: Sendable, Equatable {
    init()
    mutating func read(from buffer: inout ByteBuffer, version: Int16) throws
    func write(to buffer: inout ByteBuffer, version: Int16) throws
}

extension KafkaApiKey {
    /// The request header version for `apiVersion` of this API: 2 for flexible request versions, 1
    /// otherwise, and 0 for ControlledShutdown v0 (the only user of header v0).
    public func requestHeaderVersion(apiVersion: Int16) -> Int16 {
        if self == .controlledShutdown && apiVersion == 0 { return 0 }
        return requestType.isFlexible(version: apiVersion) ? 2 : 1
    }

    /// The response header version for `apiVersion` of this API: 1 for flexible response versions, 0
    /// otherwise. ApiVersions responses always use header v0, so a client that does not yet know the
    /// broker's versions can read them.
    public func responseHeaderVersion(apiVersion: Int16) -> Int16 {
        if self == .apiVersions { return 0 }
        return responseType.isFlexible(version: apiVersion) ? 1 : 0
    }
}
