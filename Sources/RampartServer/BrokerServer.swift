import Foundation
import KafkaProtocol
import Logging
import NIOCore
import NIOPosix
import RampartBroker
import RampartAuthorizer
import RampartMetadata
import RampartSASL
import RampartStorage
import RampartTLS
import Synchronization

/// Runs a broker: opens the metadata store and the logs, binds the listeners, serves until asked to
/// stop, then shuts down cleanly (stop accepting, let in-flight requests finish, flush the logs and
/// write the clean-shutdown markers).
public final class BrokerServer: @unchecked Sendable {
    public let config: BrokerConfig
    let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private var serverChannels: [Channel] = []
    private let connections = ConnectionRegistry()
    /// Refuses connections that would leave the process fewer than a few descriptors (see the type).
    private let descriptorGuard = ConnectionDescriptorGuard.process()
    public private(set) var broker: Broker?
    private var backgroundTasks: [Task<Void, Never>] = []
    private var listenerTLS: [ListenerTLS] = []
    private var oauthBearerKeys: [OAuthBearerKeys] = []
    /// Keeps the authorizer's file ACLs in step with `rampart.acl.policy.path`.
    var policyWatcher: PolicyWatcher?
    /// `rampart.audit.log.path`, when set (flushed at shutdown).
    var auditLog: AuditLog?
    /// Held while the broker runs, so offline tools do not write under it.
    private var dataDirectoryLocks: [DataDirectoryLock] = []
    /// `rampart.metrics.listener`'s HTTP endpoint, when set.
    private var metricsEndpoint: MetricsEndpoint?

    /// The metrics endpoint's address as bound (nil when `rampart.metrics.listener` is unset).
    public var metricsAddress: SocketAddress? { metricsEndpoint?.localAddress }
    /// SASL outcome counters and the per-address failure backoff, shared by every SASL listener.
    public private(set) var authenticationMonitor = AuthenticationMonitor(settings: .off)

    /// The listeners as bound (ports resolved when 0 was asked for).
    public private(set) var boundAddresses: [String: SocketAddress] = [:]

