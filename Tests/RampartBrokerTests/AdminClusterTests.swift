import KafkaProtocol
import RampartStorage
import Testing
@testable import RampartBroker

@Suite struct DescribeClusterHandlerTests {
    @Test func describesThisNodeOnTheRequestsListener() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        let handler = DescribeClusterHandler(broker: t.broker)
        let response = try await t.serve(handler, DescribeClusterRequest(), version: 0, listener: "INTERNAL")
        #expect(response.errorCode == 0 && response.errorMessage == nil)
        #expect(response.clusterId == (await t.broker.metadata.current().clusterID))
        #expect(response.controllerId == AdminTestBroker.nodeID)
        #expect(response.brokers == [.init(brokerId: AdminTestBroker.nodeID, host: "10.0.0.1", port: 19093, rack: nil)])
        #expect(response.clusterAuthorizedOperations == Int32.min)

        let controllers = try await t.serve(handler, DescribeClusterRequest(includeClusterAuthorizedOperations: true, endpointType: 2), version: 1)
        #expect(controllers.errorCode == KafkaErrorCode.mismatchedEndpointType.rawValue)
        let brokers = try await t.serve(handler, DescribeClusterRequest(includeClusterAuthorizedOperations: true, endpointType: 1), version: 1)
        #expect(brokers.errorCode == 0 && brokers.brokers[0].port == 19092)
    }
}

@Suite struct DescribeLogDirsHandlerTests {
    @Test func listsPartitionsWithSizesAndTheFileSystemSpace() async throws {
        let t = try await AdminTestBroker()
        defer { Task { await t.close() } }
        try await t.createTopic("a", partitions: 2)
        try await t.createTopic("b")
        let log = try #require(await t.broker.logs.log(for: TopicPartition(topic: "a", partition: 1)))
        _ = try await log.append(AdminTestBroker.batch(count: 5), durability: .flushed)
        let size = await log.sizeInBytes
        #expect(size > 0)
        let handler = DescribeLogDirsHandler(broker: t.broker)
        let all = try await t.serve(handler, DescribeLogDirsRequest(topics: nil), version: 4)
        #expect(all.errorCode == 0 && all.results.count == 1)
        let dir = all.results[0]
        #expect(dir.errorCode == 0 && dir.logDir == t.directory)
        #expect(dir.topics.map(\.name) == ["a", "b"])
        #expect(dir.topics[0].partitions.map(\.partitionIndex) == [0, 1])
        #expect(dir.topics[0].partitions[1].partitionSize == size && dir.topics[0].partitions[1].offsetLag == 0)
        #expect(!dir.topics[0].partitions[1].isFutureKey)
        #expect(dir.totalBytes > 0 && dir.usableBytes >= 0 && dir.usableBytes <= dir.totalBytes)

        let some = try await t.serve(handler, DescribeLogDirsRequest(topics: [.init(topic: "a", partitions: [1, 9])]), version: 1)
        #expect(some.results[0].topics.map(\.name) == ["a"] && some.results[0].topics[0].partitions.map(\.partitionIndex) == [1])
        #expect(some.results[0].totalBytes == -1)
    }
}
