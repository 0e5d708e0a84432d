import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Metrics
import NIOCore
import Prometheus
import RampartBroker
import RampartStorage
import RampartTLS
import Synchronization

/// The process's Prometheus registry: swift-metrics is bootstrapped onto it once per process (the
/// first broker to start), so every `Counter`/`Timer`/`Meter` the broker records lands here.
public enum RampartMetricsRegistry {
    /// The registry `/metrics` renders.
    public static let shared = PrometheusCollectorRegistry()
    private static let bootstrapped = Mutex(false)

    /// Points swift-metrics at `shared` (once; later calls do nothing). Request latencies get
    /// sub-millisecond buckets: most Kafka requests are answered in well under 5 ms.
    public static func bootstrap() {
        bootstrapped.withLock { done in
            guard !done else { return }
            done = true
            var factory = PrometheusMetricsFactory(registry: shared)
            factory.durationHistogramBuckets[BrokerMetrics.requestDuration] = [
                .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5),
                .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
            ]
            factory.durationHistogramBuckets["rampart_fsync_duration_seconds"] = [
                .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5),
            ]
            MetricsSystem.bootstrap(factory)
            BrokerMetrics.discardInstruments()
        }
    }
}

/// Gauges computed when `/metrics` is scraped (partition offsets and sizes, certificate expiry).
final class ScrapeGauges: Sendable {
    private let registry: PrometheusCollectorRegistry
    /// Per-partition gauges: a deleted partition's series disappear.
    private let logEndOffsets = KeyedGauges<TopicPartition>()
    private let partitionSizes = KeyedGauges<TopicPartition>()
    /// The authentication counters already exported, to add only what is new at each scrape.
    private let exportedAuthentication = Mutex(AuthenticationCounters())
    /// Consumer lag by group and partition.
    private let lags = KeyedGauges<LagKey>()

    struct LagKey: Hashable, Sendable {
        var group: String
        var partition: TopicPartition
    }

    static var certificateExpiry: MetricNameDescriptor {
        .init(metricName: "rampart_tls_certificate_expiry", unitName: "days", helpText: "Days until the listener's own TLS certificate expires.")
    }
    static var underReplicated: MetricNameDescriptor {
        .init(metricName: "rampart_under_replicated", unitName: "partitions", helpText: "Partitions with fewer in-sync replicas than replicas (0 on a single node).")
    }
    static var offlinePartitions: MetricNameDescriptor {
        .init(metricName: "rampart_offline", unitName: "partitions", helpText: "Partitions whose log is offline.")
    }
    static var logEndOffset: MetricNameDescriptor {
        .init(metricName: "rampart_partition_log_end", unitName: "offset", helpText: "The next offset to be written to the partition.")
    }
    static var consumerLag: MetricNameDescriptor {
        .init(metricName: "rampart_consumer_group", unitName: "lag",
              helpText: "High watermark minus the group's committed offset, per partition the group committed.")
    }
    static var logDirFree: MetricNameDescriptor {
        .init(metricName: "rampart_log_dir_free", unitName: "bytes", helpText: "Bytes available to the broker on the file system of a log directory.")
    }
    static var logDirTotal: MetricNameDescriptor {
        .init(metricName: "rampart_log_dir_total", unitName: "bytes", helpText: "Size of the file system of a log directory.")
    }
    static var partitionSize: MetricNameDescriptor {
        .init(metricName: "rampart_partition_size", unitName: "bytes", helpText: "Bytes of the partition's log segments.")
    }

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    /// Carries `AuthenticationMonitor`'s counters into Prometheus counters (the monitor keeps totals;
    /// the difference since the last scrape is added).
    func export(_ counters: AuthenticationCounters) {
        let registry = self.registry
        exportedAuthentication.withLock { exported in
            func add(_ descriptor: MetricNameDescriptor, _ labels: [(String, String)], _ now: Int, _ before: Int) {
                let counter = labels.isEmpty ? registry.makeCounter(descriptor: descriptor) : registry.makeCounter(descriptor: descriptor, labels: labels)
                if now > before { counter.increment(by: Int64(now - before)) }
            }
            for (mechanism, count) in counters.successes {
                add(Self.authentications, [("mechanism", mechanism), ("outcome", "success")], count, exported.successes[mechanism] ?? 0)
            }
            for (key, count) in counters.failures {
                add(Self.authentications, [("mechanism", key.mechanism), ("outcome", key.reason)], count, exported.failures[key] ?? 0)
            }
            for (mechanism, count) in counters.reauthentications {
                add(Self.reauthentications, [("mechanism", mechanism)], count, exported.reauthentications[mechanism] ?? 0)
            }
            add(Self.backoffs, [], counters.backoffsStarted, exported.backoffsStarted)
            add(Self.expiredSessions, [], counters.expiredSessionsClosed, exported.expiredSessionsClosed)
            exported = counters
        }
    }