    public init(config: BrokerConfig, logger: Logger, eventLoopThreads: Int = System.coreCount) {
        self.config = config
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, eventLoopThreads))
    }

    /// An error that stops start-up, naming what was wrong.
    public struct StartupError: Error, CustomStringConvertible {
        public let description: String
    }

    public func start() async throws {
        let listeners = config.listeners
        var listenerTLS: [String: ListenerTLS] = [:]
        for listener in listeners where listener.securityProtocol.isEncrypted {
            try checkClientAuthentication(listener)
            let tls = try ListenerTLS(config: config, listener: listener.name)
            tls.logCertificate(logger, event: "listener \(listener.name)")
            listenerTLS[listener.name] = tls
        }
        self.listenerTLS = Array(listenerTLS.values)
        var oauthBearerKeys: [String: OAuthBearerKeys] = [:]
        let saslSettings = try Self.saslSettings(config, listeners: listeners, oauthBearerKeys: &oauthBearerKeys)
        self.oauthBearerKeys = oauthBearerKeys.values.sorted { $0.path < $1.path }
        authenticationMonitor = AuthenticationMonitor(settings: Self.authenticationBackoffSettings(config))
        let metricsSettings = try metricsEndpointSettings()
        RampartMetricsRegistry.bootstrap()
        let inert = BrokerConfigKeys.notYetEnforced.filter { config.explicit[$0] != nil }.sorted()
        if !inert.isEmpty {
            logger.warning("these keys are accepted for compatibility but not acted on by this build: \(inert.joined(separator: ", "))")
        }
        let (authorizer, policyWatcher) = try makeAuthorizer()
        self.policyWatcher = policyWatcher
        for listener in listeners where listener.securityProtocol == .plaintext {
            logger.warning("PLAINTEXT listener \(listener.name) on \(listener.host.isEmpty ? "*" : listener.host):\(listener.port): traffic is NOT encrypted and clients are NOT authenticated (rampart.insecure.allow.plaintext=true)")
        }
        for listener in listeners where listener.securityProtocol == .saslPlaintext {
            logger.warning("SASL_PLAINTEXT listener \(listener.name) on \(listener.host.isEmpty ? "*" : listener.host):\(listener.port): clients authenticate but traffic is NOT encrypted (rampart.insecure.allow.plaintext=true)")
        }

        let logDirs = config.logDirs
        do {
            dataDirectoryLocks = try logDirs.map { try DataDirectoryLock(directory: $0) }
        } catch {
            throw StartupError(description: "log.dirs: \(error)")
        }
        let metadataDirectory = URL(fileURLWithPath: logDirs[0])
        let store: EmbeddedMetadataStore
        do {
            store = try EmbeddedMetadataStore(directory: metadataDirectory)
        } catch {
            throw StartupError(description: "metadata store: \(error)")
        }
        let logManager = LogManager(config: Self.logManagerConfig(config))
        let report = try await logManager.startup()
        for (tp, partitionReport) in report.sorted(by: { $0.key < $1.key }) {
            if let reason = partitionReport.offlineReason {
                logger.error("partition offline", metadata: ["partition": "\(tp)", "reason": "\(reason)"])
            } else if partitionReport.recovered {
                logger.info("partition recovered", metadata: ["partition": "\(tp)", "truncatedBytes": "\(partitionReport.truncatedBytes)"])
            }
        }
        // Bind before the broker exists (a port taken fails start-up early, and a listener on port 0
        // advertises the port it got), but accept nothing until the broker is ready: the server
        // channels start with autoRead off, and the connections' handlers read the broker from `slot`.
        let slot = StartupSlot()
        var bound: [(ListenerConfig, Channel)] = []
        let saslWorkers = SASLWorkers()
        for listener in listeners {
            let monitor = authenticationMonitor
            let auditor = AuthenticationAuditor(authorizer: authorizer, clock: { Int64(Date().timeIntervalSince1970 * 1000) })
            let authentication = saslSettings[listener.name].map { settings in
                SASLAuthentication(settings: settings, credentials: { await slot.broker.scramCredentialSnapshot() }, monitor: monitor,
                                   workers: saslWorkers, auditor: auditor)
            }
            let channel = try await bind(listener, slot: slot, tls: listenerTLS[listener.name], sasl: authentication, auditor: auditor)
            serverChannels.append(channel)
            bound.append((listener, channel))
            if let address = channel.localAddress { boundAddresses[listener.name] = address }
        }

        let image = await store.current()
        let boundPorts = boundAddresses.compactMapValues { $0.port }
        var settings = Self.brokerSettings(config, listeners: listeners, boundPorts: boundPorts)
        let descriptorGuard = self.descriptorGuard
        settings.fileDescriptors.onApproval = { descriptorGuard.noteOpened($0) }
        let broker = Broker(settings: settings, metadata: store, logs: logManager, producerIDBlockEnd: image.producerIDBlockEnd,
                            logger: logger, clock: { Int64(Date().timeIntervalSince1970 * 1000) }, authorizer: authorizer)
        await broker.loadDynamicAcls()
        if !saslSettings.isEmpty { try await broker.ensureSCRAMDecoyKey() }
        try await broker.reconcileLogs()
        try await broker.loadOffsets()
        await logManager.startBackgroundTasks()
        self.broker = broker
        let groups = broker.groups
        backgroundTasks.append(Task { await groups.run() })
        backgroundTasks.append(Task { await broker.runOffsetsExpiration() })

        slot.set(broker: broker, dispatcher: RequestDispatcher(registry: BrokerAPIs.registry(for: broker), logger: logger))
        for (listener, channel) in bound {
            try await channel.setOption(.autoRead, value: true).get()
            logger.info("listening", metadata: ["listener": "\(listener.name)", "address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        }
        if let metricsSettings {
            let channels = bound.map { ($0.0.name, $0.1) }
            metricsEndpoint = try await startMetricsEndpoint(metricsSettings, group: group, tls: Array(listenerTLS.values),
                                                             listenersDown: { channels.filter { !$0.1.isActive }.map(\.0) })
        }
        if let interval = config.int64("rampart.ssl.reload.interval.ms"), interval > 0, !listenerTLS.isEmpty || !oauthBearerKeys.isEmpty {
            backgroundTasks.append(Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(interval))
                    if Task.isCancelled { break }
                    self?.reloadTLS(force: false)
                }
            })
        }
        if let interval = config.int64("rampart.acl.policy.reload.interval.ms"), interval > 0, policyWatcher != nil {
            backgroundTasks.append(Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(interval))
                    if Task.isCancelled { break }
                    self?.reloadPolicy(force: false)
                }
            })
        }
        let descriptorLimit = FileDescriptorLimit.current().soft
        logger.info("Rampart broker started", metadata: [
            "node.id": "\(settings.nodeID)", "cluster.id": "\(image.clusterID)",
            "file.descriptors.limit": "\(descriptorLimit)",
            "file.descriptors.open": "\(FileDescriptorLimit.openCount().map { "\($0)" } ?? "?")",
            "file.descriptors.reserve": "\(settings.fileDescriptors.reserve(limit: descriptorLimit))",
        ])
    }

    /// A CRL on a listener that asks for no client certificate checks nothing: warned.
    /// On an `SSL` listener the client certificate is the only authentication. `requested` lets a
    /// client without one in as `User:ANONYMOUS`, which DESIGN makes a start-up error unless
    /// `rampart.insecure.allow.ssl.client.auth.requested=true`; `none` (no client authentication at
    /// all) is allowed, as in Kafka, but warned about — the authorizer decides what ANONYMOUS may do.
    private func checkClientAuthentication(_ listener: ListenerConfig) throws {
        let clientAuth = config.listenerValue("ssl.client.auth", listener: listener.name) ?? "none"
        if clientAuth == "none", let crl = config.listenerValue("rampart.ssl.crl.location", listener: listener.name) {
            logger.warning("listener \(listener.name): rampart.ssl.crl.location \(crl) has no effect with ssl.client.auth=none (no client certificate is asked for, so none is checked against the CRL)")
        }
        guard listener.securityProtocol == .ssl else { return }
        if clientAuth == "requested" && !config.bool("rampart.insecure.allow.ssl.client.auth.requested") {
            throw StartupError(description: "listener \(listener.name): ssl.client.auth=requested lets clients without a certificate in as User:ANONYMOUS on an SSL listener; use required (or set rampart.insecure.allow.ssl.client.auth.requested=true)")
        }
        if clientAuth != "required" {
            logger.warning("SSL listener \(listener.name) with ssl.client.auth=\(clientAuth): traffic is encrypted but clients without a certificate are NOT authenticated; they are User:ANONYMOUS and get only what the ACLs grant ANONYMOUS")
        }
    }

    /// What a SASL listener's connections need to authenticate.
    struct SASLAuthentication: Sendable {
        var settings: SaslListenerSettings
        var credentials: @Sendable () async -> SCRAMCredentials
        var monitor: AuthenticationMonitor
        var workers: SASLWorkers
        /// Audits every login and failure (the authorizer's audit sink).
        var auditor: AuthenticationAuditor
    }

    private func bind(_ listener: ListenerConfig, slot: StartupSlot, tls: ListenerTLS?, sasl: SASLAuthentication?,
                      auditor: AuthenticationAuditor) async throws -> Channel {
        let limits = config.socketRequestMaxBytes
        let clientAuth = config.listenerValue("ssl.client.auth", listener: listener.name) ?? "none"
        let idleMs = config.connectionsMaxIdleMs
        let maxPerIP = config.maxConnectionsPerIP
        let maxTotal = config.int("max.connections") ?? Int(Int32.max)
        let connections = self.connections
        let descriptorGuard = self.descriptorGuard
        let logger = self.logger
        let listenerName = listener.name
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.autoRead, value: false)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Stops accepting while descriptors are short (accept failing with EMFILE, or the guard's
            // budget spent) and starts again when they are free; see DescriptorBackoffHandler.
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        DescriptorBackoffHandler(descriptorGuard: descriptorGuard, listener: listenerName, logger: logger))
                }
            }
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                let host = channel.remoteAddress?.ipAddress ?? "unknown"
                let descriptors = descriptorGuard.admit()
                guard descriptors.admitted else {
                    logger.warning("refusing connection: too few file descriptors left", metadata: [
                        "client": "\(host)", "file.descriptors.open": "\(descriptors.open)",
                        "file.descriptors.limit": "\(descriptorGuard.limit)", "kept.free": "\(descriptorGuard.floor)",
                    ])
                    return channel.close()
                }
                switch connections.open(host: host, channel: channel, perHostLimit: maxPerIP, totalLimit: maxTotal) {
                case .accepted:
                    break
                case .perHostLimit:
                    logger.warning("refusing connection: max.connections.per.ip reached", metadata: ["client": "\(host)"])
                    return channel.close()
                case .totalLimit:
                    logger.warning("refusing connection: max.connections reached", metadata: ["client": "\(host)"])
                    return channel.close()
                }
                BrokerMetrics.connection(listener: listener.name, delta: 1)
                channel.closeFuture.whenComplete { _ in
                    connections.closed(host: host, channel: channel)
                    BrokerMetrics.connection(listener: listener.name, delta: -1)
                }
                return channel.eventLoop.makeCompletedFuture {
                    let dispatcher = slot.dispatcher
                    let info = ConnectionInfo(listenerName: listener.name, clientHost: host, principal: .anonymous)
                    let sync = channel.pipeline.syncOperations
                    let frameProgress = KafkaFrameProgress()
                    let tlsHandler = try tls.map { try TLSHandler(context: $0.context) }
                    try sync.addHandler(ReceiveWatermarkHandler(progress: frameProgress, tls: tlsHandler))
                    if let tls, let tlsHandler {
                        try sync.addHandler(tlsHandler)
                        try sync.addHandler(TLSHandshakeFailureCounter(listener: listener.name))
                        // On SASL_SSL the principal comes from SASL, not from a client certificate.
                        if sasl == nil {
                            try sync.addHandler(TLSPrincipalHandler(rules: tls.principalRules, listener: listener.name, logger: logger,
                                                                    auditor: auditor, auditHandshakeFailures: clientAuth != "none"))
                        }
                    }
                    if idleMs > 0 {
                        try sync.addHandler(IdleStateHandler(allTimeout: .milliseconds(idleMs)))
                    }
                    // Until a SASL client has authenticated, frames are limited to Kafka's 512 KiB.
                    let frameLimits = KafkaFrameLimits(
                        maxFrameSize: limits,
                        preAuthenticationMaxFrameSize: sasl == nil ? nil : KafkaFrameLimits.defaultPreAuthenticationMaxFrameSize)
                    let authenticator = sasl.map {
                        SaslServerAuthenticator(settings: $0.settings, dispatcher: dispatcher, credentials: $0.credentials, logger: logger,
                                                monitor: $0.monitor, workers: $0.workers, auditor: $0.auditor)
                    }
                    try sync.addHandler(ByteToMessageHandler(KafkaFrameDecoder(limits: frameLimits, progress: frameProgress)))
                    // The connection handler writes size-prefixed frames itself (a Fetch answer as several buffers).
                    try sync.addHandler(KafkaConnectionHandler(dispatcher: dispatcher, connection: info, logger: logger,
                                                               authenticator: authenticator, frameLimits: frameLimits,
                                                               writesFrames: true))
                }
            }
        do {
            return try await bootstrap.bind(host: listener.host.isEmpty ? "0.0.0.0" : listener.host, port: listener.port).get()
        } catch {
            throw StartupError(description: "listeners: cannot bind \(listener.name) to \(listener.host):\(listener.port): \(error)")
        }
    }

    /// Re-reads the TLS files of every SSL listener and the OAUTHBEARER JWKS files: when they changed (or
    /// always, with `force`, as on SIGHUP), validates them and swaps the new context or keys in. A refused
    /// file keeps the previous one in use and is logged as an error. Reads files: call it off the event
    /// loops.
    public func reloadTLS(force: Bool) {
        for keys in oauthBearerKeys {
            switch keys.reload(force: force) {
            case .unchanged:
                break
            case .reloaded(let count):
                logger.info("OAUTHBEARER JWKS file reloaded", metadata: ["file": "\(keys.path)", "keys": "\(count)"])
            case .failed(let reason):
                logger.error("new OAUTHBEARER JWKS file refused, the previous keys stay in use: \(reason)")
            }
        }
        for tls in listenerTLS {
            switch tls.reload(force: force) {
            case .unchanged:
                break
            case .reloaded:
                tls.logCertificate(logger, event: "listener \(tls.listener): TLS files reloaded")
            case .failed(let reason):
                logger.error("listener \(tls.listener): new TLS files refused, the previous certificate stays in use: \(reason)")
            }
        }
    }

    /// Stops accepting, closes client connections once their in-flight request is answered (bounded by
    /// `timeout`), flushes every log and writes the clean-shutdown markers.
    public func shutdown(timeout: Duration = .seconds(10)) async {
        logger.info("shutting down")
        for channel in serverChannels { try? await channel.close() }
        serverChannels.removeAll()
        await connections.closeAll(timeout: timeout)
        await metricsEndpoint?.close()
        metricsEndpoint = nil
        for task in backgroundTasks { task.cancel() }
        for task in backgroundTasks { await task.value }
        if let broker {
            do {
                try await broker.logs.shutdown()
            } catch {
                logger.error("log shutdown failed: \(error)")
            }
        }
        try? await group.shutdownGracefully()
        auditLog?.flush()
        dataDirectoryLocks = []
        logger.info("stopped")
    }

    static func logManagerConfig(_ config: BrokerConfig) -> LogManagerConfig {
        var defaults = LogConfig()
        if let v = config.int("log.segment.bytes") { defaults.segmentBytes = v }
        defaults.segmentMs = config.logRollMs
        if let v = config.int("log.index.interval.bytes") { defaults.indexIntervalBytes = v }
        defaults.retentionMs = config.logRetentionMs
        if let v = config.int64("log.retention.bytes") { defaults.retentionBytes = v }
        var policy: LogConfig.CleanupPolicy = []
        for p in config.list("log.cleanup.policy") { policy.insert(p == "compact" ? .compact : .delete) }
        defaults.cleanupPolicy = policy
        if let v = config.int64("log.cleaner.delete.retention.ms") { defaults.deleteRetentionMs = v }
        if let v = config.int64("log.cleaner.min.compaction.lag.ms") { defaults.minCompactionLagMs = v }
        if let v = config.int64("log.flush.interval.messages") { defaults.flushMessages = v }
        if let v = config.int64("log.flush.interval.ms") { defaults.flushMs = v }
        defaults.messageTimestampType = config.string("log.message.timestamp.type") == "LogAppendTime" ? .logAppendTime : .createTime
        defaults.maxMessageBytes = config.messageMaxBytes
        var managerConfig = LogManagerConfig(logDirs: config.logDirs, defaultLogConfig: defaults)
        if let v = config.int64("log.retention.check.interval.ms") { managerConfig.retentionCheckIntervalMs = v }
        if let rate = config.string("log.cleaner.io.max.bytes.per.second").flatMap(Double.init) { managerConfig.cleanerIOMaxBytesPerSecond = rate }
        return managerConfig
    }

    /// Every known broker key as DescribeConfigs reports it: the explicit `server.properties` value or the
    /// default. Sensitive values never leave `BrokerConfig`.
    static func brokerConfigEntries(_ config: BrokerConfig) -> [BrokerConfigEntry] {
        BrokerConfigKeys.all.map { definition in
            BrokerConfigEntry(
                name: definition.name, explicitValue: definition.isSensitive ? nil : config.explicit[definition.name],
                isExplicit: config.explicit[definition.name] != nil,
                defaultValue: definition.isSensitive ? nil : definition.defaultValue, isSensitive: definition.isSensitive,
                typeCode: definition.type.kafkaTypeCode, documentation: definition.documentation)
        }
    }

    /// `boundPorts`: the ports the listeners got, by name; an advertised listener with port 0 (the
    /// default when `advertised.listeners` is unset and a listener asked for any port) advertises it.
    static func brokerSettings(_ config: BrokerConfig, listeners: [ListenerConfig], boundPorts: [String: Int] = [:]) -> BrokerSettings {
        let advertised = config.advertisedListeners.map { listener in
            AdvertisedListener(name: listener.name,
                               host: listener.host.isEmpty || listener.host == "0.0.0.0" ? "127.0.0.1" : listener.host,
                               port: Int32(listener.port == 0 ? boundPorts[listener.name] ?? 0 : listener.port))
        }
        var settings = BrokerSettings(nodeID: config.nodeID, advertisedListeners: advertised)
        settings.numPartitions = config.numPartitions
        settings.defaultReplicationFactor = config.defaultReplicationFactor
        settings.autoCreateTopics = config.autoCreateTopics
        settings.deleteTopicEnable = config.bool("delete.topic.enable")
        settings.flushOnAckAll = config.bool("rampart.flush.on.ack.all")
        settings.offsetsTopicPartitions = Int32(config.int("offsets.topic.num.partitions") ?? 50)
        settings.offsetsRetentionMs = config.offsetsRetentionMinutes * 60_000
        settings.group = GroupCoordinatorConfig(
            minSessionTimeoutMs: Int32(config.int("group.min.session.timeout.ms") ?? 6000),
            maxSessionTimeoutMs: Int32(config.int("group.max.session.timeout.ms") ?? 1_800_000),
            initialRebalanceDelayMs: Int32(config.groupInitialRebalanceDelayMs))
        settings.brokerConfigs = brokerConfigEntries(config)
        settings.encryptedListeners = Set(listeners.filter(\.securityProtocol.isEncrypted).map(\.name))
        settings.allowCredentialChangesWithoutTLS = config.bool("rampart.insecure.allow.credential.changes.without.tls")
        let reserve = config.int("rampart.file.descriptors.reserve") ?? -1
        settings.fileDescriptors = .process(reserve: reserve < 0 ? nil : reserve)
        return settings
    }
}

