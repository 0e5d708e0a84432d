import KafkaProtocol
import Metrics
import Synchronization

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

    /// Counts a dispatched request (`apiKey` nil: the request could not be decoded, `api="unknown"`) and
    /// records how long it took. The counters and timer of each API are made once and reused.
    public static func request(apiKey: KafkaApiKey?, outcome: RequestOutcome, duration: Duration) {
        let instruments = cache.withLock { $0.request(apiKey) }
        instruments.counter(outcome).increment()
        let nanoseconds = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        instruments.duration.recordNanoseconds(nanoseconds)
    }

    /// Counts bytes and records appended to `topic`.
    public static func produced(topic: String, bytes: Int, records: Int) {
        let instruments = cache.withLock { $0.topic(topic) }
        instruments.bytesIn.increment(by: bytes)
        instruments.messagesIn.increment(by: records)
    }

    /// Counts bytes a Fetch returned from `topic`.
    public static func fetched(topic: String, bytes: Int) {
        guard bytes > 0 else { return }
        cache.withLock { $0.topic(topic) }.bytesOut.increment(by: bytes)
    }

    /// Forgets the instruments made so far. The server calls it right after bootstrapping
    /// swift-metrics: instruments made before (by tests calling handlers directly) point at the no-op
    /// backend.
    public static func discardInstruments() {
        cache.withLock { $0 = InstrumentCache() }
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

    /// The per-request instruments, made on first use: looking one up is an array index (API) or one
    /// hash of the topic name, instead of swift-metrics building and registering a `Counter` by label
    /// and dimensions on every call.
    private static let cache = Mutex(InstrumentCache())

    private struct RequestInstruments: Sendable {
        let ok: Counter
        let unsupportedVersion: Counter
        let closed: Counter
        let duration: Metrics.Timer

        init(api: String) {
            ok = Counter(label: requestsTotal, dimensions: [("api", api), ("outcome", RequestOutcome.ok.rawValue)])
            unsupportedVersion = Counter(label: requestsTotal, dimensions: [("api", api), ("outcome", RequestOutcome.unsupportedVersion.rawValue)])
            closed = Counter(label: requestsTotal, dimensions: [("api", api), ("outcome", RequestOutcome.closed.rawValue)])
            duration = Metrics.Timer(label: requestDuration, dimensions: [("api", api)])
        }

        func counter(_ outcome: RequestOutcome) -> Counter {
            switch outcome {
            case .ok: ok
            case .unsupportedVersion: unsupportedVersion
            case .closed: closed
            }
        }
    }

    private struct TopicInstruments: Sendable {
        let bytesIn: Counter
        let messagesIn: Counter
        let bytesOut: Counter

        init(topic: String) {
            bytesIn = Counter(label: BrokerMetrics.bytesIn, dimensions: [("topic", topic)])
            messagesIn = Counter(label: BrokerMetrics.messagesIn, dimensions: [("topic", topic)])
            bytesOut = Counter(label: BrokerMetrics.bytesOut, dimensions: [("topic", topic)])
        }
    }

    private struct InstrumentCache: Sendable {
        /// By API key; the last slot is `api="unknown"`.
        var requests: [RequestInstruments?]
        var topics: [String: TopicInstruments] = [:]

        init() {
            let slots = Int(KafkaApiKey.allCases.map(\.rawValue).max() ?? 0) + 2
            requests = Array(repeating: nil, count: slots)
        }

        mutating func request(_ apiKey: KafkaApiKey?) -> RequestInstruments {
            let slot = apiKey.map { Int($0.rawValue) } ?? requests.count - 1
            if let instruments = requests[slot] { return instruments }
            let instruments = RequestInstruments(api: apiKey?.name ?? "unknown")
            requests[slot] = instruments
            return instruments
        }

        mutating func topic(_ name: String) -> TopicInstruments {
            if let instruments = topics[name] { return instruments }
            let instruments = TopicInstruments(topic: name)
            topics[name] = instruments
            return instruments
        }
    }
}
