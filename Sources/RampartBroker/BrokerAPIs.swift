import KafkaProtocol

/// The APIs this broker serves. One handler per API key, each in its own file under `Handlers/`.
public enum BrokerAPIs {
    public static func registry(for broker: Broker) -> KafkaAPIRegistry {
        var registry = KafkaAPIRegistry()
        registry.register(ProduceHandler(broker: broker))
        registry.register(FetchHandler(broker: broker))
        registry.register(ListOffsetsHandler(broker: broker))
        registry.register(MetadataHandler(broker: broker))
        registry.register(InitProducerIdHandler(broker: broker))
        registry.register(OffsetForLeaderEpochHandler(broker: broker))
        // ApiVersions lists everything registered, itself included.
        var withSelf = registry
        withSelf.register(ApiVersionsHandler(apiVersions: []))
        registry.register(ApiVersionsHandler(apiVersions: withSelf.apiVersions))
        return registry
    }
}
