import KafkaProtocol
import NIOCore

/// Decode and encode of a Produce request (v9, flexible) carrying one ~1 MiB record batch of 1 KiB
/// records, the broker's hottest request. Decoding must not copy the records payload: the check below
/// verifies that the decoded `records` slice points into the frame's own memory.
enum ProduceBench {
    static func run() {
        let value = ByteBuffer(repeating: 0x61, count: 1024)
        let records = (0..<1000).map { i in
            Record(offsetDelta: Int32(i), timestampDelta: Int64(i), key: ByteBuffer(string: "key-\(i)"), value: value)
        }
        let batch = try! RecordBatch(records: records, baseTimestamp: 1_700_000_000_000, producerId: 42,
                                     producerEpoch: 0, baseSequence: 0)
        var recordBytes = ByteBuffer()
        batch.write(to: &recordBytes)
        let request = ProduceRequest(acks: -1, timeoutMs: 30_000, topicData: [
            .init(name: "bench-topic", partitionData: [.init(index: 0, records: recordBytes)]),
        ])
        var frame = ByteBuffer()
        try! request.encodeRequest(version: 9, correlationId: 1, clientId: "bench", to: &frame)
        let frameSize = frame.readableBytes

        // Zero-copy check.
        let decoded = try! KafkaRequestDecoder.decode(frame: frame)
        let produce = decoded.body as! ProduceRequest
        let slice = produce.topicData[0].partitionData[0].records!
        let sliceStart = slice.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let frameRange = frame.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress)..<(UInt(bitPattern: $0.baseAddress) + UInt($0.count)) }
        let zeroCopy = frameRange.contains(sliceStart)
        print("produce v9 frame: \(frameSize) bytes, records \(slice.readableBytes) bytes, decode shares the frame's memory: \(zeroCopy)")

        var decodeRates: [Double] = []
        var decodeTimes: [Double] = []
        for _ in 0..<5 {
            let (n, t) = measure(seconds: 0.4) {
                let d = try! KafkaRequestDecoder.decode(frame: frame)
                sink &+= UInt32(truncatingIfNeeded: d.correlationId)
            }
            decodeRates.append(Double(n * frameSize) / t / 1e9)
            decodeTimes.append(t / Double(n) * 1e6)
        }
        print("produce v9 decode (header + body, 1 MiB batch): \(format(median(decodeTimes), 3)) µs/request, \(format(median(decodeRates))) GB/s of frame (median of 5)")

        var encodeRates: [Double] = []
        var encodeTimes: [Double] = []
        var out = ByteBuffer()
        out.reserveCapacity(frameSize + 64)
        for _ in 0..<5 {
            let (n, t) = measure(seconds: 0.4) {
                out.clear()
                try! request.encodeRequest(version: 9, correlationId: 1, clientId: "bench", to: &out)
                sink &+= UInt32(truncatingIfNeeded: out.readableBytes)
            }
            encodeRates.append(Double(n * frameSize) / t / 1e9)
            encodeTimes.append(t / Double(n) * 1e6)
        }
        print("produce v9 encode (into a reused buffer; copies the batch once): \(format(median(encodeTimes), 3)) µs/request, \(format(median(encodeRates))) GB/s (median of 5)")

        var validateTimes: [Double] = []
        for _ in 0..<5 {
            let (n, t) = measure(seconds: 0.4) {
                sink &+= batch.hasValidCRC ? 1 : 0
            }
            validateTimes.append(t / Double(n) * 1e6)
        }
        print("record batch CRC validation (1 MiB batch): \(format(median(validateTimes), 3)) µs/batch (median of 5)")
    }
}
