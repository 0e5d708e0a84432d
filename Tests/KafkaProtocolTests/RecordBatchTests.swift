import KafkaProtocol
import NIOCore
import Testing

@Suite struct RecordBatchTests {
    typealias S = RecordTestSupport

    static func sampleBatch(_ codec: CompressionCodec) throws -> RecordBatch {
        try RecordBatch(
            records: S.sampleRecords(), baseOffset: 1000, baseTimestamp: 1_700_000_000_000, compression: codec,
            producerId: 4242, producerEpoch: 3, baseSequence: 77, isTransactional: true, partitionLeaderEpoch: 5)
    }

    @Test(arguments: CompressionCodec.allCases)
    func buildEncodeParseRoundTrip(codec: CompressionCodec) throws {
        let records = S.sampleRecords()
        let batch = try Self.sampleBatch(codec)
        var wire = S.encode(batch)
        #expect(wire.readableBytes == batch.totalSize)
        let parsed = try #require(try RecordBatch.read(from: &wire))
        #expect(wire.readableBytes == 0)
        #expect(parsed == batch)

        let header = parsed.header
        #expect(header.magic == 2)
        #expect(header.baseOffset == 1000)
        #expect(header.partitionLeaderEpoch == 5)
        #expect(header.lastOffsetDelta == 4)
        #expect(header.recordsCount == 5)
        #expect(header.baseTimestamp == 1_700_000_000_000)
        #expect(header.maxTimestamp == 1_700_000_000_000 + (1 << 40))
        #expect(header.producerId == 4242 && header.producerEpoch == 3 && header.baseSequence == 77)
        #expect(header.attributes.isTransactional && !header.attributes.isControl && !header.attributes.isLogAppendTime)
        #expect(try parsed.compression == codec)
        #expect(header.totalSize == batch.totalSize)
        try parsed.validateCRC()
        #expect(parsed.hasValidCRC)
        #expect(RecordBatchHeader.computeCRC(S.encode(batch), batchAt: 0, totalSize: batch.totalSize) == header.crc)
        try parsed.validate()

        let decoded = try parsed.decodeRecords()
        #expect(decoded == records)
        #expect(decoded[1].key == nil)
        #expect(decoded[2].value == nil)
        #expect(Array(decoded[2].headers) == [RecordHeader(key: "null", value: nil)])
        #expect(Array(decoded[4].headers) == [RecordHeader(key: "h\u{e9}ader", value: "v\u{e4}lue"), RecordHeader(key: "b", value: "2")])
        #expect(decoded.map { parsed.offset(of: $0) } == [1000, 1001, 1002, 1003, 1004])
        #expect(parsed.timestamp(of: decoded[2]) == 1_699_999_999_995)
    }

    @Test func uncompressedRecordsAreSlicesOfTheInput() throws {
        var wire = S.encode(try Self.sampleBatch(.none))
        let batch = try #require(try RecordBatch.read(from: &wire))
        var iterator = try batch.records()
        let first = try #require(try iterator.next())
        // A slice shares the batch's storage: the same base address, offset by the record's position.
        let keyAddress = first.key!.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let payloadRange = batch.payload.withUnsafeReadableBytes {
            UInt(bitPattern: $0.baseAddress)..<UInt(bitPattern: $0.baseAddress! + $0.count)
        }
        #expect(payloadRange.contains(keyAddress))
        #expect(iterator.remainingCount == 4)
    }

    @Test func logAppendTimeUsesMaxTimestamp() throws {
        var batch = try RecordBatch(records: S.sampleRecords(), baseTimestamp: 10, isLogAppendTime: true)
        batch.header.maxTimestamp = 12345
        #expect(!batch.hasValidCRC)
        batch.updateCRC()
        try batch.validateCRC()
        let record = try batch.decodeRecords()[2]
        #expect(batch.timestamp(of: record) == 12345)
    }

