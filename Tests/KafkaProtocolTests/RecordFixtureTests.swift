import Foundation
import KafkaProtocol
import NIOCore
import Testing

/// Golden record batches written by kafka-python (see `Tests/fixtures/make_record_fixtures.py`): decoded to
/// the manifest's values, CRC-checked, and re-encoded.
@Suite struct RecordFixtureTests {
    struct Manifest: Decodable {
        var generator: String
        var fixtures: [Fixture]
        var recordSets: [String: [FixtureRecord]]
    }

    struct Fixture: Decodable, CustomTestStringConvertible {
        var file: String
        var partialTrailingBytes: Int
        var batches: [FixtureBatch]
        var testDescription: String { file }
    }

    struct FixtureBatch: Decodable {
        var baseOffset: Int64
        var partitionLeaderEpoch: Int32
        var magic: Int8
        var crc: UInt32
        var attributes: Int16
        var codec: String
        var isTransactional: Bool
        var isControl: Bool
        var lastOffsetDelta: Int32
        var baseTimestamp: Int64
        var maxTimestamp: Int64
        var producerId: Int64
        var producerEpoch: Int16
        var baseSequence: Int32
        var recordsCount: Int32
        var size: Int
        var recordSet: String
    }

    struct FixtureBytes: Decodable {
        var text: String?
        var hex: String?
        var buffer: ByteBuffer { text.map { ByteBuffer(string: $0) } ?? RecordTestSupport.bytes(hex: hex ?? "") }
    }

    struct FixtureHeader: Decodable {
        var key: String
        var value: FixtureBytes?
    }

    struct FixtureRecord: Decodable {
        var offsetDelta: Int32
        var timestampDelta: Int64
        var key: FixtureBytes?
        var value: FixtureBytes?
        var headers: [FixtureHeader]

        var record: Record {
            Record(
                offsetDelta: offsetDelta, timestampDelta: timestampDelta, key: key?.buffer, value: value?.buffer,
                headers: RecordHeaders(headers.map { RecordHeader(key: $0.key, value: $0.value?.buffer) }))
        }
    }

    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("records")

    static let manifest: Manifest = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        return try! JSONDecoder().decode(Manifest.self, from: data)
    }()

    static func load(_ file: String) throws -> ByteBuffer {
        ByteBuffer(bytes: try Data(contentsOf: directory.appendingPathComponent(file)))
    }

    static func codec(named name: String) throws -> CompressionCodec {
        try #require(CompressionCodec.allCases.first { $0.description == name })
    }

    @Test func manifestCoversEveryCodec() {
        #expect(Self.manifest.generator.hasPrefix("kafka-python 3.0.12"))
        let codecs = Set(Self.manifest.fixtures.flatMap { $0.batches.map(\.codec) })
        #expect(codecs == Set(CompressionCodec.allCases.map(\.description)))
    }

    @Test(arguments: manifest.fixtures)
    func decodesToTheManifestValues(fixture: Fixture) throws {
        let data = try Self.load(fixture.file)
        var reader = RecordBatchReader(data)
        for expected in fixture.batches {
            let batch = try #require(try reader.next(), "\(fixture.file): missing batch")
            let header = batch.header
            #expect(header.baseOffset == expected.baseOffset)
            #expect(header.partitionLeaderEpoch == expected.partitionLeaderEpoch)
            #expect(header.magic == expected.magic)
            #expect(header.crc == expected.crc)
            #expect(header.attributes.rawValue == expected.attributes)
            #expect(try batch.compression == Self.codec(named: expected.codec))
            #expect(header.attributes.isTransactional == expected.isTransactional)
            #expect(header.attributes.isControl == expected.isControl)
            #expect(header.lastOffsetDelta == expected.lastOffsetDelta)
            #expect(header.baseTimestamp == expected.baseTimestamp)
            #expect(header.maxTimestamp == expected.maxTimestamp)
            #expect(header.producerId == expected.producerId)
            #expect(header.producerEpoch == expected.producerEpoch)
            #expect(header.baseSequence == expected.baseSequence)
            #expect(header.recordsCount == expected.recordsCount)
            #expect(batch.totalSize == expected.size)
            try batch.validateCRC()
            try batch.validate()

            let records = try batch.decodeRecords()
            let expectedRecords = try #require(Self.manifest.recordSets[expected.recordSet]).map(\.record)
            #expect(records == expectedRecords)
            // Header values decode to the manifest's strings and bytes too (not only the encoded form).
            for (record, wanted) in zip(records, try #require(Self.manifest.recordSets[expected.recordSet])) {
                #expect(Array(record.headers).map(\.key) == wanted.headers.map(\.key))
                #expect(Array(record.headers).map(\.value) == wanted.headers.map { $0.value?.buffer })
            }
        }
        #expect(try reader.next() == nil)
        #expect(reader.remainingBytes == fixture.partialTrailingBytes)
        if fixture.partialTrailingBytes > 0 {
            #expect(throws: KafkaProtocolError.self) { _ = try RecordBatchReader.readAll(data, allowPartialTrailingBatch: false) }
        }
        #expect(try RecordBatchReader.readAll(data, allowPartialTrailingBatch: true).count == fixture.batches.count)
    }

    @Test(arguments: manifest.fixtures)
    func reencodes(fixture: Fixture) throws {
        var data = try Self.load(fixture.file)
        for expected in fixture.batches {
            let original = data.getSlice(at: data.readerIndex, length: expected.size)!
            let batch = try #require(try RecordBatch.read(from: &data))
            let codec = try Self.codec(named: expected.codec)
            let records = try #require(Self.manifest.recordSets[expected.recordSet]).map(\.record)
            let rebuilt = try RecordBatch(
                records: records, baseOffset: expected.baseOffset, baseTimestamp: expected.baseTimestamp,
                compression: codec, producerId: expected.producerId, producerEpoch: expected.producerEpoch,
                baseSequence: expected.baseSequence, isTransactional: expected.isTransactional,
                partitionLeaderEpoch: expected.partitionLeaderEpoch)

            // The uncompressed records section is identical byte for byte whatever the codec.
            var ours = ByteBuffer()
            for record in records { record.write(to: &ours) }
            #expect(try codec.decompress(batch.payload, maxSize: 1 << 20) == ours)

            if codec == .none {
                #expect(RecordTestSupport.encode(rebuilt) == original)
            } else {
                // Compressed bytes differ between libraries (levels, gzip timestamps, xerial framing):
                // compare everything but the payload and CRC, then the decoded records.
                var header = rebuilt.header
                header.crc = batch.header.crc
                header.batchLength = batch.header.batchLength
                #expect(header == batch.header)
                try rebuilt.validateCRC()
                #expect(try rebuilt.decodeRecords() == batch.decodeRecords())
            }
            // Writing a parsed batch reproduces the original bytes for every codec.
            #expect(RecordTestSupport.encode(batch) == original)
        }
    }

    @Test func kafkaPythonWritesXerialSnappy() throws {
        var data = try Self.load("batch_snappy_large.bin")
        let batch = try #require(try RecordBatch.read(from: &data))
        #expect(batch.payload.getBytes(at: batch.payload.readerIndex, length: 8) == [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00])
        // About 90 KiB of records: several 32 KiB xerial chunks.
        #expect(try CompressionCodec.snappy.decompress(batch.payload, maxSize: 1 << 20).readableBytes > 64 << 10)
        #expect(throws: KafkaProtocolError.self) { _ = try batch.records(maxUncompressedSize: 32 << 10) }
    }
}
