import KafkaProtocol
import NIOCore
import RampartBroker
import RampartStorage
import Testing

/// Produce, Fetch, ListOffsets, Metadata, InitProducerId, OffsetForLeaderEpoch and ApiVersions through
/// their handlers, with requests and responses taken through the wire encoding at each version.
@Suite struct DataPathHandlerTests {
    func produce(_ fixture: BrokerFixture, topic: String, partition: Int32 = 0, records: ByteBuffer?, acks: Int16 = -1,
                 version: Int16 = 9) async throws -> ProduceResponse.PartitionProduceResponse {
        let request = ProduceRequest(acks: acks, timeoutMs: 1000, topicData: [
            .init(name: topic, partitionData: [.init(index: partition, records: records)]),
        ])
        let response = try await fixture.send(request, version: version)
        return try #require(response.responses.first?.partitionResponses.first)
    }

    func fetch(_ fixture: BrokerFixture, topic: String, offset: Int64, version: Int16 = 11, maxWaitMs: Int32 = 0,
               minBytes: Int32 = 0, maxBytes: Int32 = 1 << 20) async throws -> FetchResponse.PartitionData {
        let request = FetchRequest(maxWaitMs: maxWaitMs, minBytes: minBytes, maxBytes: maxBytes, topics: [
            .init(topic: topic, partitions: [.init(partition: 0, fetchOffset: offset, partitionMaxBytes: 1 << 20)]),
        ])
        let response = try await fixture.send(request, version: version)
        return try #require(response.responses.first?.partitions.first)
    }

