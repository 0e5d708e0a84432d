import Metrics

/// The broker's metrics, recorded through swift-metrics (the server bootstraps a Prometheus backend;
/// without one they go nowhere). SASL outcomes are exported from `AuthenticationMonitor`'s counters at
/// scrape time (RampartServer). Names follow Prometheus conventions: `rampart_` prefix, base units,
/// `_total` on counters. docs/operations.md describes each.
public enum BrokerMetrics {
    /// `rampart_requests_total{api,outcome}`.
    public static let requestsTotal = "rampart_requests_total"
    /// `rampart_request_duration_seconds{api}` (a histogram).
    public static let requestDuration = "rampart_request_duration_seconds"
    /// `rampart_bytes_in_total{topic}`: record-batch bytes appended by Produce.
    public static let bytesIn = "rampart_bytes_in_total"
    /// `rampart_bytes_out_total{topic}`: record-batch bytes returned by Fetch.
    public static let bytesOut = "rampart_bytes_out_total"
    /// `rampart_messages_in_total{topic}`: records appended by Produce.
    public static let messagesIn = "rampart_messages_in_total"
    /// `rampart_connections_active{listener}` (a gauge).
    public static let connectionsActive = "rampart_connections_active"
    /// `rampart_authorization_denials_total{operation,resource_type}`.
    public static let authorizationDenials = "rampart_authorization_denials_total"

    /// How a request ended, for `rampart_requests_total`'s `outcome` label.
    public enum RequestOutcome: String, Sendable {
        /// Answered (the answer itself may carry per-resource error codes).
        case ok
        /// Answered with UNSUPPORTED_VERSION (a version or API this broker does not serve).
        case unsupportedVersion = "unsupported_version"
        /// Not answered: the connection was closed (undecodable request, encoding failure).
        case closed
    }

    /// Counts a dispatched request and records how long it took.
    public static func request(api: String, outcome: RequestOutcome, duration: Duration) {
        Counter(label: requestsTotal, dimensions: [("api", api), ("outcome", outcome.rawValue)]).increment()
        let nanoseconds = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        Metrics.Timer(label: requestDuration, dimensions: [("api", api)]).recordNanoseconds(nanoseconds)
    }

    /// Counts bytes and records appended to `topic`.
    public static func produced(topic: String, bytes: Int, records: Int) {
        Counter(label: bytesIn, dimensions: [("topic", topic)]).increment(by: bytes)
        Counter(label: messagesIn, dimensions: [("topic", topic)]).increment(by: records)
    }

    /// Counts bytes a Fetch returned from `topic`.
    public static func fetched(topic: String, bytes: Int) {
        guard bytes > 0 else { return }
        Counter(label: bytesOut, dimensions: [("topic", topic)]).increment(by: bytes)
    }

    /// A client connection opened (`delta` 1) or closed (`delta` -1) on `listener`.
    public static func connection(listener: String, delta: Int) {
        let meter = Meter(label: connectionsActive, dimensions: [("listener", listener)])
        if delta > 0 { meter.increment(by: Double(delta)) } else { meter.decrement(by: Double(-delta)) }
    }

    /// A request (or part of one) was denied by the authorizer.
    public static func authorizationDenied(operation: String, resourceType: String) {
        Counter(label: authorizationDenials, dimensions: [("operation", operation), ("resource_type", resourceType)]).increment()
    }
}
