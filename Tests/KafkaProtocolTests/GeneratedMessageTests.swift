import KafkaProtocol
import NIOCore
import Testing

/// Schema rules the generated code must follow, checked on specific messages.
@Suite struct GeneratedMessageTests {
    // MARK: ignorable and default

    @Test func nonIgnorableFieldWithValueAtMissingVersionThrows() throws {
        var request = MetadataRequest()
        request.allowAutoTopicCreation = false  // 4+, default true, not ignorable
        var buffer = ByteBuffer()
        #expect(throws: KafkaProtocolError.fieldNotSupportedAtVersion("MetadataRequest.AllowAutoTopicCreation", 3)) {
            try request.encode(to: &buffer, version: 3)
        }
        #expect(buffer.readableBytes == 0, "a failed encode leaves nothing behind")
        request.allowAutoTopicCreation = true  // the default: fine at v3
        try request.encode(to: &buffer, version: 3)
        try request.encode(to: &buffer, version: 4)
    }

    @Test func ignorableFieldWithValueAtMissingVersionIsDropped() throws {
        var request = JoinGroupRequest(groupId: "g", sessionTimeoutMs: 10, memberId: "m", protocolType: "consumer")
        request.rebalanceTimeoutMs = 5000  // 1+, ignorable
        var buffer = ByteBuffer()
        try request.encode(to: &buffer, version: 0)
        let decoded = try JoinGroupRequest(from: &buffer, version: 0)
        #expect(decoded.rebalanceTimeoutMs == -1)
        #expect(decoded.groupId == "g")
    }

    @Test func ignorableTaggedFieldIsDroppedBeforeItsVersions() throws {
        var request = FetchRequest()
        request.clusterId = "cluster"  // tagged, 12+, ignorable
        var buffer = ByteBuffer()
        try request.encode(to: &buffer, version: 11)
        #expect(try FetchRequest(from: &buffer, version: 11).clusterId == nil)
        try request.encode(to: &buffer, version: 12)
        #expect(try FetchRequest(from: &buffer, version: 12).clusterId == "cluster")
    }

    @Test func nonIgnorableFieldOfARemovedVersionThrows() throws {
        var request = ProduceRequest()
        request.transactionalId = "txn"  // 3+, not ignorable
        var buffer = ByteBuffer()
        #expect(throws: KafkaProtocolError.fieldNotSupportedAtVersion("ProduceRequest.TransactionalId", 2)) {
            try request.encode(to: &buffer, version: 2)
        }
    }

    // MARK: nullable versions

    @Test func nullAtANonNullableVersionThrowsOnEncode() throws {
        let request = MetadataRequest(topics: nil)  // nullable 1+
        var buffer = ByteBuffer()
        #expect(throws: KafkaProtocolError.self) { try request.encode(to: &buffer, version: 0) }
        #expect(buffer.readableBytes == 0)
        try request.encode(to: &buffer, version: 1)
        #expect(try MetadataRequest(from: &buffer, version: 1).topics == nil)
    }

    @Test func nullAtANonNullableVersionThrowsOnDecode() throws {
        var buffer = ByteBuffer()
        buffer.writeInteger(Int32(-1))  // Topics = null, illegal at v0
        #expect(throws: KafkaProtocolError.self) { _ = try MetadataRequest(from: &buffer, version: 0) }
        #expect(buffer.readerIndex == 0, "a failed decode restores the reader index")
    }

    @Test func nullableStringDefaultsAndNulls() throws {
        var request = JoinGroupRequest(groupId: "g", memberId: "", protocolType: "consumer")
        request.reason = nil
        var buffer = ByteBuffer()
        try request.encode(to: &buffer, version: 8)
        #expect(try JoinGroupRequest(from: &buffer, version: 8) == request)
    }

    // MARK: tagged fields

    @Test func unknownTaggedFieldsAreSkipped() throws {
        let request = ApiVersionsRequest(clientSoftwareName: "rampart", clientSoftwareVersion: "1.0")
        var encoded = ByteBuffer()
        try request.encode(to: &encoded, version: 3)
        #expect(encoded.getInteger(at: encoded.writerIndex - 1, as: UInt8.self) == 0, "empty tagged section")
        var withUnknown = encoded.getSlice(at: 0, length: encoded.readableBytes - 1)!
        withUnknown.writeBytes([2, 7, 3, 0x78, 0x79, 0x7A, 40, 0])  // two unknown tags: 7 (3 bytes), 40 (empty)
        withUnknown.writeBytes([0xEE])  // the next message's first byte
        let decoded = try ApiVersionsRequest(from: &withUnknown, version: 3)
        #expect(decoded == request)
        #expect(withUnknown.readableBytes == 1, "decode stops at the end of the message")
    }

    @Test func knownTaggedFieldsAreDecoded() throws {
        var response = ApiVersionsResponse()
        response.finalizedFeaturesEpoch = 42
        response.supportedFeatures = [.init(name: "metadata.version", minVersion: 1, maxVersion: 20)]
        var buffer = ByteBuffer()
        try response.encode(to: &buffer, version: 3)
        let decoded = try ApiVersionsResponse(from: &buffer, version: 3)
        #expect(decoded == response)
        #expect(decoded.supportedFeatures.first(name: "metadata.version")?.maxVersion == 20)
    }

    @Test func malformedTaggedSectionsAreRejected() throws {
        let request = ApiVersionsRequest(clientSoftwareName: "a", clientSoftwareVersion: "b")
        var encoded = ByteBuffer()
        try request.encode(to: &encoded, version: 3)
        var outOfOrder = encoded.getSlice(at: 0, length: encoded.readableBytes - 1)!
        outOfOrder.writeBytes([2, 9, 0, 3, 0])
        #expect(throws: KafkaProtocolError.self) { _ = try ApiVersionsRequest(from: &outOfOrder, version: 3) }
        var oversize = encoded.getSlice(at: 0, length: encoded.readableBytes - 1)!
        oversize.writeBytes([1, 9, 100, 0])
        #expect(throws: KafkaProtocolError.self) { _ = try ApiVersionsRequest(from: &oversize, version: 3) }
    }

    // MARK: headers

    @Test func apiVersionsResponsesAlwaysUseHeaderV0() throws {
        for version in ApiVersionsResponse.validVersions {
            #expect(KafkaApiKey.apiVersions.responseHeaderVersion(apiVersion: version) == 0)
        }
        var buffer = ByteBuffer()
        try ApiVersionsResponse(errorCode: 35).encodeResponse(version: 3, correlationId: 7, to: &buffer)
        var expected = ByteBuffer()
        expected.writeInteger(Int32(7))  // header v0: correlation ID only, no tagged fields
        try ApiVersionsResponse(errorCode: 35).encode(to: &expected, version: 3)
        #expect(buffer == expected)
        let (header, body) = try ApiVersionsResponse.decodeResponse(from: buffer, version: 3)
        #expect(header.correlationId == 7 && body.errorCode == 35)
    }

    @Test func responseHeaderVersionFollowsFlexibleVersions() {
        #expect(KafkaApiKey.metadata.responseHeaderVersion(apiVersion: 8) == 0)
        #expect(KafkaApiKey.metadata.responseHeaderVersion(apiVersion: 9) == 1)
    }

    @Test func flexibleRequestsUseHeaderV2() throws {
        #expect(KafkaApiKey.produce.requestHeaderVersion(apiVersion: 8) == 1)
        #expect(KafkaApiKey.produce.requestHeaderVersion(apiVersion: 9) == 2)
        #expect(KafkaApiKey.apiVersions.requestHeaderVersion(apiVersion: 3) == 2)
        #expect(KafkaApiKey.controlledShutdown.requestHeaderVersion(apiVersion: 0) == 0)
        #expect(KafkaApiKey.controlledShutdown.requestHeaderVersion(apiVersion: 1) == 1)

        let request = ApiVersionsRequest(clientSoftwareName: "rampart", clientSoftwareVersion: "1")
        var frame = ByteBuffer()
        try request.encodeRequest(version: 3, correlationId: 99, clientId: "client-1", to: &frame)
        // Header v2: api key, version, correlation ID, int16-length client ID (never compact), tagged fields.
        #expect(frame.getInteger(at: 8, as: Int16.self) == 8)
        #expect(frame.getString(at: 10, length: 8) == "client-1")
        #expect(frame.getInteger(at: 18, as: UInt8.self) == 0)
        let decoded = try KafkaRequestDecoder.decode(frame: frame)
        #expect(decoded.headerVersion == 2)
        #expect(decoded.apiKey == .apiVersions)
        #expect(decoded.correlationId == 99)
        #expect(decoded.header.clientId == "client-1")
        #expect(decoded.body as? ApiVersionsRequest == request)
    }

    @Test func controlledShutdownV0UsesHeaderV0() throws {
        var frame = ByteBuffer()
        try ControlledShutdownRequest(brokerId: 3).encodeRequest(version: 0, correlationId: 5, clientId: "ignored", to: &frame)
        #expect(frame.readableBytes == 8 + 4)
        let decoded = try KafkaRequestDecoder.decode(frame: frame)
        #expect(decoded.headerVersion == 0)
        #expect(decoded.header.clientId == "", "ClientId is absent from header v0 and keeps its default")
        #expect((decoded.body as? ControlledShutdownRequest)?.brokerId == 3)
    }

    @Test func requestDecoderReportsUnknownKeysAndVersions() throws {
        var unknown = ByteBuffer()
        unknown.writeInteger(Int16(9999))
        unknown.writeInteger(Int16(0))
        unknown.writeInteger(Int32(11))
        #expect(throws: KafkaRequestDecodingError.unknownApiKey(apiKey: 9999, apiVersion: 0, correlationId: 11)) {
            _ = try KafkaRequestDecoder.decode(frame: unknown)
        }
        var tooNew = ByteBuffer()
        tooNew.writeInteger(KafkaApiKey.apiVersions.rawValue)
        tooNew.writeInteger(Int16(200))
        tooNew.writeInteger(Int32(12))
        #expect(throws: KafkaRequestDecodingError.unsupportedVersion(apiKey: .apiVersions, apiVersion: 200, correlationId: 12)) {
            _ = try KafkaRequestDecoder.decode(frame: tooNew)
        }
        var short = ByteBuffer()
        short.writeInteger(Int16(18))
        #expect(throws: KafkaProtocolError.self) { _ = try KafkaRequestDecoder.decode(frame: short) }
    }

    @Test func requestDecoderCountsTrailingBytesLikeKafka() throws {
        var frame = ByteBuffer()
        try HeartbeatRequest(groupId: "g", generationId: 1, memberId: "m").encodeRequest(
            version: 4, correlationId: 1, clientId: nil, to: &frame)
        frame.writeInteger(UInt8(0))
        let decoded = try KafkaRequestDecoder.decode(frame: frame)
        #expect(decoded.trailingBytes == 1)
        #expect(decoded.body as? HeartbeatRequest == HeartbeatRequest(groupId: "g", generationId: 1, memberId: "m"))
    }

    /// librdkafka 2.16's all-topics Metadata v12 request, as captured from confluent-kafka: the topics
    /// count placeholder is left at four zero bytes (null, then three stray bytes).
    @Test func librdkafkaAllTopicsMetadataV12Decodes() throws {
        var frame = ByteBuffer()
        frame.writeInteger(Int16(3), endianness: .big)      // Metadata
        frame.writeInteger(Int16(12), endianness: .big)
        frame.writeInteger(Int32(5), endianness: .big)
        frame.writeInteger(Int16(7), endianness: .big)      // client id "rdkafka"
        frame.writeString("rdkafka")
        frame.writeInteger(UInt8(0))                        // header tags
        frame.writeBytes([0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00])
        let decoded = try KafkaRequestDecoder.decode(frame: frame)
        let body = try #require(decoded.body as? MetadataRequest)
        #expect(body.topics == nil)
        #expect(decoded.trailingBytes == 3)
    }

    // MARK: API keys

    @Test func apiKeysMatchTheirTypes() {
        #expect(KafkaApiKey.allCases.count == 88)
        #expect(KafkaApiKey.produce.rawValue == 0 && KafkaApiKey.fetch.rawValue == 1 && KafkaApiKey.apiVersions.rawValue == 18)
        for key in KafkaApiKey.allCases {
            #expect(key.requestType.apiKey == key)
            #expect(key.responseType.apiKey == key)
            #expect(key.requestType.messageName == key.name + "Request")
            #expect(key.responseType.messageName == key.name + "Response")
        }
        #expect(KafkaProtocolDataTypes.all.count == 10)
    }

    // MARK: records, map keys, entity types

    @Test func produceRecordsAreNotCopied() throws {
        var records = ByteBuffer()
        records.writeRepeatingByte(0xAB, count: 1 << 20)
        let request = ProduceRequest(
            acks: -1, timeoutMs: 1000,
            topicData: [.init(name: "t", partitionData: [.init(index: 0, records: records)])])
        var frame = ByteBuffer()
        try request.encodeRequest(version: 9, correlationId: 1, clientId: "c", to: &frame)
        let decoded = try KafkaRequestDecoder.decode(frame: frame)
        let body = try #require(decoded.body as? ProduceRequest)
        let slice = try #require(body.topicData.first(name: "t")?.partitionData.first?.records)
        #expect(slice == records)
        let frameRange = frame.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) ..< UInt(bitPattern: $0.baseAddress) + UInt($0.count) }
        let sliceStart = slice.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(frameRange.contains(sliceStart), "the records slice points into the frame's storage")
    }

    @Test func mapKeyLookups() {
        let topics: [ProduceRequest.TopicProduceData] = [.init(name: "a"), .init(name: "b")]
        #expect(topics.firstIndex(name: "b") == 1)
        #expect(topics.first(name: "c") == nil)
        let resources: [AlterConfigsRequest.AlterConfigsResource] = [
            .init(resourceType: 2, resourceName: "t"), .init(resourceType: 4, resourceName: "t"),
        ]
        #expect(resources.firstIndex(resourceType: 4, resourceName: "t") == 1)
    }

    @Test func entityFieldsAreListed() {
        #expect(ProduceRequest.entityFields.contains(
            KafkaEntityField(path: ["topicData", "name"], entityType: .topicName, versions: 0...11)))
        #expect(ProduceRequest.entityFields.contains(
            KafkaEntityField(path: ["transactionalId"], entityType: .transactionalId, versions: 3...11)))
        #expect(ApiVersionsRequest.entityFields.isEmpty)
        #expect(KafkaEntityType.allCases.contains(.groupId))
    }

    @Test func defaultsFromTheSchema() {
        let fetch = FetchRequest()
        #expect(fetch.replicaId == -1)
        #expect(fetch.maxBytes == 0x7fff_ffff)
        #expect(fetch.clusterId == nil)
        #expect(MetadataRequest().allowAutoTopicCreation == true)
        #expect(ProduceRequest().transactionalId == nil)
    }
}
