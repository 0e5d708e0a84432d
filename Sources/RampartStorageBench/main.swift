// Storage benchmark: append throughput (1 KiB records in 64 KiB batches) buffered, with an fsync per
// batch, and with grouped fsync; sequential read; and fio on the same disk in the same run.
// Run with `make bench-storage` (release build). Not a test: figures go to docs/benchmarks.md.
//
// Usage: rampart-storage-bench [directory] [buffered-MiB] [fsync-MiB]
import Foundation
import KafkaProtocol
import NIOCore
import RampartStorage

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func mib(_ bytes: Int, _ seconds: Double) -> String { String(format: "%.1f MiB/s", Double(bytes) / seconds / 1_048_576) }

/// One uncompressed 64 KiB-ish batch of 64 records with 1 KiB values.
func makeBatch() throws -> ByteBuffer {
    let value = ByteBuffer(repeating: 0x61, count: 1024)
    let records = (0..<64).map { Record(offsetDelta: Int32($0), timestampDelta: 0, key: nil, value: value) }
    let batch = try RecordBatch(records: records, baseTimestamp: 1_700_000_000_000)
    var buffer = ByteBuffer()
    batch.write(to: &buffer)
    return buffer
}

func fio(_ directory: String, _ args: [String]) -> Double? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["fio", "--name=rampart", "--directory=\(directory)", "--output-format=json", "--ioengine=psync"] + args
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
          let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let jobs = json["jobs"] as? [[String: Any]], let write = jobs.first?["write"] as? [String: Any],
          let bw = write["bw_bytes"] as? NSNumber else { return nil }
    return bw.doubleValue
}

let arguments = CommandLine.arguments
let base = arguments.count > 1 ? arguments[1] : NSTemporaryDirectory()
let bufferedMiB = arguments.count > 2 ? Int(arguments[2])! : 1024
let fsyncMiB = arguments.count > 3 ? Int(arguments[3])! : 128
let directory = (base as NSString).appendingPathComponent("rampart-storage-bench-\(getpid())")
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }

let batch = try makeBatch()
print("storage bench in \(directory); batch \(batch.readableBytes) bytes (64 × 1 KiB records)")

func freshLog(_ name: String) async throws -> (LogManager, PartitionLog) {
    var config = LogConfig()
    config.segmentBytes = 1 << 30
    let manager = LogManager(config: LogManagerConfig(logDirs: [directory + "/" + name], defaultLogConfig: config))
    try await manager.startup()
    return (manager, try await manager.createLog(TopicPartition(topic: "bench", partition: 0)))
}

// Buffered append (acks=1).
do {
    let (manager, log) = try await freshLog("buffered")
    let count = bufferedMiB * 1_048_576 / batch.readableBytes
    let start = now()
    for _ in 0..<count { _ = try await log.append(batch, durability: .written) }
    let elapsed = now() - start
    print("append buffered (acks=1):       \(mib(count * batch.readableBytes, elapsed))")
    // Sequential read of what was written (page cache).
    let readStart = now()
    var offset: Int64 = 0
    var bytes = 0
    let end = await log.logEndOffset
    while offset < end {
        let result = try await log.read(from: offset, maxBytes: 1 << 20, limit: .logEndOffset)
        bytes += result.records.readableBytes
        var last = result.records
        var lastOffset = offset
        while let h = try RecordBatchHeader.peek(last, at: last.readerIndex) {
            lastOffset = h.lastOffset
            last.moveReaderIndex(forwardBy: h.totalSize)
            if last.readableBytes == 0 { break }
        }
        offset = lastOffset + 1
    }
    print("sequential read (page cache):   \(mib(bytes, now() - readStart))")
    try await manager.shutdown()
}

// One fsync per batch (acks=all, one producer).
do {
    let (manager, log) = try await freshLog("fsync")
    let count = fsyncMiB * 1_048_576 / batch.readableBytes
    let start = now()
    for _ in 0..<count { _ = try await log.append(batch, durability: .flushed) }
    print("append + fsync per batch:       \(mib(count * batch.readableBytes, now() - start))")
    try await manager.shutdown()
}

// Grouped fsync (acks=all, 16 concurrent producers).
do {
    let (manager, log) = try await freshLog("grouped")
    let producers = 16
    let perProducer = fsyncMiB * 1_048_576 / batch.readableBytes / producers
    let start = now()
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<producers {
            group.addTask { for _ in 0..<perProducer { _ = try await log.append(batch, durability: .flushed) } }
        }
        try await group.waitForAll()
    }
    let rounds = await log.syncRounds
    print("append + grouped fsync (16):    \(mib(producers * perProducer * batch.readableBytes, now() - start)), \(rounds) fsync rounds for \(producers * perProducer) appends")
    try await manager.shutdown()
}

// fio on the same disk.
if let buffered = fio(directory, ["--rw=write", "--bs=64k", "--size=\(bufferedMiB)M"]) {
    print("fio write bs=64k buffered:      \(mib(Int(buffered), 1))")
} else {
    print("fio: not available (apt-get install fio)")
}
if let synced = fio(directory, ["--rw=write", "--bs=1M", "--size=\(fsyncMiB)M", "--fdatasync=1"]) {
    print("fio write bs=1M + fdatasync:    \(mib(Int(synced), 1))")
}
if let synced = fio(directory, ["--rw=write", "--bs=64k", "--size=\(fsyncMiB)M", "--fdatasync=1"]) {
    print("fio write bs=64k + fdatasync:   \(mib(Int(synced), 1))")
}
