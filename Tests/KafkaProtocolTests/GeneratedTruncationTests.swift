import KafkaProtocol
import NIOCore
import Testing

/// Every strict prefix of an encoded message must fail to decode (and restore the reader index),
/// never crash and never succeed.
@Suite struct GeneratedTruncationTests {
    @Test func produceRequestV9() throws {
        var records = ByteBuffer()
        records.writeRepeatingByte(7, count: 61)
        let value = ProduceRequest(
            transactionalId: "txn", acks: -1, timeoutMs: 30_000,
            topicData: [
                .init(name: "orders", partitionData: [.init(index: 0, records: records), .init(index: 1, records: nil)]),
                .init(name: "audit", partitionData: [.init(index: 3, records: records)]),
            ])
        try everyPrefixFails(value, version: 9)
    }

    @Test func fetchResponseV12() throws {
        var rng = TestRandom(seed: 12)
        var value = FetchResponse.random(version: 12, using: &rng)
        var partition = FetchResponse.PartitionData(partitionIndex: 1, highWatermark: 10, records: ByteBuffer(bytes: [1, 2, 3]))
        partition.divergingEpoch = .init(epoch: 3, endOffset: 99)  // a tagged struct
        value.responses.append(.init(topic: "t", partitions: [partition]))
        try everyPrefixFails(value, version: 12)
    }

    @Test func metadataResponseV12() throws {
        var rng = TestRandom(seed: 1212)
        var value = MetadataResponse.random(version: 12, using: &rng)
        value.brokers.append(.init(nodeId: 1, host: "localhost", port: 9092, rack: nil))
        try everyPrefixFails(value, version: 12)
    }

    @Test func apiVersionsRequestV3() throws {
        try everyPrefixFails(ApiVersionsRequest(clientSoftwareName: "librdkafka", clientSoftwareVersion: "2.16.0"), version: 3)
    }

    @Test func randomMessagesOfEveryApiAtTheirLatestVersion() throws {
        for type in allRandomizableMessageTypes() {
            try randomPrefixes(type)
        }
    }
}

private func randomPrefixes<M: RandomizableKafkaMessage>(_ type: M.Type) throws {
    var rng = TestRandom(name: M.messageName, version: M.validVersions.upperBound, sample: 99)
    try everyPrefixFails(M.random(version: M.validVersions.upperBound, using: &rng), version: M.validVersions.upperBound)
}

private func everyPrefixFails<M: KafkaMessage>(_ value: M, version: Int16) throws {
    var encoded = ByteBuffer()
    try value.encode(to: &encoded, version: version)
    var whole = encoded
    #expect(try M(from: &whole, version: version) == value)
    for length in 0..<encoded.readableBytes {
        var prefix = encoded.getSlice(at: encoded.readerIndex, length: length)!
        #expect(throws: KafkaProtocolError.self, "\(M.messageName) v\(version): prefix of \(length) bytes") {
            _ = try M(from: &prefix, version: version)
        }
        #expect(prefix.readerIndex == 0)
    }
}