    static var authentications: MetricNameDescriptor {
        .init(metricName: "rampart_authentication", unitName: "total", helpText: "SASL authentications by mechanism and outcome (success or the failure reason).")
    }
    static var reauthentications: MetricNameDescriptor {
        .init(metricName: "rampart_reauthentication", unitName: "total", helpText: "Successful SASL re-authentications (KIP-368) by mechanism.")
    }
    static var backoffs: MetricNameDescriptor {
        .init(metricName: "rampart_authentication_backoffs", unitName: "total", helpText: "Source addresses put in failed-authentication backoff.")
    }
    static var expiredSessions: MetricNameDescriptor {
        .init(metricName: "rampart_sasl_expired_sessions_closed", unitName: "total", helpText: "Connections closed because their SASL session expired without re-authentication.")
    }

    func refresh(broker: Broker?, tls: [ListenerTLS], now: Date = Date()) async {
        let logs = broker?.logs
        for listener in tls {
            guard let certificate = listener.certificate else { continue }
            registry.makeGauge(descriptor: Self.certificateExpiry, labels: [("listener", listener.listener)])
                .set(to: certificate.notAfter.timeIntervalSince(now) / 86_400)
        }
        registry.makeGauge(descriptor: Self.underReplicated).set(to: 0)
        guard let logs else { return }
        for directory in await logs.config.logDirs {
            var info = statvfs()
            guard statvfs(directory, &info) == 0 else { continue }
            let blockSize = Double(info.f_frsize)
            registry.makeGauge(descriptor: Self.logDirFree, labels: [("dir", directory)]).set(to: Double(info.f_bavail) * blockSize)
            registry.makeGauge(descriptor: Self.logDirTotal, labels: [("dir", directory)]).set(to: Double(info.f_blocks) * blockSize)
        }
        var ends: [TopicPartition: Double] = [:]
        var sizes: [TopicPartition: Double] = [:]
        for (tp, log) in await logs.allLogs {
            ends[tp] = Double(await log.logEndOffset)
            sizes[tp] = Double(await log.sizeInBytes)
        }
        let offline = await logs.offlinePartitions()
        registry.makeGauge(descriptor: Self.offlinePartitions).set(to: Double(offline.count))
        func partitionLabels(_ tp: TopicPartition) -> [(String, String)] { [("topic", tp.topic), ("partition", "\(tp.partition)")] }
        logEndOffsets.update(ends, registry: registry) { registry.makeGauge(descriptor: Self.logEndOffset, labels: partitionLabels($0)) }
        partitionSizes.update(sizes, registry: registry) { registry.makeGauge(descriptor: Self.partitionSize, labels: partitionLabels($0)) }
        guard let broker else { return }
        var lagValues: [LagKey: Double] = [:]
        for group in await broker.offsets.groupsWithOffsets() {
            for (tp, committed) in await broker.offsets.committed(groupID: group) {
                guard let log = await logs.log(for: tp) else { continue }
                lagValues[LagKey(group: group, partition: tp)] = Double(max(0, await log.highWatermark - committed.offset))
            }
        }
        lags.update(lagValues, registry: registry) { key in
            registry.makeGauge(descriptor: Self.consumerLag, labels: [
                ("group", key.group), ("topic", key.partition.topic), ("partition", "\(key.partition.partition)")])
        }
    }
}