    @Test func metadataAutoCreatesAndListsTopics() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        for version: Int16 in [0, 4, 9, 12] {
            let name = "auto-\(version)"
            let response = try await fixture.send(MetadataRequest(topics: [.init(name: name)], allowAutoTopicCreation: true), version: version)
            #expect(response.brokers.map(\.nodeId) == [1])
            #expect(response.brokers.first?.port == 9092)
            let topic = try #require(response.topics.first)
            #expect(topic.errorCode == 0, "v\(version)")
            #expect(topic.partitions.map(\.partitionIndex) == [0])
            #expect(topic.partitions.first?.leaderId == 1)
        }
        // v4+ honours allowAutoTopicCreation=false.
        let refused = try await fixture.send(MetadataRequest(topics: [.init(name: "nope")], allowAutoTopicCreation: false), version: 9)
        #expect(refused.topics.first?.errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue)
        let invalid = try await fixture.send(MetadataRequest(topics: [.init(name: "bad name!")], allowAutoTopicCreation: true), version: 9)
        #expect(invalid.topics.first?.errorCode == KafkaErrorCode.invalidTopic.rawValue)
        // Null topics: everything.
        let all = try await fixture.send(MetadataRequest(topics: nil), version: 9)
        #expect(all.topics.compactMap(\.name).sorted() == ["auto-0", "auto-12", "auto-4", "auto-9"])
        #expect(all.clusterId?.isEmpty == false)
    }

    @Test func produceThenFetchEveryCodec() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.broker.createTopic(name: "t")
        var expectedOffset: Int64 = 0
        for codec in [CompressionCodec.none, .gzip, .snappy, .lz4, .zstd] {
            let result = try await produce(fixture, topic: "t", records: BrokerFixture.batch(count: 10, prefix: "\(codec)-", compression: codec))
            #expect(result.errorCode == 0, "\(codec)")
            #expect(result.baseOffset == expectedOffset)
            expectedOffset += 10
        }
        let data = try await fetch(fixture, topic: "t", offset: 0)
        #expect(data.errorCode == 0)
        #expect(data.highWatermark == 50)
        #expect(data.logStartOffset == 0)
        let batches = try RecordBatchReader.readAll(try #require(data.records), allowPartialTrailingBatch: true)
        #expect(batches.count == 5)
        var values: [String] = []
        for batch in batches {
            var records = try batch.records()
            while let record = try records.next() { values.append(String(buffer: record.value!)) }
        }
        #expect(values.count == 50)
        #expect(values.first == "none-0" && values.last == "zstd-9")

        // From the middle of a batch: the whole batch comes back.
        let middle = try await fetch(fixture, topic: "t", offset: 13)
        let first = try RecordBatchReader.readAll(try #require(middle.records), allowPartialTrailingBatch: true).first
        #expect(first?.header.baseOffset == 10)
        // At the end: empty, no error. Past it: OFFSET_OUT_OF_RANGE.
        #expect(try await fetch(fixture, topic: "t", offset: 50).records?.readableBytes == 0)
        #expect(try await fetch(fixture, topic: "t", offset: 51).errorCode == KafkaErrorCode.offsetOutOfRange.rawValue)
    }

    @Test func produceErrors() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.broker.createTopic(name: "t")
        #expect(try await produce(fixture, topic: "missing", records: BrokerFixture.batch(count: 1)).errorCode
                == KafkaErrorCode.unknownTopicOrPartition.rawValue)
        #expect(try await produce(fixture, topic: "t", partition: 5, records: BrokerFixture.batch(count: 1)).errorCode
                == KafkaErrorCode.unknownTopicOrPartition.rawValue)
        #expect(try await produce(fixture, topic: "t", records: nil).errorCode == KafkaErrorCode.invalidRecord.rawValue)
        // Two batches in one partition.
        var two = BrokerFixture.batch(count: 1)
        var second = BrokerFixture.batch(count: 1)
        two.writeBuffer(&second)
        #expect(try await produce(fixture, topic: "t", records: two).errorCode == KafkaErrorCode.invalidRecord.rawValue)
        // A magic-1 message set.
        var legacy = BrokerFixture.batch(count: 1)
        legacy.setInteger(Int8(1), at: legacy.readerIndex + 16)
        #expect(try await produce(fixture, topic: "t", records: legacy).errorCode == KafkaErrorCode.invalidRecord.rawValue)
        // A corrupted payload byte: CRC mismatch.
        var corrupt = BrokerFixture.batch(count: 3)
        let last = corrupt.writerIndex - 1
        corrupt.setInteger(corrupt.getInteger(at: last, as: UInt8.self)! ^ 0xFF, at: last)
        #expect(try await produce(fixture, topic: "t", records: corrupt).errorCode == KafkaErrorCode.corruptMessage.rawValue)
        // zstd below v7.
        #expect(try await produce(fixture, topic: "t", records: BrokerFixture.batch(count: 1, compression: .zstd), version: 6).errorCode
                == KafkaErrorCode.unsupportedCompressionType.rawValue)
        // Invalid acks.
        #expect(try await produce(fixture, topic: "t", records: BrokerFixture.batch(count: 1), acks: 2).errorCode
                == KafkaErrorCode.invalidRequiredAcks.rawValue)
        // v2 is advertised but refused.
        #expect(try await produce(fixture, topic: "t", records: BrokerFixture.batch(count: 1), version: 2).errorCode
                == KafkaErrorCode.unsupportedVersion.rawValue)
        // Nothing above was appended.
        #expect(try await fetch(fixture, topic: "t", offset: 0).highWatermark == 0)
    }

    @Test func idempotentRetryIsAcknowledgedOnce() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.broker.createTopic(name: "t")
        let pid = try await fixture.send(InitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: 60_000), version: 4)
        #expect(pid.errorCode == 0 && pid.producerId >= 0 && pid.producerEpoch == 0)
        let batch = BrokerFixture.batch(count: 5, producerId: pid.producerId, sequence: 0)
        let first = try await produce(fixture, topic: "t", records: batch)
        let retry = try await produce(fixture, topic: "t", records: batch)
        #expect(first.errorCode == 0 && retry.errorCode == 0)
        #expect(retry.baseOffset == first.baseOffset)
        let gap = try await produce(fixture, topic: "t", records: BrokerFixture.batch(count: 1, producerId: pid.producerId, sequence: 9))
        #expect(gap.errorCode == KafkaErrorCode.outOfOrderSequenceNumber.rawValue)
        #expect(try await fetch(fixture, topic: "t", offset: 0).highWatermark == 5)
        // Transactional ids are not served yet: a clear refusal.
        let txn = try await fixture.send(InitProducerIdRequest(transactionalId: "tx", transactionTimeoutMs: 60_000), version: 4)
        #expect(txn.errorCode == KafkaErrorCode.unsupportedVersion.rawValue)
        // Ids are never reused across a restart.
        try await fixture.stop()
        let reopened = try await BrokerFixture.open(fixture.directory)
        let next = try await reopened.send(InitProducerIdRequest(transactionalId: nil), version: 4)
        #expect(next.producerId > pid.producerId)
        await reopened.close()
    }

    @Test func fetchLongPollIsWokenByAProduce() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.broker.createTopic(name: "t")
        let start = ContinuousClock.now
        async let waiting = fetch(fixture, topic: "t", offset: 0, maxWaitMs: 10_000, minBytes: 1)
        try await Task.sleep(for: .milliseconds(200))
        _ = try await produce(fixture, topic: "t", records: BrokerFixture.batch(count: 1))
        let data = try await waiting
        #expect(data.records?.readableBytes ?? 0 > 0)
        #expect(ContinuousClock.now - start < .seconds(5))
        // With nothing to read, it waits for max.wait.ms and answers empty.
        let idleStart = ContinuousClock.now
        let idle = try await fetch(fixture, topic: "t", offset: 1, maxWaitMs: 300, minBytes: 1)
        #expect(idle.records?.readableBytes == 0)
        #expect(ContinuousClock.now - idleStart >= .milliseconds(250))
    }

    @Test func fetchSessionsAreNotKept() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let incremental = try await fixture.send(FetchRequest(sessionId: 12, sessionEpoch: 3), version: 11)
        #expect(incremental.errorCode == KafkaErrorCode.fetchSessionIdNotFound.rawValue)
        let full = try await fixture.send(FetchRequest(sessionId: 0, sessionEpoch: 0), version: 11)
        #expect(full.errorCode == 0 && full.sessionId == 0)
    }

    @Test func listOffsets() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.broker.createTopic(name: "t")
        _ = try await produce(fixture, topic: "t", records: BrokerFixture.batch(count: 10, timestamp: 1000))
        _ = try await produce(fixture, topic: "t", records: BrokerFixture.batch(count: 10, compression: .gzip, timestamp: 2000))
        func list(_ timestamp: Int64, version: Int16 = 7) async throws -> ListOffsetsResponse.ListOffsetsPartitionResponse {
            let response = try await fixture.send(ListOffsetsRequest(replicaId: -1, topics: [
                .init(name: "t", partitions: [.init(partitionIndex: 0, timestamp: timestamp)]),
            ]), version: version)
            return try #require(response.topics.first?.partitions.first)
        }
        #expect(try await list(-2).offset == 0)
        #expect(try await list(-1).offset == 20)
        #expect(try await list(1005).offset == 5)        // record timestamps are 1000+i
        #expect(try await list(1005).timestamp == 1005)
        #expect(try await list(2003).offset == 13)       // inside the gzip batch
        #expect(try await list(9999).offset == -1)
        let max = try await list(-3)
        #expect(max.offset == 19 && max.timestamp == 2009)
        #expect(try await list(-1, version: 0).oldStyleOffsets == [20])
        let missing = try await fixture.send(ListOffsetsRequest(topics: [.init(name: "x", partitions: [.init(partitionIndex: 0, timestamp: -1)])]), version: 5)
        #expect(missing.topics.first?.partitions.first?.errorCode == KafkaErrorCode.unknownTopicOrPartition.rawValue)
    }

    @Test func offsetForLeaderEpoch() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        try await fixture.broker.createTopic(name: "t")
        _ = try await produce(fixture, topic: "t", records: BrokerFixture.batch(count: 4))
        let response = try await fixture.send(OffsetForLeaderEpochRequest(topics: [
            .init(topic: "t", partitions: [.init(partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0),
                                           .init(partition: 0, currentLeaderEpoch: -1, leaderEpoch: 3),
                                           .init(partition: 0, currentLeaderEpoch: 5, leaderEpoch: 0)]),
        ]), version: 2)
        let answers = try #require(response.topics.first?.partitions)
        #expect(answers[0].errorCode == 0 && answers[0].endOffset == 4 && answers[0].leaderEpoch == 0)
        #expect(answers[1].endOffset == -1 && answers[1].leaderEpoch == -1)
        #expect(answers[2].errorCode == KafkaErrorCode.unknownLeaderEpoch.rawValue)
    }
}

