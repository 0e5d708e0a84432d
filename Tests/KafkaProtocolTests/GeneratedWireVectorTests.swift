import KafkaProtocol
import NIOCore
import Testing

/// Hand-assembled bytes following the Kafka protocol guide, so the generated layout is checked against
/// the specification and not only against itself.
@Suite struct GeneratedWireVectorTests {
    @Test func metadataRequestV0() throws {
        let request = MetadataRequest(topics: [.init(name: "ab")])
        var buffer = ByteBuffer()
        try request.encode(to: &buffer, version: 0)
        #expect(Array(buffer.readableBytesView) == [0, 0, 0, 1, 0, 2, 0x61, 0x62])
    }

    @Test func produceRequestV9Flexible() throws {
        let request = ProduceRequest(
            transactionalId: nil, acks: -1, timeoutMs: 1000,
            topicData: [.init(name: "t", partitionData: [.init(index: 2, records: ByteBuffer(bytes: [9, 9, 9]))])])
        var buffer = ByteBuffer()
        try request.encode(to: &buffer, version: 9)
        let expected: [UInt8] = [
            0x00,  // transactionalId: compact nullable string, null
            0xFF, 0xFF,  // acks -1
            0x00, 0x00, 0x03, 0xE8,  // timeoutMs 1000
            0x02,  // topicData: compact array of 1
            0x02, 0x74,  // name "t"
            0x02,  // partitionData: 1
            0x00, 0x00, 0x00, 0x02,  // index 2
            0x04, 9, 9, 9,  // records: compact bytes of 3
            0x00,  // partition tagged fields
            0x00,  // topic tagged fields
            0x00,  // request tagged fields
        ]
        #expect(Array(buffer.readableBytesView) == expected)
    }

    @Test func nullableStructUsesAMarkerByte() throws {
        var response = ConsumerGroupHeartbeatResponse()
        response.assignment = nil
        var buffer = ByteBuffer()
        try response.encode(to: &buffer, version: 0)
        // throttle(4) errorCode(2) errorMessage(null=0) memberId(null=0) epoch(4) interval(4) assignment(-1) tags(0)
        #expect(buffer.getInteger(at: buffer.writerIndex - 2, as: Int8.self) == -1)
        response.assignment = .init(topicPartitions: [])
        var present = ByteBuffer()
        try response.encode(to: &present, version: 0)
        // marker 1, empty compact array (1), struct tags (0), message tags (0)
        #expect(Array(present.readableBytesView.suffix(4)) == [1, 1, 0, 0])
        #expect(try ConsumerGroupHeartbeatResponse(from: &present, version: 0) == response)
    }

    @Test func taggedFieldLayout() throws {
        var request = FetchRequest()
        request.clusterId = "c"
        request.replicaId = -1
        var buffer = ByteBuffer()
        try request.encode(to: &buffer, version: 12)
        // The request's tagged section is last: count 1, tag 0, size 2, compact string "c".
        #expect(Array(buffer.readableBytesView.suffix(5)) == [1, 0, 2, 2, 0x63])
    }
}
