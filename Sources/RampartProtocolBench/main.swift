// Protocol micro-benchmarks: CRC-32C throughput and Produce request decode/encode.
// Run with `make bench-protocol` (release build). Figures go to docs/benchmarks.md.
import KafkaProtocol
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Monotonic seconds.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Runs `body` repeatedly for about `seconds`, returns (iterations, elapsed).
@inline(never)
func measure(seconds: Double = 1.0, _ body: () -> Void) -> (Int, Double) {
    for _ in 0..<3 { body() }  // warm-up
    var iterations = 0
    let start = now()
    var elapsed = 0.0
    repeat {
        for _ in 0..<8 { body() }
        iterations += 8
        elapsed = now() - start
    } while elapsed < seconds
    return (iterations, elapsed)
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func format(_ value: Double, _ digits: Int = 2) -> String {
    let scale = pow(10.0, Double(digits))
    return String((value * scale).rounded() / scale)
}

nonisolated(unsafe) var sink: UInt32 = 0

func benchCRC(size: Int, label: String) {
    let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    for (name, software) in [("sse4.2", false), ("software", true)] {
        var rates: [Double] = []
        for _ in 0..<5 {
            let (n, t) = bytes.withUnsafeBytes { raw in
                measure(seconds: 0.4) {
                    sink ^= software ? CRC32C.softwareChecksum(raw) : CRC32C.checksum(raw)
                }
            }
            rates.append(Double(n * size) / t / 1e9)
        }
        print("crc32c \(name) \(label): \(format(median(rates))) GB/s (median of 5)")
    }
}

print("rampart-protocol-bench — CRC-32C hardware path available: \(CRC32C.isHardwareAccelerated)")
benchCRC(size: 64 * 1024, label: "64 KiB buffer")
benchCRC(size: 1 << 20, label: "1 MiB buffer")
benchCRC(size: 64 << 20, label: "64 MiB buffer")
ProduceBench.run()
print("sink \(sink & 1)")
