import KafkaProtocol

/// An error from the Kafka client: what went wrong, in one line that names the broker, API, topic or
/// setting involved.
///
/// Broker answers carrying a Kafka error code keep it in `code` (`KafkaErrorCode.name` gives Kafka's
/// name, e.g. `TOPIC_ALREADY_EXISTS`), so callers can match on it.
public struct KafkaClientError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case configuration, connection, authentication, timeout, broker, unsupportedVersion, malformedResponse, closed, invalidArgument
    }

    private let base: Base
    /// A one-line explanation naming what was wrong.
    public let message: String
    /// The Kafka error code the broker answered with, for `broker` errors.
    public let code: KafkaErrorCode?

    private init(_ base: Base, _ message: String, code: KafkaErrorCode? = nil) {
        self.base = base
        self.message = message
        self.code = code
    }

    public var description: String { message }

    /// A client setting or properties file entry is wrong.
    public static func configuration(_ message: String) -> Self { .init(.configuration, message) }
    /// A connection could not be made or broke.
    public static func connection(_ message: String) -> Self { .init(.connection, message) }
    /// SASL authentication failed: the broker refused the mechanism or the credentials
    /// (`code` is UNSUPPORTED_SASL_MECHANISM, SASL_AUTHENTICATION_FAILED, ILLEGAL_SASL_STATE, …, and
    /// `message` carries the broker's own text), or the broker failed to prove it knows the
    /// credential. Never contains the password.
    public static func authentication(_ message: String, code: KafkaErrorCode? = nil) -> Self {
        .init(.authentication, message, code: code)
    }
    /// A request got no answer within its timeout.
    public static func timeout(_ message: String) -> Self { .init(.timeout, message) }
    /// The broker answered with a Kafka error code; `context` says for what (`create topic "a"`).
    public static func broker(_ code: KafkaErrorCode, _ context: String, detail: String? = nil) -> Self {
        let suffix = detail.flatMap { $0.isEmpty ? nil : ": \($0)" } ?? ""
        return .init(.broker, "\(context): \(code.name)\(suffix)", code: code)
    }
    /// No version of an API is supported by both the broker and this client.
    public static func unsupportedVersion(_ message: String) -> Self { .init(.unsupportedVersion, message) }
    /// The broker's answer could not be decoded or does not match the request.
    public static func malformedResponse(_ message: String) -> Self { .init(.malformedResponse, message) }
    /// The connection or client was closed while the request was outstanding.
    public static func closed(_ message: String) -> Self { .init(.closed, message) }
    /// An argument given to the client is invalid (a negative partition count, an unknown partition).
    public static func invalidArgument(_ message: String) -> Self { .init(.invalidArgument, message) }

    /// Whether this error is of the same kind as `other` (ignoring the message).
    public func isSameKind(as other: KafkaClientError) -> Bool { base == other.base }

    /// Whether the error is a timeout.
    public var isTimeout: Bool { base == .timeout }
    /// Whether the error is a failed SASL authentication (retrying with the same settings will not help).
    public var isAuthenticationFailure: Bool { base == .authentication }
    /// Whether the error is a connection failure or close.
    public var isConnectionFailure: Bool { base == .connection || base == .closed }

    /// Throws a `broker` error unless `raw` is NONE (0).
    static func check(_ raw: Int16, _ context: @autoclosure () -> String, detail: String? = nil) throws {
        guard raw != 0 else { return }
        throw KafkaClientError.broker(KafkaErrorCode(raw), context(), detail: detail)
    }
}
