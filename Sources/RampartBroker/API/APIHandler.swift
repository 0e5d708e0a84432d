import KafkaProtocol
import NIOCore
// `KafkaPrincipal` (and the ACL model) live in RampartAuthorizer; everything that imports the broker sees them.
@_exported import RampartAuthorizer

/// What a handler knows about the request it serves.
public struct RequestContext: Sendable {
    public var apiKey: KafkaApiKey
    public var apiVersion: Int16
    public var correlationId: Int32
    public var clientId: String?
    public var principal: KafkaPrincipal
    /// The client's address (IP, without port).
    public var clientHost: String
    public var listenerName: String
    /// Set by a connection that pipelines requests: the handler calls `release()` once the request's
    /// order-sensitive work is done (Produce: its batches are written), so the connection may start
    /// the next Produce while this one waits for its fsync. Answers still leave in request order.
    public var ordering: RequestOrdering?

    public init(apiKey: KafkaApiKey, apiVersion: Int16, correlationId: Int32, clientId: String?,
                principal: KafkaPrincipal, clientHost: String, listenerName: String) {
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.correlationId = correlationId
        self.clientId = clientId
        self.principal = principal
        self.clientHost = clientHost
        self.listenerName = listenerName
    }
}

/// See `RequestContext.ordering`. Releasing more than once, or never (the request's completion
/// releases it), is allowed.
public final class RequestOrdering: Sendable {
    private let onRelease: @Sendable () -> Void

    /// `onRelease` may run on any thread and more than once.
    public init(_ onRelease: @escaping @Sendable () -> Void) {
        self.onRelease = onRelease
    }

    /// Tells the connection that the next request may start.
    public func release() { onRelease() }
}

/// One Kafka API served by the broker (one file per API key). `supportedVersions` is what ApiVersions
/// advertises; a request at a version outside it is answered with `errorResponse(_, .unsupportedVersion)`.
public protocol KafkaAPIHandler: Sendable {
    associatedtype Request: KafkaRequestMessage

    /// Versions served (a subrange of the schema's valid versions).
    var supportedVersions: ClosedRange<Int16> { get }

    /// Serves a request. Returns nil when no response is sent (Produce with acks=0).
    func handle(_ request: Request, context: RequestContext) async -> Request.Response?

    /// A response carrying `error` for everything the request names, used for unsupported versions
    /// and failures outside the handler.
    func errorResponse(_ request: Request, _ error: KafkaErrorCode) -> Request.Response
}

extension KafkaAPIHandler {
    public var apiKey: KafkaApiKey { Request.apiKey }
}

/// A type-erased handler in the registry.
public struct AnyKafkaAPIHandler: Sendable {
    public let apiKey: KafkaApiKey
    public let supportedVersions: ClosedRange<Int16>
    private let serve: @Sendable (any KafkaRequestMessage, RequestContext) async -> (any KafkaResponseMessage)?
    private let fail: @Sendable (any KafkaRequestMessage, KafkaErrorCode) -> any KafkaResponseMessage
    private let accepts: @Sendable (any KafkaRequestMessage) -> Bool

    public init<H: KafkaAPIHandler>(_ handler: H) {
        self.apiKey = H.Request.apiKey
        self.supportedVersions = handler.supportedVersions
        self.accepts = { $0 is H.Request }
        // The dispatcher checks `canHandle` first, so these casts hold.
        self.serve = { request, context in await handler.handle(request as! H.Request, context: context) }
        self.fail = { request, error in handler.errorResponse(request as! H.Request, error) }
    }

    /// Whether `request` is of this handler's request type (the decoder chose it by the same API key).
    public func canHandle(_ request: any KafkaRequestMessage) -> Bool { accepts(request) }

    public func handle(_ request: any KafkaRequestMessage, context: RequestContext) async -> (any KafkaResponseMessage)? {
        await serve(request, context)
    }

    public func errorResponse(_ request: any KafkaRequestMessage, _ error: KafkaErrorCode) -> any KafkaResponseMessage {
        fail(request, error)
    }
}

/// The broker's handlers by API key; the source of the ApiVersions answer.
public struct KafkaAPIRegistry: Sendable {
    public private(set) var handlers: [KafkaApiKey: AnyKafkaAPIHandler] = [:]

    public init() {}

    public mutating func register<H: KafkaAPIHandler>(_ handler: H) {
        precondition(H.Request.validVersions.contains(handler.supportedVersions.lowerBound)
                     && H.Request.validVersions.contains(handler.supportedVersions.upperBound),
                     "\(H.Request.apiKey.name) supports versions outside its schema")
        handlers[H.Request.apiKey] = AnyKafkaAPIHandler(handler)
    }

    public subscript(key: KafkaApiKey) -> AnyKafkaAPIHandler? { handlers[key] }

    /// The ApiVersions entries, sorted by key.
    public var apiVersions: [ApiVersionsResponse.ApiVersion] {
        handlers.values.sorted { $0.apiKey.rawValue < $1.apiKey.rawValue }.map {
            ApiVersionsResponse.ApiVersion(apiKey: $0.apiKey.rawValue, minVersion: $0.supportedVersions.lowerBound,
                                           maxVersion: $0.supportedVersions.upperBound)
        }
    }
}
