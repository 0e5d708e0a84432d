import NIOCore
import Testing
@testable import KafkaProtocol

/// `FetchResponse.encodeResponseSegments`: the segments put together are exactly what
/// `encodeResponse` writes, at every version, and large record sets are not copied.
@Suite struct FetchResponseSegmentsTests {
    func records(_ size: Int, seed: UInt8) -> ByteBuffer {
        ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) })
    }

    func sample(version: Int16) -> FetchResponse {
        var plain = FetchResponse.PartitionData(partitionIndex: 0, errorCode: 0, highWatermark: 100, lastStableOffset: 100,
                                                logStartOffset: 0, abortedTransactions: nil, records: records(40_000, seed: 1))
        if version >= 11 { plain.preferredReadReplica = -1 }
        let small = FetchResponse.PartitionData(partitionIndex: 1, highWatermark: 5, records: records(300, seed: 2))
        let empty = FetchResponse.PartitionData(partitionIndex: 2, errorCode: 1, highWatermark: -1, records: ByteBuffer())
        let null = FetchResponse.PartitionData(partitionIndex: 3, records: nil)
        let aborted = FetchResponse.PartitionData(partitionIndex: 4, highWatermark: 9,
                                                  abortedTransactions: [.init(producerId: 7, firstOffset: 3)],
                                                  records: records(20_000, seed: 3))
        var partitions = [plain, small, empty, null, aborted]
        if version >= 12 {
            // Tagged fields after the records: encoded with a copy.
            var tagged = FetchResponse.PartitionData(partitionIndex: 5, records: records(17_000, seed: 4))
            tagged.divergingEpoch = .init(epoch: 2, endOffset: 50)
            tagged.currentLeader = .init(leaderId: 1, leaderEpoch: 3)
            partitions.append(tagged)
        }
        var response = FetchResponse(throttleTimeMs: 5, errorCode: 0, sessionId: version >= 7 ? 0 : 0, responses: [
            .init(topic: "orders", topicId: KafkaUUID(mostSignificantBits: 1, leastSignificantBits: 2), partitions: partitions),
            .init(topic: "empty-topic", topicId: KafkaUUID(mostSignificantBits: 3, leastSignificantBits: 4), partitions: []),
            .init(topic: "events", topicId: KafkaUUID(mostSignificantBits: 5, leastSignificantBits: 6),
                  partitions: [.init(partitionIndex: 0, highWatermark: 1, records: records(65_536, seed: 5))]),
        ])
        if version >= 16 { response.nodeEndpoints = [.init(nodeId: 1, host: "localhost", port: 9092, rack: nil)] }
        return response
    }

    @Test func segmentsEqualTheContiguousEncodingAtEveryVersion() throws {
        for version in FetchResponse.validVersions {
            let response = sample(version: version)
            var expected = ByteBuffer()
            try response.encodeResponse(version: version, correlationId: 77, to: &expected)
            let segments = try response.encodeResponseSegments(version: version, correlationId: 77)
            var joined = ByteBuffer()
            for segment in segments { joined.writeImmutableBuffer(segment) }
            #expect(joined == expected, "v\(version)")
            // The three large record sets without tagged fields are segments of their own, not copies;
            // the one followed by tagged fields (v12+) is copied into a header segment.
            let sizes = segments.map(\.readableBytes)
            #expect(sizes.filter { [40_000, 20_000, 65_536].contains($0) } == [40_000, 20_000, 65_536], "v\(version)")
            #expect(!sizes.contains(17_000), "v\(version)")
            let (_, decoded) = try FetchResponse.decodeResponse(from: joined, version: version)
            #expect(decoded.responses.first?.partitions.first?.records == response.responses[0].partitions[0].records)
        }
    }

    @Test func largeRecordsAreTheReadBuffersThemselves() throws {
        let payload = records(100_000, seed: 9)
        let response = FetchResponse(responses: [.init(topic: "t", partitions: [.init(partitionIndex: 0, records: payload)])])
        let segments = try response.encodeResponseSegments(version: 11, correlationId: 1)
        #expect(segments.count == 3)
        let same = segments[1].withUnsafeReadableBytes { a in payload.withUnsafeReadableBytes { b in a.baseAddress == b.baseAddress } }
        #expect(same, "the records segment shares the storage of the buffer read from the log")
    }

    @Test func refusesWhatTheContiguousEncodingRefuses() {
        let response = FetchResponse(sessionId: 4)
        #expect(throws: KafkaProtocolError.self) { try response.encodeResponseSegments(version: 6, correlationId: 1) }
        #expect(throws: KafkaProtocolError.self) { try response.encodeResponseSegments(version: 18, correlationId: 1) }
    }
}
