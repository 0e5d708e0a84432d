import KafkaProtocol
import Logging
import NIOCore

/// Who is on the other end of a connection.
public struct ConnectionInfo: Sendable {
    public var listenerName: String
    public var clientHost: String
    public var principal: KafkaPrincipal

    public init(listenerName: String, clientHost: String, principal: KafkaPrincipal) {
        self.listenerName = listenerName
        self.clientHost = clientHost
        self.principal = principal
    }
}

/// What the connection does with one request frame.
public enum DispatchOutcome: Sendable {
    /// Write this response frame body (the frame encoder adds the size).
    case respond(ByteBuffer)
    /// Write these buffers, in order, as one response frame body (a Fetch answer whose record batches
    /// are not copied into one buffer).
    case respondSegments([ByteBuffer])
    /// Nothing to write (Produce with acks=0).
    case noResponse
    /// Close the connection; `reason` is logged.
    case close(reason: String)
}

/// Decodes request frames, routes them to their handler, and encodes the answers.
public struct RequestDispatcher: Sendable {
    public let registry: KafkaAPIRegistry
    private let logger: Logger

    public init(registry: KafkaAPIRegistry, logger: Logger) {
        self.registry = registry
        self.logger = logger
    }

    /// Decodes, routes and answers one request frame; counts it in `rampart_requests_total` and times
    /// it in `rampart_request_duration_seconds`.
    ///
    /// `ordering` is handed to the handler (see `RequestContext.ordering`). With `segmented`, a Fetch
    /// answer may come back as `respondSegments`, its record batches not copied.
    public func dispatch(frame: ByteBuffer, connection: ConnectionInfo, ordering: RequestOrdering? = nil,
                         segmented: Bool = false) async -> DispatchOutcome {
        let start = ContinuousClock.now
        let decoded: DecodedKafkaRequest
        do {
            decoded = try KafkaRequestDecoder.decode(frame: frame)
        } catch let error as KafkaRequestDecodingError {
            let answer = unsupported(error, frame: frame)
            let outcome: BrokerMetrics.RequestOutcome
            if case .respond = answer { outcome = .unsupportedVersion } else { outcome = .closed }
            BrokerMetrics.request(apiKey: nil, outcome: outcome, duration: ContinuousClock.now - start)
            return answer
        } catch {
            BrokerMetrics.request(apiKey: nil, outcome: .closed, duration: ContinuousClock.now - start)
            return .close(reason: "undecodable request: \(error)")
        }
        let (answer, outcome) = await route(decoded, connection: connection, ordering: ordering, segmented: segmented)
        BrokerMetrics.request(apiKey: decoded.apiKey, outcome: outcome, duration: ContinuousClock.now - start)
        return answer
    }

    private func route(_ decoded: DecodedKafkaRequest, connection: ConnectionInfo, ordering: RequestOrdering?,
                       segmented: Bool) async -> (DispatchOutcome, BrokerMetrics.RequestOutcome) {
        if decoded.trailingBytes > 0 {
            logger.debug("ignoring bytes after the request body", metadata: [
                "api": "\(decoded.apiKey.name)", "version": "\(decoded.apiVersion)", "bytes": "\(decoded.trailingBytes)"])
        }
        guard let handler = registry[decoded.apiKey] else {
            // A known API the broker does not serve: answer with the schema's own error shape.
            return (respondWithError(decoded, .unsupportedVersion, handler: nil), .closed)
        }
        guard handler.canHandle(decoded.body) else {
            // A registry bug, never client input: close rather than leave the client waiting.
            logger.error("handler for \(decoded.apiKey.name) cannot take \(type(of: decoded.body))")
            return (.close(reason: "internal: no handler for \(type(of: decoded.body))"), .closed)
        }
        var context = RequestContext(
            apiKey: decoded.apiKey, apiVersion: decoded.apiVersion, correlationId: decoded.correlationId,
            clientId: decoded.header.clientId, principal: connection.principal, clientHost: connection.clientHost,
            listenerName: connection.listenerName)
        context.ordering = ordering
        guard handler.supportedVersions.contains(decoded.apiVersion) else {
            return (respondWithError(decoded, .unsupportedVersion, handler: handler), .unsupportedVersion)
        }
        guard let response = await handler.handle(decoded.body, context: context) else { return (.noResponse, .ok) }
        let answer: DispatchOutcome
        if segmented, let fetch = response as? FetchResponse {
            answer = encodeSegments(fetch, version: decoded.apiVersion, correlationId: decoded.correlationId)
        } else {
            answer = encode(response, version: decoded.apiVersion, correlationId: decoded.correlationId, apiKey: decoded.apiKey)
        }
        if case .close = answer { return (answer, .closed) }
        return (answer, .ok)
    }

    private func encode(_ response: any KafkaResponseMessage, version: Int16, correlationId: Int32, apiKey: KafkaApiKey) -> DispatchOutcome {
        var out = ByteBuffer()
        do {
            try response.encodeResponse(version: version, correlationId: correlationId, to: &out)
            return .respond(out)
        } catch {
            logger.error("cannot encode response", metadata: ["api": "\(apiKey.name)", "version": "\(version)", "error": "\(error)"])
            return .close(reason: "response encoding failed for \(apiKey.name) v\(version)")
        }
    }

    /// A Fetch answer as buffers to write in order: headers, and the record batches as the log read them.
    private func encodeSegments(_ response: FetchResponse, version: Int16, correlationId: Int32) -> DispatchOutcome {
        do {
            return .respondSegments(try response.encodeResponseSegments(version: version, correlationId: correlationId))
        } catch {
            logger.error("cannot encode response", metadata: ["api": "Fetch", "version": "\(version)", "error": "\(error)"])
            return .close(reason: "response encoding failed for Fetch v\(version)")
        }
    }

    private func respondWithError(_ decoded: DecodedKafkaRequest, _ error: KafkaErrorCode, handler: AnyKafkaAPIHandler?) -> DispatchOutcome {
        guard let handler else {
            return .close(reason: "\(decoded.apiKey.name) is not served by this broker")
        }
        let response = handler.errorResponse(decoded.body, error)
        return encode(response, version: decoded.apiVersion, correlationId: decoded.correlationId, apiKey: decoded.apiKey)
    }

    /// An API key or version outside the schemas. ApiVersions gets Kafka's v0 error body listing what
    /// is supported (clients then retry at a version they share); anything else cannot be answered in
    /// a shape the client expects, so the connection closes, as Kafka does.
    private func unsupported(_ error: KafkaRequestDecodingError, frame: ByteBuffer) -> DispatchOutcome {
        if case .unsupportedVersion(let apiKey, _, let correlationId) = error, apiKey == .apiVersions {
            let response = ApiVersionsResponse(errorCode: KafkaErrorCode.unsupportedVersion.rawValue, apiKeys: registry.apiVersions)
            return encode(response, version: 0, correlationId: correlationId, apiKey: .apiVersions)
        }
        return .close(reason: "\(error)")
    }
}