    @Test func emptyBatchAndEmptyKeyValue() throws {
        let empty = try RecordBatch(records: [], baseTimestamp: 5)
        var wire = S.encode(empty)
        let parsed = try #require(try RecordBatch.read(from: &wire))
        #expect(try parsed.decodeRecords().isEmpty)
        #expect(parsed.totalSize == RecordBatchHeader.size)

        let single = try RecordBatch(records: [Record(offsetDelta: 0, key: ByteBuffer(), value: ByteBuffer())], baseTimestamp: 5)
        let record = try single.decodeRecords()[0]
        #expect(record.key == ByteBuffer() && record.value == ByteBuffer() && record.headers.isEmpty)
    }

    @Test(arguments: CompressionCodec.allCases)
    func everyCorruptedByteIsDetectedByTheCRC(codec: CompressionCodec) throws {
        let wire = S.encode(try Self.sampleBatch(codec))
        // Bytes 0..<16 (base offset, length, leader epoch) are outside the CRC by design; the magic is
        // checked on read. Every byte from the CRC field on is covered.
        for index in RecordBatchHeader.crcOffset..<wire.readableBytes {
            var corrupted = wire
            corrupted.setInteger(corrupted.getInteger(at: index, as: UInt8.self)! ^ 0x20, at: index)
            let batch = try #require(try RecordBatch.read(from: &corrupted))
            #expect(!batch.hasValidCRC, "byte \(index)")
            #expect(S.throwsKind(.corruptRecord("")) { try batch.validateCRC() }, "byte \(index)")
            // Decoding the corrupted records may succeed or fail, but never crashes.
            _ = try? batch.decodeRecords(maxUncompressedSize: 1 << 20)
        }
    }

    @Test(arguments: CompressionCodec.allCases)
    func truncationAtEveryOffsetIsReportedNotMisparsed(codec: CompressionCodec) throws {
        let wire = S.encode(try Self.sampleBatch(codec))
        for length in 0..<wire.readableBytes {
            // As received: the length field promises more than is there, so the batch is partial.
            var cut = wire.getSlice(at: 0, length: length)!
            #expect(try RecordBatch.read(from: &cut) == nil)
            #expect(cut.readableBytes == length)
            if length > 0 {
                #expect(S.throwsKind(.corruptRecord("")) { _ = try RecordBatchReader.readAll(cut, allowPartialTrailingBatch: false) })
            }
            #expect(try RecordBatchReader.readAll(cut, allowPartialTrailingBatch: true).isEmpty)

            // As if a writer had cut the records and fixed up the length and CRC: the records section
            // itself is truncated, which must be an error when decoding, not a crash or a short read.
            guard length >= RecordBatchHeader.size else { continue }
            var header = try #require(try RecordBatchHeader.peek(wire, at: 0))
            header.batchLength = Int32(length - RecordBatchHeader.logOverhead)
            var shortBatch = RecordBatch(header: header, payload: wire.getSlice(at: RecordBatchHeader.size, length: length - RecordBatchHeader.size)!)
            shortBatch.updateCRC()
            #expect(throws: KafkaProtocolError.self, "cut at \(length)") { try shortBatch.validate() }
        }
    }

    @Test func recordCountMismatchesAreErrors() throws {
        var batch = try Self.sampleBatch(.none)
        for count: Int32 in [0, 4, 6, -1, Int32.max] {
            batch.header.recordsCount = count
            #expect(throws: KafkaProtocolError.self, "count \(count)") { _ = try batch.decodeRecords() }
        }
        // Trailing bytes after the declared records.
        var padded = try Self.sampleBatch(.none)
        padded.payload.writeInteger(UInt8(0))
        #expect(S.throwsKind(.corruptRecord("")) { _ = try padded.decodeRecords() })
    }