/// The dispatcher: framing of answers, unsupported versions, the ApiVersions v0 error body.
@Suite struct DispatcherTests {
    @Test func apiVersionsAdvertisesEveryRegisteredHandler() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let dispatcher = RequestDispatcher(registry: fixture.registry, logger: .init(label: "test"))
        let info = ConnectionInfo(listenerName: "PLAINTEXT", clientHost: "127.0.0.1", principal: .anonymous)
        var frame = ByteBuffer()
        try ApiVersionsRequest(clientSoftwareName: "test", clientSoftwareVersion: "1.0").encodeRequest(version: 3, correlationId: 42, clientId: "c", to: &frame)
        guard case .respond(let bytes) = await dispatcher.dispatch(frame: frame, connection: info) else {
            Issue.record("no response")
            return
        }
        let (header, body) = try ApiVersionsResponse.decodeResponse(from: bytes, version: 3)
        #expect(header.correlationId == 42)
        #expect(body.errorCode == 0)
        let produce = try #require(body.apiKeys.first { $0.apiKey == KafkaApiKey.produce.rawValue })
        #expect(produce.minVersion == 0 && produce.maxVersion == 11)
        #expect(body.apiKeys.contains { $0.apiKey == KafkaApiKey.apiVersions.rawValue })

        // A version beyond the schema: Kafka's v0 body with UNSUPPORTED_VERSION and the list.
        var future = ByteBuffer()
        future.writeInteger(Int16(18), endianness: .big)
        future.writeInteger(Int16(99), endianness: .big)
        future.writeInteger(Int32(7), endianness: .big)
        future.writeInteger(Int16(-1), endianness: .big)
        guard case .respond(let errorBytes) = await dispatcher.dispatch(frame: future, connection: info) else {
            Issue.record("no response")
            return
        }
        let (errorHeader, errorBody) = try ApiVersionsResponse.decodeResponse(from: errorBytes, version: 0)
        #expect(errorHeader.correlationId == 7)
        #expect(errorBody.errorCode == KafkaErrorCode.unsupportedVersion.rawValue)
        #expect(!errorBody.apiKeys.isEmpty)
    }

    @Test func garbageClosesTheConnection() async throws {
        let fixture = try await BrokerFixture.make()
        defer { Task { await fixture.close() } }
        let dispatcher = RequestDispatcher(registry: fixture.registry, logger: .init(label: "test"))
        let info = ConnectionInfo(listenerName: "PLAINTEXT", clientHost: "127.0.0.1", principal: .anonymous)
        for bytes: [UInt8] in [[], [0, 3], [0x7F, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0], [0, 3, 0, 9, 0, 0, 0, 1, 0, 1, 0x41, 0xFF, 0xFF]] {
            guard case .close = await dispatcher.dispatch(frame: ByteBuffer(bytes: bytes), connection: info) else {
                Issue.record("expected a close for \(bytes)")
                continue
            }
        }
    }
}
