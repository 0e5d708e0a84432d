import RampartMetadata

/// One config as DescribeConfigs (and CreateTopics v5+) reports it.
public struct ConfigDescription: Sendable, Hashable {
    /// A key the value could come from, in precedence order (Kafka's synonyms).
    public struct Synonym: Sendable, Hashable {
        public var name: String
        public var value: String?
        public var source: ConfigSource
    }

    public var name: String
    /// nil for a sensitive value or a key without value.
    public var value: String?
    public var readOnly: Bool
    public var source: ConfigSource
    public var isSensitive: Bool
    /// The first synonym is the one in force (when any).
    public var synonyms: [Synonym]
    /// Kafka's `ConfigType` code.
    public var typeCode: Int8
    public var documentation: String
}

extension Broker {
    private var brokerConfigsByName: [String: BrokerConfigEntry] {
        Dictionary(settings.brokerConfigs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The broker-level synonyms of a topic config: those set in `server.properties` (static), then those
    /// with a default, each in Kafka's precedence order.
    func brokerSynonyms(_ definition: TopicConfigDefinition) -> [ConfigDescription.Synonym] {
        synonyms(of: definition.synonyms, brokerConfigs: brokerConfigsByName)
    }

    private func synonyms(of chain: [BrokerSynonym], brokerConfigs: [String: BrokerConfigEntry]) -> [ConfigDescription.Synonym] {
        var result: [ConfigDescription.Synonym] = []
        for synonym in chain {
            if let entry = brokerConfigs[synonym.name], entry.isExplicit {
                result.append(.init(name: synonym.name, value: entry.explicitValue, source: .staticBrokerConfig))
            }
        }
        for synonym in chain {
            // A key the broker defines reports its own default; others Kafka's.
            let defaultValue = brokerConfigs[synonym.name].map(\.defaultValue) ?? synonym.kafkaDefault
            if let defaultValue {
                result.append(.init(name: synonym.name, value: defaultValue, source: .defaultConfig))
            }
        }
        return result
    }

    /// The value a topic config takes when the topic does not set it: the first broker synonym set in
    /// `server.properties`, converted to the topic config's unit, else Kafka's default.
    func brokerDefault(_ definition: TopicConfigDefinition) -> String {
        let configs = brokerConfigsByName
        for synonym in definition.synonyms {
            guard let entry = configs[synonym.name], entry.isExplicit, let value = entry.explicitValue else { continue }
            guard synonym.multiplier != 1 else { return value }
            if let n = Int64(value) {
                let (product, overflow) = n.multipliedReportingOverflow(by: synonym.multiplier)
                return String(overflow ? Int64.max : product)
            }
        }
        return definition.defaultValue
    }

    /// The value in force for a topic config: the topic's override, else the broker default.
    public func effectiveTopicConfig(_ name: String, overrides: [String: String]) -> String? {
        guard let definition = TopicConfigCatalog.byName[name] else { return nil }
        return overrides[name] ?? brokerDefault(definition)
    }

    /// Every topic config (or only `keys`) of a topic with its value, source and synonyms.
    public func describeTopicConfigs(overrides: [String: String], keys: [String]? = nil) -> [ConfigDescription] {
        let wanted = keys.map(Set.init)
        return TopicConfigCatalog.all.filter { wanted?.contains($0.name) ?? true }.map { definition in
            var synonyms = brokerSynonyms(definition)
            if let value = overrides[definition.name] {
                synonyms.insert(.init(name: definition.name, value: value, source: .dynamicTopicConfig), at: 0)
            }
            return ConfigDescription(
                name: definition.name, value: overrides[definition.name] ?? brokerDefault(definition), readOnly: false,
                source: synonyms.first?.source ?? .defaultConfig, isSensitive: false, synonyms: synonyms,
                typeCode: definition.type.kafkaTypeCode, documentation: definition.documentation)
        }
    }

    /// Every broker config (or only `keys`) with its value, source and synonyms. Sensitive values are
    /// nil. All are read-only: Rampart does not change broker configs at runtime.
    public func describeBrokerConfigs(keys: [String]? = nil) -> [ConfigDescription] {
        let wanted = keys.map(Set.init)
        let configs = brokerConfigsByName
        return settings.brokerConfigs.filter { wanted?.contains($0.name) ?? true }.sorted { $0.name < $1.name }.map { entry in
            // Kafka lists the synonyms from the described key on (log.retention.minutes → minutes, hours).
            var chain = [BrokerSynonym(entry.name, default: nil)]
            if let group = TopicConfigCatalog.brokerSynonymGroups.first(where: { $0.contains { $0.name == entry.name } }),
               let start = group.firstIndex(where: { $0.name == entry.name }) {
                chain = Array(group[start...])
            }
            let synonyms = synonyms(of: chain, brokerConfigs: configs)
            return ConfigDescription(
                name: entry.name, value: entry.isSensitive ? nil : (entry.isExplicit ? entry.explicitValue : entry.defaultValue),
                readOnly: true, source: synonyms.first?.source ?? .defaultConfig, isSensitive: entry.isSensitive,
                synonyms: synonyms, typeCode: entry.typeCode, documentation: entry.documentation)
        }
    }
}
