import Foundation
import KafkaProtocol
import Logging
import NIOCore
import RampartBroker
import RampartMetadata
import RampartStorage
import Testing

/// A Broker over a temporary data directory, its handlers reached through `BrokerAPIs.registry` with
/// every request and response encoded and decoded at the version under test (as on the wire).
final class GroupsFixture: Sendable {
    let directory: URL
    let clock: ManualClock
    let broker: Broker
    let registry: KafkaAPIRegistry

    static let listener = AdvertisedListener(name: "PLAINTEXT", host: "127.0.0.1", port: 19192)

    /// A broker over `directory` (a new temporary one by default), offsets loaded as at start-up.
    static func make(directory: URL? = nil, clock: ManualClock = ManualClock(start: 1_700_000_000_000),
                     configure: (inout BrokerSettings) -> Void = { _ in }) async throws -> GroupsFixture {
        let directory = directory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("rampart-groups-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try EmbeddedMetadataStore(directory: directory)
        let logs = LogManager(config: LogManagerConfig(logDirs: [directory.path]))
        _ = try await logs.startup()
        var settings = BrokerSettings(nodeID: 1, advertisedListeners: [listener])
        settings.offsetsTopicPartitions = 3
        settings.group = GroupCoordinatorConfig(minSessionTimeoutMs: 1000, initialRebalanceDelayMs: 0)
        configure(&settings)
        let broker = Broker(settings: settings, metadata: store, logs: logs, producerIDBlockEnd: 0,
                            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                            clock: { clock.now })
        try await broker.reconcileLogs()
        try await broker.loadOffsets()
        return GroupsFixture(directory: directory, clock: clock, broker: broker)
    }

    private init(directory: URL, clock: ManualClock, broker: Broker) {
        self.directory = directory
        self.clock = clock
        self.broker = broker
        self.registry = BrokerAPIs.registry(for: broker)
    }

    /// Shuts the logs down and starts a new Broker over the same directory.
    func restart() async throws -> GroupsFixture {
        try await broker.logs.shutdown()
        return try await Self.make(directory: directory, clock: clock)
    }

    /// Shuts down and removes the directory.
    func close() async {
        try? await broker.logs.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Sends `request` at `version` through the registered handler, as the wire would.
    func call<R: KafkaRequestMessage>(_ request: R, version: Int16, clientID: String = "client") async throws -> R.Response {
        let handler = try #require(registry[R.apiKey], "no handler for \(R.apiKey.name)")
        #expect(handler.supportedVersions.contains(version), "\(R.apiKey.name) v\(version) is not served")
        var bytes = ByteBuffer()
        try request.encode(to: &bytes, version: version)
        let decoded = try R(from: &bytes, version: version)
        let context = RequestContext(apiKey: R.apiKey, apiVersion: version, correlationId: 1, clientId: clientID,
                                     principal: .anonymous, clientHost: "127.0.0.1", listenerName: "PLAINTEXT")
        let response = try #require(await handler.handle(decoded, context: context) as? R.Response)
        var out = ByteBuffer()
        try response.encode(to: &out, version: version)
        let answer = try R.Response(from: &out, version: version)
        #expect(out.readableBytes == 0)
        return answer
    }

    @discardableResult
    func createTopic(_ name: String, partitions: Int32 = 2) async throws -> TopicMetadata {
        try await broker.createTopic(name: name, partitions: partitions)
    }
}

extension ManualClock {
    convenience init(start: Int64) {
        self.init()
        advance(start)
    }
}

/// The metadata of a consumer-protocol member subscribing to `topics` (int16 version + v1 body).
func subscription(_ topics: [String]) throws -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeKafkaInt16(1)
    try ConsumerProtocolSubscription(topics: topics).encode(to: &buffer, version: 1)
    return buffer
}

/// Runs `body` over a fresh broker and removes it afterwards.
func withBroker(configure: (inout BrokerSettings) -> Void = { _ in },
                _ body: (GroupsFixture) async throws -> Void) async throws {
    let fixture = try await GroupsFixture.make(configure: configure)
    do {
        try await body(fixture)
    } catch {
        await fixture.close()
        throw error
    }
    await fixture.close()
}

/// Polls until `condition` holds (parked requests need a moment to reach the coordinator).
func eventually(_ condition: () async -> Bool) async {
    for _ in 0..<1000 where !(await condition()) { try? await Task.sleep(for: .milliseconds(2)) }
}
