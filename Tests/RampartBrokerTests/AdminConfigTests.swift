import KafkaProtocol
import RampartMetadata
import RampartStorage
import Testing
@testable import RampartBroker

@Suite struct DescribeConfigsHandlerTests {
    typealias Resource = DescribeConfigsRequest.DescribeConfigsResource

    @Test func topicDefaultsComeWithSourcesAndKafkaSynonyms() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        try await t.createTopic("t", configs: ["cleanup.policy": "compact"])
        let response = try await t.serve(DescribeConfigsHandler(broker: t.broker),
                                         DescribeConfigsRequest(resources: [Resource(resourceType: 2, resourceName: "t", configurationKeys: nil)],
                                                                includeSynonyms: true, includeDocumentation: true), version: 4)
        let result = response.results[0]
        #expect(result.errorCode == 0 && result.errorMessage == nil)
        let names = Set(result.configs.map(\.name))
        #expect(names.isSuperset(of: LogConfig.knownKeys))
        #expect(names.isSuperset(of: ["compression.type", "min.insync.replicas", "unclean.leader.election.enable"]))
        let retention = try #require(result.configs.first { $0.name == "retention.ms" })
        #expect(retention.value == "604800000" && retention.configSource == ConfigSource.defaultConfig.rawValue)
        #expect(retention.synonyms.map(\.name) == ["log.retention.hours"] && retention.synonyms[0].value == "168")
        #expect(retention.configType == 5 && retention.documentation?.isEmpty == false && !retention.readOnly && !retention.isSensitive)
        let cleanup = try #require(result.configs.first { $0.name == "cleanup.policy" })
        #expect(cleanup.value == "compact" && cleanup.configSource == ConfigSource.dynamicTopicConfig.rawValue)
        #expect(cleanup.synonyms.map(\.source) == [ConfigSource.dynamicTopicConfig.rawValue, ConfigSource.defaultConfig.rawValue])
        #expect(cleanup.synonyms.map(\.name) == ["cleanup.policy", "log.cleanup.policy"])
        #expect(cleanup.configType == 7)
        let compression = try #require(result.configs.first { $0.name == "compression.type" })
        #expect(compression.value == "producer")
    }

    @Test func staticBrokerValuesAreSynonymsAndDefaultsOfTopicConfigs() async throws {
        var defaults = LogConfig()
        defaults.retentionMs = 24 * 3_600_000
        let t = try await AdminTestBroker(explicit: ["log.retention.hours": "24", "log.segment.bytes": "1048576"], logDefaults: defaults)
        defer { Task { await t.close() } }
        try await t.createTopic("t")
        let response = try await t.serve(DescribeConfigsHandler(broker: t.broker), DescribeConfigsRequest(resources: [
            Resource(resourceType: 2, resourceName: "t", configurationKeys: ["retention.ms", "segment.bytes"]),
        ], includeSynonyms: true), version: 1)
        let configs = response.results[0].configs
        #expect(configs.map(\.name) == ["retention.ms", "segment.bytes"])
        let retention = configs[0]
        #expect(retention.value == "86400000" && retention.configSource == ConfigSource.staticBrokerConfig.rawValue)
        #expect(retention.synonyms.map(\.name) == ["log.retention.hours", "log.retention.hours"])
        #expect(retention.synonyms.map(\.source) == [ConfigSource.staticBrokerConfig.rawValue, ConfigSource.defaultConfig.rawValue])
        #expect(retention.synonyms.map(\.value) == ["24", "168"])
        // The described value is the one the logs use.
        #expect(String(await t.broker.logs.config(forTopic: "t").retentionMs) == retention.value)
        #expect(configs[1].value == "1048576" && configs[1].configSource == ConfigSource.staticBrokerConfig.rawValue)
    }

    @Test func version0ReportsIsDefaultAndNoSynonyms() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        try await t.createTopic("t", configs: ["retention.ms": "5000"])
        let response = try await t.serve(DescribeConfigsHandler(broker: t.broker),
                                         DescribeConfigsRequest(resources: [Resource(resourceType: 2, resourceName: "t", configurationKeys: nil)]),
                                         version: 0)
        let retention = try #require(response.results[0].configs.first { $0.name == "retention.ms" })
        #expect(retention.value == "5000" && !retention.isDefault && retention.synonyms.isEmpty)
        let segment = try #require(response.results[0].configs.first { $0.name == "segment.ms" })
        #expect(segment.isDefault)
    }

    @Test func brokerConfigsHideSensitiveValuesAndAreReadOnly() async throws {
        let t = try await AdminTestBroker(explicit: ["log.retention.hours": "24", "ssl.keystore.password": "hunter2", "num.partitions": "3"])
        defer { Task { await t.close() } }
        let response = try await t.serve(DescribeConfigsHandler(broker: t.broker), DescribeConfigsRequest(resources: [
            Resource(resourceType: 4, resourceName: "\(AdminTestBroker.nodeID)", configurationKeys: nil),
            Resource(resourceType: 4, resourceName: "", configurationKeys: nil),
            Resource(resourceType: 4, resourceName: "99", configurationKeys: nil),
            Resource(resourceType: 8, resourceName: "\(AdminTestBroker.nodeID)", configurationKeys: nil),
            Resource(resourceType: 2, resourceName: "missing", configurationKeys: nil),
            Resource(resourceType: 3, resourceName: "x", configurationKeys: nil),
        ], includeSynonyms: true, includeDocumentation: true), version: 3)
        let configs = response.results[0].configs
        #expect(response.results[0].errorCode == 0)
        #expect(configs.allSatisfy { $0.readOnly })
        let password = try #require(configs.first { $0.name == "ssl.keystore.password" })
        #expect(password.isSensitive && password.value == nil && password.synonyms.allSatisfy { $0.value == nil })
        #expect(password.configSource == ConfigSource.staticBrokerConfig.rawValue && password.configType == 9)
        let partitions = try #require(configs.first { $0.name == "num.partitions" })
        #expect(partitions.value == "3" && partitions.configSource == ConfigSource.staticBrokerConfig.rawValue)
        let minutes = try #require(configs.first { $0.name == "log.retention.minutes" })
        #expect(minutes.value == nil && minutes.synonyms.map(\.name) == ["log.retention.hours", "log.retention.hours"])
        let segment = try #require(configs.first { $0.name == "log.segment.bytes" })
        #expect(segment.value == "1073741824" && segment.configSource == ConfigSource.defaultConfig.rawValue)
        #expect(response.results[1].errorCode == 0)
        #expect(response.results[1].configs.isEmpty)
        #expect(response.results[2].errorCode == KafkaErrorCode.invalidRequest.rawValue)
        #expect(response.results[3].errorCode == KafkaErrorCode.invalidRequest.rawValue)
        #expect(response.results[4].errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue)
        #expect(response.results[5].errorCode == KafkaErrorCode.invalidRequest.rawValue)
    }
}

