import KafkaProtocol
import NIOCore
import Testing

@Suite struct CRC32CTests {
    // Known vectors: RFC 3720 appendix B.4 and the standard check value.
    static let vectors: [([UInt8], UInt32)] = [
        (Array("123456789".utf8), 0xE306_9283),
        ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),
        ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        (Array(0..<32), 0x46DD_794E),
        (Array((0..<32).reversed()), 0x113F_DB5C),
        ([], 0),
    ]

    @Test func knownVectorsHardwareAndSoftware() {
        for (bytes, expected) in Self.vectors {
            bytes.withUnsafeBytes { raw in
                #expect(CRC32C.checksum(raw) == expected)
                #expect(CRC32C.softwareChecksum(raw) == expected)
            }
        }
    }

    @Test func largeInputsAgreeAcrossPathsAndChunking() {
        var rng = SystemRandomNumberGenerator()
        for size in [1, 7, 8, 9, 100, 8191, 24_576, 24_577, 100_000, 1 << 20] {
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
            bytes.withUnsafeBytes { raw in
                let hw = CRC32C.checksum(raw)
                #expect(hw == CRC32C.softwareChecksum(raw), "size \(size)")
                let split = size / 3
                let first = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<split]))
                let chained = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[split...]), seed: first)
                #expect(chained == hw, "chained size \(size)")
                // Unaligned start.
                if size > 3 {
                    let a = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[1...]))
                    let b = CRC32C.softwareChecksum(UnsafeRawBufferPointer(rebasing: raw[1...]))
                    #expect(a == b)
                }
            }
        }
    }
}
