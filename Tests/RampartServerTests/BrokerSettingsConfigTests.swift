import RampartBroker
import Testing
@testable import RampartServer

@Suite struct BrokerSettingsConfigTests {
    @Test func brokerSettingsCarryEveryKeyWithExplicitValuesMarked() throws {
        let config = try BrokerConfig(properties: [
            "listeners": "PLAINTEXT://127.0.0.1:9092", "rampart.insecure.allow.plaintext": "true",
            "log.retention.hours": "24", "num.partitions": "3",
        ])
        let settings = BrokerServer.brokerSettings(config, listeners: config.listeners)
        let entries = Dictionary(uniqueKeysWithValues: settings.brokerConfigs.map { ($0.name, $0) })
        #expect(entries.count == BrokerConfigKeys.all.count)
        #expect(entries["log.retention.hours"]?.isExplicit == true && entries["log.retention.hours"]?.explicitValue == "24")
        #expect(entries["log.retention.hours"]?.defaultValue == "168")
        #expect(entries["log.segment.bytes"]?.isExplicit == false && entries["log.segment.bytes"]?.defaultValue == "1073741824")
        #expect(entries["num.partitions"]?.explicitValue == "3")
        for definition in BrokerConfigKeys.all where definition.isSensitive {
            #expect(entries[definition.name]?.explicitValue == nil && entries[definition.name]?.defaultValue == nil)
        }
    }

    @Test func sensitiveValuesNeverReachTheSettings() {
        let entry = BrokerConfigEntry(name: "ssl.key.password", explicitValue: "secret", isExplicit: true, defaultValue: "x",
                                      isSensitive: true, typeCode: 9, documentation: "")
        #expect(entry.explicitValue == nil && entry.defaultValue == nil && entry.isExplicit)
    }
}