    @Test func recordLengthsAreBoundedByTheBatch() throws {
        // One record whose key claims 1 GiB.
        var payload = ByteBuffer()
        var body = ByteBuffer()
        body.writeInteger(Int8(0))
        body.writeKafkaVarlong(0)
        body.writeKafkaVarint(0)
        body.writeKafkaVarint(1 << 30)
        body.writeString("short")
        payload.writeKafkaVarint(Int32(body.readableBytes))
        payload.writeImmutableBuffer(body)
        let batch = RecordBatch(header: RecordBatchHeader(recordsCount: 1), payload: payload)
        #expect(S.throwsKind(.corruptRecord("")) { _ = try batch.decodeRecords() })
        // A header count far larger than the bytes.
        var headers = ByteBuffer()
        var headerBody = ByteBuffer()
        headerBody.writeInteger(Int8(0))
        headerBody.writeKafkaVarlong(0)
        headerBody.writeKafkaVarint(0)
        headerBody.writeKafkaVarint(-1)
        headerBody.writeKafkaVarint(-1)
        headerBody.writeKafkaVarint(Int32.max)
        headers.writeKafkaVarint(Int32(headerBody.readableBytes))
        headers.writeImmutableBuffer(headerBody)
        let many = RecordBatch(header: RecordBatchHeader(recordsCount: 1), payload: headers)
        #expect(S.throwsKind(.corruptRecord("")) { _ = try many.decodeRecords() })
    }

    @Test func decompressionBoundAppliesToBatches() throws {
        let big = Record(offsetDelta: 0, key: nil, value: ByteBuffer(repeating: 0, count: 4 << 20))
        let batch = try RecordBatch(records: [big], baseTimestamp: 0, compression: .zstd)
        #expect(batch.totalSize < 64 << 10)
        #expect(S.throwsKind(.compression("")) { _ = try batch.records(maxUncompressedSize: 1 << 20) })
        #expect(try batch.decodeRecords(maxUncompressedSize: 5 << 20).count == 1)
    }

    @Test(arguments: [Int8(0), 1])
    func legacyMessageSetsAreRejected(magic: Int8) throws {
        // A v0/v1 message: offset, size, crc, magic, attributes, [timestamp], key -1, value "x".
        var legacy = ByteBuffer()
        legacy.writeInteger(Int64(0))
        legacy.writeInteger(Int32(magic == 0 ? 15 : 23))
        legacy.writeInteger(UInt32(0xDEAD_BEEF))
        legacy.writeInteger(magic)
        legacy.writeInteger(Int8(0))
        if magic == 1 { legacy.writeInteger(Int64(0)) }
        legacy.writeInteger(Int32(-1))
        legacy.writeInteger(Int32(1))
        legacy.writeString("x")
        var input = legacy
        #expect(S.throwsKind(.unsupportedMagic(magic)) { _ = try RecordBatch.read(from: &input) })
        #expect(input == legacy)
        // Also after a good batch.
        var mixed = S.encode(try Self.sampleBatch(.none))
        mixed.writeImmutableBuffer(legacy)
        var reader = RecordBatchReader(mixed)
        #expect(try reader.next() != nil)
        #expect(S.throwsKind(.unsupportedMagic(magic)) { _ = try reader.next() })
        #expect(S.throwsKind(.unsupportedMagic(magic)) { _ = try RecordBatchReader.readAll(mixed, allowPartialTrailingBatch: true) })
    }

