import KafkaProtocol
import NIOCore
import Testing
@testable import RampartStorage

/// Kills the log at every write of a scripted sequence and checks what recovery keeps.
@Suite struct CrashTests {
    static var config: LogConfig {
        var config = LogConfig()
        config.segmentBytes = 700
        config.indexIntervalBytes = 120
        return config
    }

    /// The script: appends of one to three batches, all acks=all and awaited one by one, so every
    /// acknowledged offset is fsynced and nothing else is. Returns the offset end of the last acknowledged
    /// append (and stops at the first failure).
    static func runScript(_ log: PartitionLog) async -> Int64 {
        var acked: Int64 = 0
        for step in 0..<14 {
            let parts = (0...(step % 3)).map { Batches.simple(count: 1 + (step + $0) % 3, tag: "s\(step)p\($0)") }
            do {
                let result = try await log.append(Batches.concat(parts), durability: .flushed)
                acked = result.lastOffset + 1
            } catch {
                return acked
            }
        }
        return acked
    }

    /// Every record the script would write, in offset order.
    static var scriptValues: [String] {
        var values: [String] = []
        for step in 0..<14 {
            for p in 0...(step % 3) {
                for i in 0..<(1 + (step + p) % 3) { values.append("vs\(step)p\(p)\(i)" + String(repeating: "x", count: 10)) }
            }
        }
        return values
    }

    static func allRecords(_ log: PartitionLog) async throws -> [String] {
        var values: [String] = []
        var offset = await log.logStartOffset
        let end = await log.logEndOffset
        while offset < end {
            let records = try Batches.records(try await log.read(from: offset, maxBytes: 1 << 20, limit: .logEndOffset).records)
            values += records.filter { $0.offset >= offset }.map { $0.value ?? "" }
            offset = records.last!.offset + 1
        }
        return values
    }

    @Test func recoveryKeepsExactlyTheAcknowledgedPrefix() async throws {
        // Count the writes of a clean run.
        let probe = FaultInjectingFileSystem()
        let probeManager = try await makeManager(fs: probe, config: Self.config)
        let probeLog = try await probeManager.createLog(tp0)
        let start = probe.writeCount
        let total = await Self.runScript(probeLog)
        let writes = probe.writeCount - start
        #expect(total == Int64(Self.scriptValues.count))
        #expect(writes > 20)
        #expect(try await Self.allRecords(probeLog) == Self.scriptValues)

        var tornTails = 0
        for n in 1...writes {
            let fs = FaultInjectingFileSystem()
            let manager = try await makeManager(fs: fs, config: Self.config)
            let log = try await manager.createLog(tp0)
            // Torn prefixes stay shorter than any batch so a torn write never leaves a whole batch.
            fs.crash(atWrite: fs.writeCount + n, tornBytes: [0, 5, 40][n % 3])
            let acked = await Self.runScript(log)
            #expect(fs.hasCrashed, "write \(n)")

            for mode in [FaultInjectingFileSystem.CrashMode.powerLoss, .processKill] {
                let image = fs.crashImage(mode)
                let recovered = try await makeManager(fs: image, config: Self.config)
                let log2 = try #require(await recovered.log(for: tp0))
                let state = await log2.state
                #expect(state == .online, "write \(n) \(mode): \(state)")
                if await log2.loadReport.truncatedBytes > 0 { tornTails += 1 }
                let values = try await Self.allRecords(log2)
                let end = await log2.logEndOffset
                if mode == .powerLoss {
                    #expect(end == acked, "write \(n): recovered \(end), acknowledged \(acked)")
                } else {
                    #expect(end >= acked, "write \(n): recovered \(end), acknowledged \(acked)")
                }
                #expect(values == Array(Self.scriptValues.prefix(values.count)), "write \(n) \(mode)")
                #expect(values.count == Int(end))
                // The recovered log takes appends again at its end.
                let next = try await log2.append(Batches.simple(count: 1), durability: .flushed)
                #expect(next.baseOffset == end)
                // And a second restart after recovery is clean and identical.
                try await recovered.shutdown()
                let again = try await makeManager(fs: image, config: Self.config)
                #expect(await again.log(for: tp0)!.logEndOffset == end + 1)
            }
        }
        #expect(tornTails > 0, "some crashes must leave a torn tail to cut")
    }
}