@Suite struct AlterConfigsHandlerTests {
    typealias Resource = AlterConfigsRequest.AlterConfigsResource

    @Test func replacesTheWholeSetPersistsItAndAppliesItToTheLogs() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        try await t.createTopic("t", partitions: 2, configs: ["retention.ms": "1000", "cleanup.policy": "compact"])
        let handler = AlterConfigsHandler(broker: t.broker)
        let response = try await t.serve(handler, AlterConfigsRequest(resources: [
            Resource(resourceType: 2, resourceName: "t", configs: [.init(name: "segment.bytes", value: "2048"), .init(name: "retention.ms", value: "3000")]),
        ]), version: 2)
        #expect(response.responses[0].errorCode == 0 && response.responses[0].errorMessage == nil)
        #expect(await t.broker.metadata.current().topics["t"]?.configs == ["segment.bytes": "2048", "retention.ms": "3000"])
        let log = try #require(await t.broker.logs.log(for: TopicPartition(topic: "t", partition: 1)))
        let applied = await log.config
        #expect(applied.segmentBytes == 2048 && applied.retentionMs == 3000 && applied.cleanupPolicy == .delete)

        try await t.restart()
        #expect(await t.broker.metadata.current().topics["t"]?.configs == ["segment.bytes": "2048", "retention.ms": "3000"])
        let reopened = try #require(await t.broker.logs.log(for: TopicPartition(topic: "t", partition: 1)))
        let reloaded = await reopened.config
        #expect(reloaded.segmentBytes == 2048 && reloaded.retentionMs == 3000)
        let described = t.broker.describeTopicConfigs(overrides: await t.broker.metadata.current().topics["t"]!.configs, keys: ["segment.bytes"])
        #expect(described[0].value == "2048" && described[0].source == .dynamicTopicConfig)

