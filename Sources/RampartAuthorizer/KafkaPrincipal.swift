/// A Kafka principal, `<type>:<name>` — `User:alice`, `User:CN=alice,O=Example`, `User:ANONYMOUS`.
/// ACLs name principals the same way; `User:*` in an ACL matches every principal.
public struct KafkaPrincipal: Hashable, Sendable, CustomStringConvertible {
    public var type: String
    public var name: String

    public init(type: String = "User", name: String) {
        self.type = type
        self.name = name
    }

    /// Kafka's principal type for users (the only type Rampart's authenticators produce).
    public static let userType = "User"

    /// The principal of a client that has not authenticated (an SSL listener without a client
    /// certificate, a PLAINTEXT listener).
    public static let anonymous = KafkaPrincipal(name: "ANONYMOUS")

    /// `User:*`: in an ACL, every principal.
    public static let wildcard = KafkaPrincipal(name: "*")

    /// Whether this is `User:*`.
    public var isWildcard: Bool { name == "*" && type == Self.userType }

    /// Parses `<type>:<name>` as Kafka does: split at the first `:`, both parts non-empty.
    public init(parsing text: String) throws(AclValidationError) {
        guard let colon = text.firstIndex(of: ":") else {
            throw AclValidationError("principal '\(text)' is not of the form Type:name (e.g. User:alice)")
        }
        let type = String(text[..<colon])
        let name = String(text[text.index(after: colon)...])
        guard !type.isEmpty else { throw AclValidationError("principal '\(text)' has no type before ':' (e.g. User:alice)") }
        guard !name.isEmpty else { throw AclValidationError("principal '\(text)' has no name after ':'") }
        self.init(type: type, name: name)
    }

    public var description: String { "\(type):\(name)" }
}

/// Why an ACL, a principal or an authorizer setting is invalid (the message names the value).
public struct AclValidationError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
