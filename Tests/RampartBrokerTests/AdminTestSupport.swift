import Foundation
import KafkaProtocol
import Logging
import NIOCore
import RampartMetadata
import RampartStorage
@testable import RampartBroker

/// A broker on a temporary directory for admin handler tests; `restart()` reopens the same directory.
final class AdminTestBroker: @unchecked Sendable {
    let directory: String
    let settings: BrokerSettings
    let logDefaults: LogConfig
    private(set) var broker: Broker

    static let nodeID: Int32 = 1

    /// Broker settings with a few `server.properties` keys set (as `BrokerServer` derives them).
    static func settings(explicit: [String: String] = [:]) -> BrokerSettings {
        var settings = BrokerSettings(nodeID: nodeID, advertisedListeners: [
            AdvertisedListener(name: "PLAINTEXT", host: "127.0.0.1", port: 19092),
            AdvertisedListener(name: "INTERNAL", host: "10.0.0.1", port: 19093),
        ])
        let known: [(String, String?, Int8)] = [
            ("log.retention.ms", nil, 5), ("log.retention.minutes", nil, 3), ("log.retention.hours", "168", 3),
            ("log.segment.bytes", "1073741824", 3), ("log.cleanup.policy", "delete", 7), ("message.max.bytes", "1048588", 3),
            ("num.partitions", "1", 3), ("ssl.keystore.password", nil, 9),
        ]
        settings.brokerConfigs = known.map { name, defaultValue, type in
            BrokerConfigEntry(name: name, explicitValue: explicit[name], isExplicit: explicit[name] != nil, defaultValue: defaultValue,
                              isSensitive: type == 9, typeCode: type, documentation: "doc of \(name)")
        }
        return settings
    }

    init(explicit: [String: String] = [:], logDefaults: LogConfig = LogConfig()) async throws {
        directory = NSTemporaryDirectory() + "rampart-admin-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        settings = Self.settings(explicit: explicit)
        self.logDefaults = logDefaults
        broker = try await Self.open(directory: directory, settings: settings, logDefaults: logDefaults)
    }

    private static func open(directory: String, settings: BrokerSettings, logDefaults: LogConfig) async throws -> Broker {
        let store = try EmbeddedMetadataStore(directory: URL(fileURLWithPath: directory))
        let logs = LogManager(config: LogManagerConfig(logDirs: [directory], defaultLogConfig: logDefaults))
        try await logs.startup()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let broker = Broker(settings: settings, metadata: store, logs: logs, producerIDBlockEnd: 0, logger: logger,
                            clock: { 1_700_000_000_000 })
        try await broker.reconcileLogs()
        return broker
    }

    /// Shuts the logs down cleanly and opens a new broker on the same directory.
    func restart() async throws {
        try await broker.logs.shutdown()
        broker = try await Self.open(directory: directory, settings: settings, logDefaults: logDefaults)
    }

    /// Shuts down and removes the directory.
    func close() async {
        try? await broker.logs.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func context(_ key: KafkaApiKey, _ version: Int16, listener: String = "PLAINTEXT") -> RequestContext {
        RequestContext(apiKey: key, apiVersion: version, correlationId: 7, clientId: "admin-test", principal: .anonymous,
                       clientHost: "127.0.0.1", listenerName: listener)
    }

    /// Serves a request through the handler and returns the response after a wire round trip at `version`.
    func serve<H: KafkaAPIHandler>(_ handler: H, _ request: H.Request, version: Int16, listener: String = "PLAINTEXT") async throws -> H.Request.Response {
        var requestBytes = ByteBuffer()
        try request.encode(to: &requestBytes, version: version)
        let decodedRequest = try H.Request(from: &requestBytes, version: version)
        let response = await handler.handle(decodedRequest, context: context(H.Request.apiKey, version, listener: listener))!
        var bytes = ByteBuffer()
        try response.encode(to: &bytes, version: version)
        let decoded = try H.Request.Response(from: &bytes, version: version)
        precondition(bytes.readableBytes == 0)
        return decoded
    }

    /// Creates a topic directly.
    @discardableResult
    func createTopic(_ name: String, partitions: Int32 = 1, configs: [String: String] = [:]) async throws -> TopicMetadata {
        try await broker.createTopic(name: name, partitions: partitions, configs: configs)
    }

    /// `count` records in one v2 batch.
    static func batch(count: Int, tag: String = "r") -> ByteBuffer {
        let records = (0..<count).map { i in
            Record(offsetDelta: Int32(i), timestampDelta: Int64(i), key: ByteBuffer(string: "k\(i)"), value: ByteBuffer(string: "\(tag)\(i)"))
        }
        var out = ByteBuffer()
        try! RecordBatch(records: records, baseTimestamp: 1_700_000_000_000).write(to: &out)
        return out
    }
}
