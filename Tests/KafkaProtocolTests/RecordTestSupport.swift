import KafkaProtocol
import NIOCore
import Testing

/// Small helpers shared by the record batch and compression tests.
enum RecordTestSupport {
    static func bytes(_ string: String) -> ByteBuffer { ByteBuffer(string: string) }

    static func bytes(hex: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        var iterator = hex.utf8.makeIterator()
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            default: c - UInt8(ascii: "A") + 10
            }
        }
        while let high = iterator.next(), let low = iterator.next() {
            buffer.writeInteger(nibble(high) << 4 | nibble(low))
        }
        return buffer
    }

    /// Deterministic pseudo-random bytes (xorshift), optionally drawn from a small alphabet so they compress.
    static func pseudoRandom(count: Int, seed: UInt64, alphabet: Int = 256) -> ByteBuffer {
        var state = seed | 1
        var buffer = ByteBuffer()
        buffer.reserveCapacity(count)
        for _ in 0..<count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            buffer.writeInteger(UInt8(truncatingIfNeeded: state % UInt64(alphabet)))
        }
        return buffer
    }

    /// A varied set of records: keys, null keys, empty keys, null values, headers (with a null value),
    /// negative and large timestamp deltas.
    static func sampleRecords() -> [Record] {
        let filler = String(repeating: "rampart ", count: 20)
        return [
            Record(offsetDelta: 0, timestampDelta: 0, key: bytes("key-0"), value: bytes("value-0 " + filler),
                   headers: [RecordHeader(key: "trace", value: "abc"), RecordHeader(key: "empty", value: ByteBuffer())]),
            Record(offsetDelta: 1, timestampDelta: 17, key: nil, value: bytes("no key " + filler)),
            Record(offsetDelta: 2, timestampDelta: -5, key: bytes("key-2"), value: nil,
                   headers: [RecordHeader(key: "null", value: nil)]),
            Record(offsetDelta: 3, timestampDelta: 1 << 40, key: ByteBuffer(), value: ByteBuffer()),
            Record(offsetDelta: 4, timestampDelta: 99, key: bytes("k\u{e9}y"), value: pseudoRandom(count: 3000, seed: 7, alphabet: 16),
                   headers: [RecordHeader(key: "h\u{e9}ader", value: "v\u{e4}lue"), RecordHeader(key: "b", value: "2")]),
        ]
    }

    static func encode(_ batch: RecordBatch) -> ByteBuffer {
        var buffer = ByteBuffer()
        batch.write(to: &buffer)
        return buffer
    }

    /// Whether `body` throws a `KafkaProtocolError` of the same kind as `kind`.
    static func throwsKind(_ kind: KafkaProtocolError, _ body: () throws -> Void) -> Bool {
        do {
            try body()
            return false
        } catch let error as KafkaProtocolError {
            return error.isSameKind(as: kind)
        } catch {
            return false
        }
    }
}
