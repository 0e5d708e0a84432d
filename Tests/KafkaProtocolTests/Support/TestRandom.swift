import KafkaProtocol
import NIOCore

/// A message the generated test support can fill with random values legal at a given version.
protocol RandomizableKafkaMessage: KafkaMessage {
    static func random(version: Int16, using rng: inout TestRandom) -> Self
}

/// A small deterministic generator (SplitMix64) so a failing case can be replayed from its seed.
struct TestRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    /// A seed derived from a name and a version, stable across runs and platforms.
    init(name: String, version: Int16, sample: Int) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        h ^= UInt64(UInt16(bitPattern: version)) << 32 | UInt64(sample)
        self.init(seed: h)
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int8() -> Int8 { Int8(truncatingIfNeeded: next()) }
    mutating func int16() -> Int16 { Int16(truncatingIfNeeded: next()) }
    mutating func int32() -> Int32 { Int32(truncatingIfNeeded: next()) }
    mutating func int64() -> Int64 { Int64(bitPattern: next()) }
    mutating func uint16() -> UInt16 { UInt16(truncatingIfNeeded: next()) }
    mutating func uint32() -> UInt32 { UInt32(truncatingIfNeeded: next()) }
    mutating func bool() -> Bool { next() & 1 == 1 }
    mutating func float64() -> Double { Double(int32()) / 7.0 }
    mutating func uuid() -> KafkaUUID { KafkaUUID(mostSignificantBits: next(), leastSignificantBits: next()) }

    /// Null about one time in four.
    mutating func isNull() -> Bool { next() % 4 == 0 }

    /// Array lengths: mostly small, sometimes empty.
    mutating func count() -> Int { Int(next() % 4) }

    private static let alphabet: [String] = ["a", "b", "z", "A", "0", "-", "_", ".", " ", "é", "日", "🚀"]

    /// Short strings including multi-byte UTF-8, so byte lengths differ from character counts.
    mutating func string() -> String {
        let length = Int(next() % 9)
        var s = ""
        for _ in 0..<length {
            s += Self.alphabet[Int(next() % UInt64(Self.alphabet.count))]
        }
        return s
    }

    mutating func bytes() -> ByteBuffer {
        let length = Int(next() % 40)
        var buffer = ByteBuffer()
        for _ in 0..<length {
            buffer.writeInteger(UInt8(truncatingIfNeeded: next()))
        }
        return buffer
    }
}