    @Test func severalBatchesWithAPartialTrailingBatch() throws {
        let codecs: [CompressionCodec] = [.none, .gzip, .lz4]
        var records = ByteBuffer()
        var expected = [RecordBatch]()
        for (index, codec) in codecs.enumerated() {
            let batch = try RecordBatch(records: S.sampleRecords(), baseOffset: Int64(index * 5), baseTimestamp: 0, compression: codec)
            batch.write(to: &records)
            expected.append(batch)
        }
        let complete = records.readableBytes
        let next = S.encode(try Self.sampleBatch(.snappy))
        for partial in [0, 1, 16, 17, 60, 61, 62, next.readableBytes - 1] {
            var buffer = records
            buffer.writeImmutableBuffer(next.getSlice(at: 0, length: partial)!)
            var reader = RecordBatchReader(buffer)
            var batches = [RecordBatch]()
            while let batch = try reader.next() { batches.append(batch) }
            #expect(batches == expected)
            #expect(reader.remainingBytes == partial)
            #expect(try RecordBatchReader.readAll(buffer, allowPartialTrailingBatch: true) == expected)
            if partial > 0 {
                #expect(throws: KafkaProtocolError.self) { _ = try RecordBatchReader.readAll(buffer, allowPartialTrailingBatch: false) }
            }
            #expect(buffer.readableBytes == complete + partial)
        }
    }

    @Test func impossibleBatchLengthIsCorrupt() throws {
        var wire = S.encode(try Self.sampleBatch(.none))
        wire.setInteger(Int32(10), at: 8)
        #expect(S.throwsKind(.corruptRecord("")) { _ = try RecordBatch.read(from: &wire) })
        wire.setInteger(Int32(-5), at: 8)
        #expect(S.throwsKind(.corruptRecord("")) { _ = try RecordBatch.read(from: &wire) })
    }

    @Test func randomMutationsNeverCrash() throws {
        var rng = Xorshift(seed: 1234)
        for codec in CompressionCodec.allCases {
            let wire = S.encode(try Self.sampleBatch(codec))
            for _ in 0..<500 {
                var mutated = wire
                for _ in 0..<(1 + rng.next() % 3) {
                    let index = Int(rng.next() % UInt64(mutated.readableBytes))
                    mutated.setInteger(UInt8(truncatingIfNeeded: rng.next()), at: index)
                }
                var reader = RecordBatchReader(mutated)
                while let batch = try? reader.next() {
                    _ = try? batch.validate(maxUncompressedSize: 1 << 20)
                    _ = try? batch.decodeRecords(maxUncompressedSize: 1 << 20)
                }
            }
        }
    }

    @Test func transactionMarkers() throws {
        for type in [ControlRecordType.commit, .abort] {
            let marker = EndTransactionMarker(type: type, coordinatorEpoch: 12)
            let batch = try RecordBatch.endTransactionMarker(marker, producerId: 9, producerEpoch: 2, baseOffset: 40, timestamp: 777)
            var wire = S.encode(batch)
            let parsed = try #require(try RecordBatch.read(from: &wire))
            try parsed.validate()
            #expect(parsed.header.attributes.isControl && parsed.header.attributes.isTransactional)
            #expect(parsed.header.baseSequence == -1 && parsed.header.producerId == 9 && parsed.header.producerEpoch == 2)
            let records = try parsed.decodeRecords()
            #expect(records.count == 1)
            #expect(try parsed.controlKey(of: records[0]) == ControlRecordKey(type: type))
            #expect(try EndTransactionMarker(parsing: records[0]) == marker)
            // Key bytes: version 0, type.
            #expect(records[0].key == ByteBuffer(bytes: [0, 0, 0, UInt8(type.rawValue)]))
        }
        let plain = try Self.sampleBatch(.none)
        #expect(try plain.controlKey(of: plain.decodeRecords()[0]) == nil)
        #expect(throws: KafkaProtocolError.self) { _ = try ControlRecordKey(parsing: ByteBuffer(bytes: [0, 0, 0])) }
        #expect(throws: KafkaProtocolError.self) { _ = try ControlRecordKey(parsing: ByteBuffer(bytes: [0xFF, 0xFF, 0, 1])) }
        let notMarker = Record(offsetDelta: 0, key: ControlRecordKey(type: .leaderChange).encoded, value: ByteBuffer(bytes: [0, 0, 0, 0, 0, 0]))
        #expect(throws: KafkaProtocolError.self) { _ = try EndTransactionMarker(parsing: notMarker) }
    }
}