/// What connections need from a broker that is still starting: set once, before the listeners
/// accept anything (their server channels start with autoRead off), read by every new connection.
final class StartupSlot: Sendable {
    private let state = Mutex<(Broker, RequestDispatcher)?>(nil)

    func set(broker: Broker, dispatcher: RequestDispatcher) {
        state.withLock { $0 = (broker, dispatcher) }
    }

    /// The broker; only called once listeners accept, i.e. after `set`.
    var broker: Broker {
        guard let broker = state.withLock({ $0?.0 }) else { preconditionFailure("a connection was accepted before the broker was ready") }
        return broker
    }

    /// The request dispatcher; only called once listeners accept, i.e. after `set`.
    var dispatcher: RequestDispatcher {
        guard let dispatcher = state.withLock({ $0?.1 }) else { preconditionFailure("a connection was accepted before the broker was ready") }
        return dispatcher
    }
}

/// Open client connections, per client address, for `max.connections.per.ip` and shutdown.
final class ConnectionRegistry: Sendable {
    private struct State {
        var perHost: [String: Int] = [:]
        var channels: [ObjectIdentifier: any Channel] = [:]
    }

    private let state = Mutex(State())

    enum Admission { case accepted, perHostLimit, totalLimit }

    /// Admits a connection unless its address already has `perHostLimit` or the broker `totalLimit`.
    func open(host: String, channel: any Channel, perHostLimit: Int, totalLimit: Int) -> Admission {
        state.withLock { state in
            guard state.channels.count < totalLimit else { return .totalLimit }
            guard state.perHost[host, default: 0] < perHostLimit else { return .perHostLimit }
            state.perHost[host, default: 0] += 1
            state.channels[ObjectIdentifier(channel)] = channel
            return .accepted
        }
    }

    func closed(host: String, channel: any Channel) {
        state.withLock { state in
            guard state.channels.removeValue(forKey: ObjectIdentifier(channel)) != nil else { return }
            state.perHost[host, default: 1] -= 1
            if state.perHost[host] == 0 { state.perHost[host] = nil }
        }
    }

    /// Asks every connection to finish its in-flight request and close; force-closes after `timeout`.
    func closeAll(timeout: Duration) async {
        let open = state.withLock { Array($0.channels.values) }
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(KafkaConnectionHandler.DrainEvent())
        }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if state.withLock({ $0.channels.isEmpty }) { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
        for channel in open { try? await channel.close() }
    }
}
