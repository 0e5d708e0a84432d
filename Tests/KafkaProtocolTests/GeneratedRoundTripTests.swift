import KafkaProtocol
import NIOCore
import Testing

/// Every generated message at every valid version: random legal values survive encode → decode, decoding
/// consumes exactly the encoded bytes, and re-encoding gives the same bytes.
@Suite struct GeneratedRoundTripTests {
    static let samplesPerVersion = 6

    @Test func everySchemaHasAGeneratedMessage() {
        #expect(allGeneratedMessageNames.count == 186)
        #expect(allRandomizableMessageTypes().map { $0.messageName } == allGeneratedMessageNames)
    }

    @Test(arguments: allGeneratedMessageNames)
    func roundTrip(messageName: String) throws {
        let type = try #require(allRandomizableMessageTypes().first { $0.messageName == messageName })
        try roundTripEveryVersion(type)
    }

    @Test(arguments: allGeneratedMessageNames)
    func versionsOutsideTheSchemaAreRejected(messageName: String) throws {
        let type = try #require(allRandomizableMessageTypes().first { $0.messageName == messageName })
        try rejectOutOfRangeVersions(type)
    }
}

private func roundTripEveryVersion<M: RandomizableKafkaMessage>(_ type: M.Type) throws {
    for version in M.validVersions {
        for sample in 0..<GeneratedRoundTripTests.samplesPerVersion {
            var rng = TestRandom(name: M.messageName, version: version, sample: sample)
            let value = M.random(version: version, using: &rng)
            let context = "\(M.messageName) v\(version) sample \(sample)"
            var buffer = ByteBuffer()
            try value.encode(to: &buffer, version: version)
            let encoded = buffer
            let decoded = try M(from: &buffer, version: version)
            #expect(buffer.readableBytes == 0, "\(context): \(buffer.readableBytes) bytes left after decode")
            #expect(decoded == value, "\(context): decoded value differs")
            var again = ByteBuffer()
            try decoded.encode(to: &again, version: version)
            #expect(again == encoded, "\(context): re-encoding differs")
        }
    }
}

private func rejectOutOfRangeVersions<M: RandomizableKafkaMessage>(_ type: M.Type) throws {
    let tooHigh = M.validVersions.upperBound &+ 1
    var buffer = ByteBuffer()
    #expect(throws: KafkaProtocolError.unsupportedVersion(M.messageName, tooHigh)) {
        try M().encode(to: &buffer, version: tooHigh)
    }
    #expect(buffer.writerIndex == 0)
    buffer.writeBytes([0, 0, 0, 0, 0, 0, 0, 0])
    #expect(throws: KafkaProtocolError.unsupportedVersion(M.messageName, -1)) {
        _ = try M(from: &buffer, version: -1)
    }
    #expect(buffer.readerIndex == 0)
}