/// Gauges set at each scrape, one per key; a key missing from the latest values loses its series (a
/// deleted partition, a group whose offsets are gone).
final class KeyedGauges<Key: Hashable & Sendable>: Sendable {
    private let gauges = Mutex<[Key: Prometheus.Gauge]>([:])

    /// Sets each key's gauge (made by `make` the first time) to its value; unregisters the others.
    func update(_ values: [Key: Double], registry: PrometheusCollectorRegistry, make: (Key) -> Prometheus.Gauge) {
        gauges.withLock { gauges in
            for (key, gauge) in gauges where values[key] == nil {
                registry.unregisterGauge(gauge)
                gauges[key] = nil
            }
            for (key, value) in values {
                let gauge = gauges[key] ?? make(key)
                gauges[key] = gauge
                gauge.set(to: value)
            }
        }
    }
}

extension BrokerServer {
    /// Starts `rampart.metrics.listener` when it is set. `listenersUp` says whether every Kafka
    /// listener is still bound.
    /// `rampart.metrics.listener` and its token, checked before anything binds; nil when unset.
    func metricsEndpointSettings() throws -> MetricsEndpoint.Settings? {
        guard let listener = config.string("rampart.metrics.listener"), !listener.isEmpty else { return nil }
        return try MetricsEndpoint.Settings.parse(listener: listener, tokenFile: config.string("rampart.metrics.token.file"))
    }

    /// Starts the endpoint; `listenersDown` names the Kafka listeners no longer bound.
    func startMetricsEndpoint(_ settings: MetricsEndpoint.Settings, group: EventLoopGroup, tls: [ListenerTLS],
                              listenersDown: @escaping @Sendable () -> [String]) async throws -> MetricsEndpoint {
        let registry = RampartMetricsRegistry.shared
        let gauges = ScrapeGauges(registry: registry)
        let broker = self.broker
        let logs = broker?.logs
        let monitor = authenticationMonitor
        let endpoint = try await MetricsEndpoint.start(
            settings: settings, group: group,
            scrape: {
                gauges.export(monitor.counters)
                await gauges.refresh(broker: broker, tls: tls)
                return registry.emitToBuffer()
            },
            health: { await Self.health(listenersDown: listenersDown(), logs: logs) })
        logger.info("metrics endpoint listening", metadata: [
            "address": "\(endpoint.localAddress.map { "\($0)" } ?? "?")", "token": "\(settings.token == nil ? "none" : "required")"])
        return endpoint
    }

    /// `/health`: ok when no listener is down and every partition is online.
    static func health(listenersDown: [String], logs: LogManager?) async -> MetricsEndpoint.Health {
        var reasons = listenersDown.map { "listener \($0) is not bound" }
        if let logs {
            for (tp, reason) in await logs.offlinePartitions().sorted(by: { $0.key < $1.key }) {
                reasons.append("partition \(tp) is offline: \(reason)")
            }
        } else {
            reasons.append("the broker is not started")
        }
        return reasons.isEmpty ? .ok : .unavailable(reasons)
    }

    /// Counts a policy reload (`rampart_policy_reloads_total{outcome}`).
    static func countPolicyReload(success: Bool) {
        Counter(label: "rampart_policy_reloads_total", dimensions: [("outcome", success ? "success" : "failure")]).increment()
    }
}

/// Counts TLS handshakes that fail (`rampart_tls_handshake_failures_total{listener,reason}`); sits
/// right after the `TLSHandler`.
final class TLSHandshakeFailureCounter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let listener: String
    private var done = false

    init(listener: String) {
        self.listener = listener
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent { done = true }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if !done, let tlsError = error as? TLSError {
            done = true
            Counter(label: "rampart_tls_handshake_failures_total", dimensions: [("listener", listener), ("reason", tlsError.kind.description)]).increment()
        }
        context.fireErrorCaught(error)
    }
}
