import Foundation
import KafkaProtocol
import Logging
import NIOCore
import RampartBroker
import RampartMetadata
import RampartStorage

/// A broker over a fresh temporary directory, for handler tests. `close()` shuts the logs down and
/// removes the directory.
struct BrokerFixture {
    let directory: URL
    let broker: Broker
    let registry: KafkaAPIRegistry

    /// `authorizer` defaults to one that allows everything; the authorization tests pass their own.
    static func make(authorizer: Authorizer = .disabled(), _ customize: (inout BrokerSettings) -> Void = { _ in }) async throws -> BrokerFixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rampart-broker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return try await open(directory, authorizer: authorizer, customize)
    }

    /// Opens a broker over an existing directory (a restart).
    static func open(_ directory: URL, authorizer: Authorizer = .disabled(),
                     _ customize: (inout BrokerSettings) -> Void = { _ in }) async throws -> BrokerFixture {
        let store = try EmbeddedMetadataStore(directory: directory)
        let logs = LogManager(config: LogManagerConfig(logDirs: [directory.path]))
        try await logs.startup()
        var settings = BrokerSettings(nodeID: 1, advertisedListeners: [AdvertisedListener(name: "PLAINTEXT", host: "127.0.0.1", port: 9092)])
        settings.group = GroupCoordinatorConfig(minSessionTimeoutMs: 1000, initialRebalanceDelayMs: 0)
        customize(&settings)
        let broker = Broker(settings: settings, metadata: store, logs: logs,
                            producerIDBlockEnd: await store.current().producerIDBlockEnd,
                            logger: Logger(label: "test"), clock: { Int64(Date().timeIntervalSince1970 * 1000) }, authorizer: authorizer)
        await broker.loadDynamicAcls()
        try await broker.reconcileLogs()
        return BrokerFixture(directory: directory, broker: broker, registry: BrokerAPIs.registry(for: broker))
    }

    /// Shuts the logs down cleanly, keeping the directory (for a restart).
    func stop() async throws {
        try await broker.logs.shutdown()
    }

    func close() async {
        try? await broker.logs.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }

    func context(_ key: KafkaApiKey, version: Int16, principal: KafkaPrincipal = .anonymous) -> RequestContext {
        RequestContext(apiKey: key, apiVersion: version, correlationId: 1, clientId: "test", principal: principal,
                       clientHost: "127.0.0.1", listenerName: "PLAINTEXT")
    }

    /// Sends a request through the registry's handler and returns the typed response. The request and
    /// response are also encoded and decoded at `version`, so every test checks the wire form too.
    func send<R: KafkaRequestMessage>(_ request: R, version: Int16, as principal: KafkaPrincipal = .anonymous) async throws -> R.Response {
        var encoded = ByteBuffer()
        try request.encode(to: &encoded, version: version)
        let decodedRequest = try R(from: &encoded, version: version)
        let handler = try unwrap(registry[R.apiKey], "no handler for \(R.apiKey.name)")
        guard handler.supportedVersions.contains(version) else {
            return handler.errorResponse(decodedRequest, .unsupportedVersion) as! R.Response
        }
        let response = try unwrap(await handler.handle(decodedRequest, context: context(R.apiKey, version: version, principal: principal)), "no response")
        var wire = ByteBuffer()
        try response.encode(to: &wire, version: version)
        return try R.Response(from: &wire, version: version)
    }

    /// One uncompressed (or compressed) batch of records with values `prefix0…`.
    static func batch(count: Int, prefix: String = "v", keys: Bool = true, compression: CompressionCodec = .none,
                      producerId: Int64 = -1, sequence: Int32 = -1, timestamp: Int64 = 1_700_000_000_000) -> ByteBuffer {
        let records = (0..<count).map { i in
            Record(offsetDelta: Int32(i), timestampDelta: Int64(i), key: keys ? ByteBuffer(string: "k\(i)") : nil,
                   value: ByteBuffer(string: "\(prefix)\(i)"), headers: [RecordHeader(key: "h", value: "\(i)")])
        }
        let batch = try! RecordBatch(records: records, baseTimestamp: timestamp, compression: compression,
                                     producerId: producerId, producerEpoch: producerId >= 0 ? 0 : -1, baseSequence: sequence)
        var out = ByteBuffer()
        batch.write(to: &out)
        return out
    }
}

struct MissingValue: Error, CustomStringConvertible {
    let description: String
}

/// `#require` for values outside a test function body.
func unwrap<T>(_ value: T?, _ message: String) throws -> T {
    guard let value else { throw MissingValue(description: message) }
    return value
}