        // An empty set returns every config to its default.
        let cleared = try await t.serve(AlterConfigsHandler(broker: t.broker), AlterConfigsRequest(resources: [Resource(resourceType: 2, resourceName: "t", configs: [])]), version: 0)
        #expect(cleared.responses[0].errorCode == 0)
        #expect(await reopened.config.segmentBytes == 1_073_741_824)
    }

    @Test func anInvalidChangeAppliesNothingAndValidateOnlyChangesNothing() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        try await t.createTopic("t", configs: ["retention.ms": "1000"])
        let handler = AlterConfigsHandler(broker: t.broker)
        let bad = try await t.serve(handler, AlterConfigsRequest(resources: [
            Resource(resourceType: 2, resourceName: "t", configs: [.init(name: "segment.bytes", value: "2048"), .init(name: "no.such.key", value: "1")]),
            Resource(resourceType: 2, resourceName: "missing", configs: []),
            Resource(resourceType: 4, resourceName: "1", configs: [.init(name: "num.partitions", value: "3")]),
        ]), version: 1)
        #expect(bad.responses[0].errorCode == KafkaErrorCode.invalidConfig.rawValue)
        #expect(bad.responses[0].errorMessage?.contains("no.such.key") == true)
        #expect(bad.responses[1].errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue)
        #expect(bad.responses[2].errorCode == KafkaErrorCode.invalidRequest.rawValue)
        #expect(bad.responses[2].errorMessage?.contains("server.properties") == true)
        #expect(await t.broker.metadata.current().topics["t"]?.configs == ["retention.ms": "1000"])
        #expect(await t.broker.logs.config(forTopic: "t").segmentBytes == 1_073_741_824)

        let dry = try await t.serve(handler, AlterConfigsRequest(resources: [
            Resource(resourceType: 2, resourceName: "t", configs: [.init(name: "segment.bytes", value: "2048")]),
        ], validateOnly: true), version: 1)
        #expect(dry.responses[0].errorCode == 0)
        #expect(await t.broker.metadata.current().topics["t"]?.configs == ["retention.ms": "1000"])
    }
}

@Suite struct IncrementalAlterConfigsHandlerTests {
    typealias Resource = IncrementalAlterConfigsRequest.AlterConfigsResource
    typealias Config = IncrementalAlterConfigsRequest.AlterableConfig

    @Test func setDeleteAppendAndSubtract() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        try await t.createTopic("t", configs: ["retention.ms": "1000", "segment.bytes": "4096"])
        let handler = IncrementalAlterConfigsHandler(broker: t.broker)
        let first = try await t.serve(handler, IncrementalAlterConfigsRequest(resources: [Resource(resourceType: 2, resourceName: "t", configs: [
            Config(name: "retention.ms", configOperation: 0, value: "2000"),
            Config(name: "segment.bytes", configOperation: 1, value: nil),
            Config(name: "cleanup.policy", configOperation: 2, value: "compact"),
        ])]), version: 1)
        #expect(first.responses[0].errorCode == 0)
        #expect(await t.broker.metadata.current().topics["t"]?.configs == ["retention.ms": "2000", "cleanup.policy": "delete,compact"])
        #expect(await t.broker.logs.config(forTopic: "t").cleanupPolicy == [.delete, .compact])

        let second = try await t.serve(handler, IncrementalAlterConfigsRequest(resources: [Resource(resourceType: 2, resourceName: "t", configs: [
            Config(name: "cleanup.policy", configOperation: 3, value: "delete"),
        ])]), version: 0)
        #expect(second.responses[0].errorCode == 0)
        #expect(await t.broker.metadata.current().topics["t"]?.configs["cleanup.policy"] == "compact")
        #expect(await t.broker.logs.config(forTopic: "t").cleanupPolicy == .compact)
        try await t.restart()
        #expect(await t.broker.logs.config(forTopic: "t").cleanupPolicy == .compact)
        #expect(await t.broker.logs.config(forTopic: "t").retentionMs == 2000)
    }

    @Test func refusesBadOperationsWithoutApplyingAnything() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        try await t.createTopic("t", configs: ["retention.ms": "1000"])
        let handler = IncrementalAlterConfigsHandler(broker: t.broker)
        let response = try await t.serve(handler, IncrementalAlterConfigsRequest(resources: [
            Resource(resourceType: 2, resourceName: "t", configs: [
                Config(name: "retention.ms", configOperation: 0, value: "5"),
                Config(name: "segment.ms", configOperation: 2, value: "10"),
            ]),
            Resource(resourceType: 2, resourceName: "t2", configs: [Config(name: "retention.ms", configOperation: 0, value: "5")]),
            Resource(resourceType: 2, resourceName: "t2", configs: []),
            Resource(resourceType: 4, resourceName: "1", configs: [Config(name: "log.retention.hours", configOperation: 0, value: "1")]),
        ]), version: 1)
        #expect(response.responses[0].errorCode == KafkaErrorCode.invalidConfig.rawValue)
        #expect(response.responses[1].errorCode == KafkaErrorCode.invalidRequest.rawValue)
        #expect(response.responses[2].errorCode == KafkaErrorCode.invalidRequest.rawValue)
        #expect(response.responses[3].errorCode == KafkaErrorCode.invalidRequest.rawValue)
        #expect(await t.broker.metadata.current().topics["t"]?.configs == ["retention.ms": "1000"])

        let badValue = try await t.serve(handler, IncrementalAlterConfigsRequest(resources: [
            Resource(resourceType: 2, resourceName: "t", configs: [Config(name: "min.insync.replicas", configOperation: 0, value: "2")]),
        ], validateOnly: true), version: 1)
        #expect(badValue.responses[0].errorCode == KafkaErrorCode.invalidConfig.rawValue)
        #expect(badValue.responses[0].errorMessage?.contains("min.insync.replicas") == true)
    }
}
