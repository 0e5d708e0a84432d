import Foundation
import KafkaProtocol
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import RampartCLI
@testable import RampartServer
import RampartStorage

/// The operations endpoint: settings and token rules, /metrics and /health over HTTP, a broker serving it.
@Suite struct MetricsEndpointTests {
    static func temporaryDirectory() throws -> String {
        let directory = NSTemporaryDirectory() + "rampart-metrics-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    static func tokenFile(_ directory: String, token: String, mode: Int) throws -> String {
        let path = directory + "/token"
        try "\(token)\n".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    /// Sends one HTTP/1.1 request (Connection: close) and returns the status code and body.
    static func get(_ port: Int, _ path: String, token: String? = nil) async throws -> (Int, String) {
        let group = MultiThreadedEventLoopGroup.singleton
        let collector = ResponseCollector()
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { $0.pipeline.addHandler(collector) }
            .connect(host: "127.0.0.1", port: port).get()
        var request = "GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        request += "\r\n"
        try await channel.writeAndFlush(ByteBuffer(string: request)).get()
        try await channel.closeFuture.get()
        let text = collector.text
        let statusLine = text.split(separator: "\r\n", maxSplits: 1).first ?? ""
        let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? -1
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, body)
    }

    final class ResponseCollector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        private let received = Mutex("")
        var text: String { received.withLock { $0 } }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let chunk = String(buffer: unwrapInboundIn(data))
            received.withLock { $0 += chunk }
        }
    }

    @Test func settingsRequireATokenOffLoopback() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try MetricsEndpoint.Settings.parse(listener: "127.0.0.1:9644", tokenFile: nil)
                == .init(host: "127.0.0.1", port: 9644, token: nil))
        #expect(try MetricsEndpoint.Settings.parse(listener: "[::1]:9644", tokenFile: nil).host == "::1")
        #expect { try MetricsEndpoint.Settings.parse(listener: "0.0.0.0:9644", tokenFile: nil) } throws: {
            "\($0)".contains("rampart.metrics.token.file")
        }
        #expect { try MetricsEndpoint.Settings.parse(listener: "9644", tokenFile: nil) } throws: { "\($0)".contains("host:port") }
        let open = try Self.tokenFile(directory, token: "s3cret", mode: 0o644)
        #expect { try MetricsEndpoint.Settings.parse(listener: "0.0.0.0:9644", tokenFile: open) } throws: {
            "\($0)".contains("chmod 600") && !"\($0)".contains("s3cret")
        }
        let closed = try Self.tokenFile(directory, token: "s3cret", mode: 0o600)
        #expect(try MetricsEndpoint.Settings.parse(listener: "0.0.0.0:9644", tokenFile: closed).token == "s3cret")
    }

    @Test func serverRefusesANonLoopbackEndpointWithoutToken() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = try BrokerConfig(properties: [
            "listeners": "PLAINTEXT://127.0.0.1:0", "rampart.insecure.allow.plaintext": "true", "log.dirs": directory,
            "rampart.metrics.listener": "0.0.0.0:0",
        ])
        let server = BrokerServer(config: config, logger: Logger(label: "test"), eventLoopThreads: 1)
        await #expect { try await server.start() } throws: { "\($0)".contains("rampart.metrics.token.file") }
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func tokenAndHealthOverHTTP() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let group = MultiThreadedEventLoopGroup.singleton
        let healthy = Mutex(false)
        let settings = try MetricsEndpoint.Settings.parse(listener: "127.0.0.1:0", tokenFile: Self.tokenFile(directory, token: "tok", mode: 0o600))
        let endpoint = try await MetricsEndpoint.start(
            settings: settings, group: group, scrape: { Array("# TYPE x counter\nx 1\n".utf8) },
            health: { healthy.withLock { $0 } ? .ok : .unavailable(["partition t-0 is offline: \"bad\"\nsegment"]) })
        let port = try #require(endpoint.localAddress?.port)
        #expect(try await Self.get(port, "/metrics").0 == 401)
        #expect(try await Self.get(port, "/metrics", token: "tox").0 == 401)
        let (status, body) = try await Self.get(port, "/metrics", token: "tok")
        #expect(status == 200 && body == "# TYPE x counter\nx 1\n")
        let (down, reason) = try await Self.get(port, "/health", token: "tok")
        #expect(down == 503)
        let decoded = try JSONSerialization.jsonObject(with: Data(reason.utf8)) as? [String: Any]
        #expect(decoded?["status"] as? String == "unavailable")
        #expect(decoded?["reason"] as? String == "partition t-0 is offline: \"bad\"\nsegment")
        healthy.withLock { $0 = true }
        let (up, ok) = try await Self.get(port, "/health", token: "tok")
        #expect(up == 200 && ok == #"{"status":"ok"}"#)
        #expect(try await Self.get(port, "/nope", token: "tok").0 == 404)
        await endpoint.close()
    }

    @Test func brokerServesMetricsAndHealth() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = try BrokerConfig(properties: [
            "listeners": "PLAINTEXT://127.0.0.1:0", "rampart.insecure.allow.plaintext": "true", "log.dirs": directory,
            "rampart.metrics.listener": "127.0.0.1:0",
        ])
        let server = BrokerServer(config: config, logger: Logger(label: "test"), eventLoopThreads: 1)
        try await server.start()
        let port = try #require(server.metricsAddress?.port)
        _ = try await server.broker?.createTopic(name: "metrics-t", partitions: 2, replicationFactor: 1, configs: [:])
        let (healthStatus, health) = try await Self.get(port, "/health")
        #expect(healthStatus == 200 && health == #"{"status":"ok"}"#)
        let (status, metrics) = try await Self.get(port, "/metrics")
        #expect(status == 200)
        #expect(metrics.contains("rampart_under_replicated_partitions 0"))
        #expect(metrics.contains(#"rampart_partition_log_end_offset{topic="metrics-t",partition="1"} 0"#))
        await server.shutdown(timeout: .seconds(1))
    }

    @Test func logLinesCannotBeForged() throws {
        let evil = "bob\n2026-01-01T00:00:00Z INFO [rampart.server] authenticated principal=User:admin"
        let text = LineLogHandler.render(timestamp: "T", level: .info, label: "l", message: "hello \(evil)",
                                         metadata: ["client": evil, "clientId": "a=b \"c\"", "empty": ""], json: false)
        #expect(!text.contains("\n"))
        #expect(text.contains(#"client="bob\n2026"#))
        #expect(text.contains(#"clientId="a=b \"c\"""#))
        #expect(text.contains(#"empty="""#))
        #expect(LineLogHandler.render(timestamp: "T", level: .info, label: "l", message: "a\u{1B}[31mb\u{7}", metadata: [:], json: false)
                == #"T INFO [l] a\u{1b}[31mb\u{7}"#)
        let json = LineLogHandler.render(timestamp: "T", level: .warning, label: "l", message: "m\"\\\u{0}",
                                         metadata: ["client": evil, "msg": "forged", "x": "\u{2028}"], json: true)
        #expect(!json.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String])
        #expect(object == ["ts": "T", "level": "warning", "logger": "l", "msg": "m\"\\\u{0}", "client": evil, "x": "\u{2028}"])
    }

    @Test func healthTurns503WhenAPartitionGoesOfflineAndBackWhenItIsGone() async throws {
        let fs = FaultInjectingFileSystem()
        let logs = LogManager(config: LogManagerConfig(logDirs: ["/data"]), fileSystem: fs)
        _ = try await logs.startup()
        let tp = TopicPartition(topic: "orders", partition: 0)
        let log = try await logs.createLog(tp)
        func batch() throws -> ByteBuffer {
            var buffer = ByteBuffer()
            try RecordBatch(records: [Record(offsetDelta: 0, timestampDelta: 0, key: nil, value: ByteBuffer(string: "v"))],
                            baseTimestamp: 1_700_000_000_000, compression: .none, isControl: false).write(to: &buffer)
            return buffer
        }
        _ = try await log.append(try batch(), durability: .flushed)
        #expect(await BrokerServer.health(listenersDown: [], logs: logs) == .ok)
        #expect(await BrokerServer.health(listenersDown: ["SSL"], logs: logs) == .unavailable(["listener SSL is not bound"]))
        fs.failSync { $0.hasSuffix(".log") }
        _ = try? await log.append(try batch(), durability: .flushed)
        fs.failSync(where: nil)
        guard case .unavailable(let reasons) = await BrokerServer.health(listenersDown: [], logs: logs) else {
            Issue.record("an offline partition should make /health unavailable")
            return
        }
        #expect(reasons.count == 1 && reasons[0].hasPrefix("partition orders-0 is offline: fsync failed"))
        try await logs.deleteLog(tp)
        #expect(await BrokerServer.health(listenersDown: [], logs: logs) == .ok)
    }

    @Test func perSubsystemLevels() throws {
        #expect(try LoggingSetup.parseOverrides("RampartStorage=debug, rampart.storage = WARNING")
                == ["RampartStorage": .debug, "rampart.storage": .warning])
        #expect(throws: LoggingSetupError.self) { try LoggingSetup.parseOverrides("RampartStorage") }
        #expect(throws: LoggingSetupError.self) { try LoggingSetup.parseOverrides("RampartStorage=loud") }
        var handler = LineLogHandler(label: "rampart.storage.orders-0", json: false)
        handler.defaultLevel = .info
        handler.subsystemLevels = ["rampart.storage": .warning, "RampartSASL": .trace]
        #expect(handler.threshold(source: "RampartStorage") == .warning)
        #expect(handler.threshold(source: "RampartSASL") == .trace)
        var server = LineLogHandler(label: "rampart.server", json: false)
        server.defaultLevel = .info
        server.subsystemLevels = ["rampart.storage": .warning]
        #expect(server.threshold(source: "RampartBroker") == .info)
    }
}
