import KafkaProtocol
import Logging
import NIOCore
import NIOEmbedded
import RampartBroker
import RampartMetadata
import RampartStorage
import Testing

/// `KafkaConnectionHandler`: pipelined Produce requests (started while earlier ones wait for their
/// fsync) are written and answered in request order; with `writesFrames` a Fetch answer leaves as
/// several buffers that together form one correct frame.
@Suite struct ConnectionPipelineTests {
    let plaintext = ConnectionInfo(listenerName: "PLAINTEXT", clientHost: "127.0.0.1", principal: .anonymous)

    func connect(_ fixture: BrokerFixture, writesFrames: Bool) async throws -> NIOAsyncTestingChannel {
        let dispatcher = RequestDispatcher(registry: fixture.registry, logger: Logger(label: "test"))
        let connection = plaintext
        let channel = try await NIOAsyncTestingChannel { channel in
            try channel.pipeline.syncOperations.addHandler(
                KafkaConnectionHandler(dispatcher: dispatcher, connection: connection, logger: Logger(label: "test"),
                                       writesFrames: writesFrames))
        }
        try await channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 9092))
        return channel
    }

    func produceRequest(_ topic: String, _ i: Int) -> ProduceRequest {
        ProduceRequest(acks: -1, timeoutMs: 1000, topicData: [
            .init(name: topic, partitionData: [.init(index: 0, records: BrokerFixture.batch(count: 2, prefix: "r\(i)-"))]),
        ])
    }

    @Test func pipelinedProducesAreAnsweredInOrder() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.broker.createTopic(name: "p")
        let channel = try await connect(fixture, writesFrames: false)
        // Six acks=all Produce requests and, in the middle, a Metadata request (which waits for the
        // Produce requests before it), all sent at once.
        for i in 0..<7 {
            let frame = i == 3
                ? try requestFrame(MetadataRequest(topics: [.init(name: "p")]), version: 9, correlationId: Int32(i))
                : try requestFrame(produceRequest("p", i), version: 9, correlationId: Int32(i))
            try await channel.writeInbound(frame)
        }
        var offsets: [Int64] = []
        for i in 0..<7 {
            let bytes = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
            if i == 3 {
                let (header, body) = try MetadataResponse.decodeResponse(from: bytes, version: 9)
                #expect(header.correlationId == 3)
                #expect(body.topics.first?.name == "p")
                continue
            }
            let (header, body) = try ProduceResponse.decodeResponse(from: bytes, version: 9)
            #expect(header.correlationId == Int32(i))
            let partition = try #require(body.responses.first?.partitionResponses.first)
            #expect(partition.errorCode == 0)
            offsets.append(partition.baseOffset)
        }
        // Batches were written in request order.
        #expect(offsets == [0, 2, 4, 6, 8, 10])
        let log = try #require(await fixture.broker.logs.log(for: .init(topic: "p", partition: 0)))
        #expect(await log.highWatermark == 12)
        #expect(await log.recoveryPoint == 12)
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }

    @Test func fetchAnswerIsWrittenAsSegmentsOfOneFrame() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.broker.createTopic(name: "f")
        let large = String(repeating: "x", count: 1000)
        for i in 0..<3 {
            let request = ProduceRequest(acks: 1, timeoutMs: 1000, topicData: [
                .init(name: "f", partitionData: [.init(index: 0, records: BrokerFixture.batch(count: 30, prefix: "\(i)\(large)"))]),
            ])
            _ = try await fixture.send(request, version: 9)
        }
        let channel = try await connect(fixture, writesFrames: true)
        let id = try #require(await fixture.broker.metadata.current().topics["f"]?.id)
        let topicId = KafkaUUID(mostSignificantBits: id.mostSignificantBits, leastSignificantBits: id.leastSignificantBits)
        for version: Int16 in [4, 11, 12, 13, 16] {
            let request = FetchRequest(maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 22, topics: [
                .init(topic: "f", topicId: topicId,
                      partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 22)]),
            ])
            try await channel.writeInbound(try requestFrame(request, version: version, correlationId: Int32(version)))
            var frame = ByteBuffer()
            var writes = 0
            while frame.readableBytes < 4 || frame.readableBytes < 4 + Int(frame.getInteger(at: frame.readerIndex, as: Int32.self)!) {
                var part = try await channel.waitForOutboundWrite(as: ByteBuffer.self)
                frame.writeBuffer(&part)
                writes += 1
            }
            #expect(writes >= 2, "the records went out as their own buffer (v\(version))")
            let size = Int(frame.readInteger(as: Int32.self)!)
            #expect(frame.readableBytes == size)
            let (header, body) = try FetchResponse.decodeResponse(from: frame, version: version)
            #expect(header.correlationId == Int32(version))
            let partition = try #require(body.responses.first?.partitions.first)
            #expect(partition.errorCode == 0)
            #expect(partition.highWatermark == 90)
            let batches = try RecordBatchReader.readAll(try #require(partition.records), allowPartialTrailingBatch: false)
            #expect(batches.count == 3)
        }
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }
}
