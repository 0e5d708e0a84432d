import KafkaProtocol

/// The APIs this broker serves. One handler per API key, each in its own file under `Handlers/`.
public enum BrokerAPIs {
    public static func registry(for broker: Broker) -> KafkaAPIRegistry {
        var registry = KafkaAPIRegistry()
        registry.register(ProduceHandler(broker: broker))
        registry.register(FetchHandler(broker: broker))
        registry.register(ListOffsetsHandler(broker: broker))
        registry.register(MetadataHandler(broker: broker))
        registry.register(OffsetCommitHandler(broker: broker))
        registry.register(OffsetFetchHandler(broker: broker))
        registry.register(FindCoordinatorHandler(broker: broker))
        registry.register(JoinGroupHandler(broker: broker))
        registry.register(HeartbeatHandler(broker: broker))
        registry.register(LeaveGroupHandler(broker: broker))
        registry.register(SyncGroupHandler(broker: broker))
        registry.register(DescribeGroupsHandler(broker: broker))
        registry.register(ListGroupsHandler(broker: broker))
        registry.register(SaslHandshakeHandler())
        registry.register(CreateTopicsHandler(broker: broker))
        registry.register(DeleteTopicsHandler(broker: broker))
        registry.register(DeleteRecordsHandler(broker: broker))
        registry.register(InitProducerIdHandler(broker: broker))
        registry.register(OffsetForLeaderEpochHandler(broker: broker))
        registry.register(DescribeAclsHandler(broker: broker))
        registry.register(CreateAclsHandler(broker: broker))
        registry.register(DeleteAclsHandler(broker: broker))
        registry.register(DescribeConfigsHandler(broker: broker))
        registry.register(AlterConfigsHandler(broker: broker))
        registry.register(DescribeLogDirsHandler(broker: broker))
        registry.register(SaslAuthenticateHandler())
        registry.register(CreatePartitionsHandler(broker: broker))
        registry.register(DeleteGroupsHandler(broker: broker))
        registry.register(IncrementalAlterConfigsHandler(broker: broker))
        registry.register(OffsetDeleteHandler(broker: broker))
        registry.register(DescribeUserScramCredentialsHandler(broker: broker))
        registry.register(AlterUserScramCredentialsHandler(broker: broker))
        registry.register(DescribeClusterHandler(broker: broker))
        // ApiVersions lists everything registered, itself included.
        var withSelf = registry
        withSelf.register(ApiVersionsHandler(apiVersions: []))
        registry.register(ApiVersionsHandler(apiVersions: withSelf.apiVersions))
        return registry
    }
}
