import KafkaProtocol
import NIOCore
import Synchronization
@testable import RampartStorage

#if canImport(Glibc)
import Glibc
#endif

/// A clock the test moves by hand.
final class ManualClock: StorageClock {
    private let now: Mutex<Int64>
    init(_ start: Int64 = 1_700_000_000_000) { now = Mutex(start) }
    func nowMs() -> Int64 { now.withLock { $0 } }
    func advance(by ms: Int64) { now.withLock { $0 += ms } }
    func set(_ ms: Int64) { now.withLock { $0 = ms } }
}

/// One record to put in a test batch.
struct TestRecord {
    var key: String?
    var value: String?
    var timestampDelta: Int64 = 0
}

/// Builds v2 batches with the record layer.
enum Batches {
    static func make(
        _ records: [TestRecord], baseTimestamp: Int64 = 1_700_000_000_000, compression: CompressionCodec = .none,
        isControl: Bool = false
    ) -> ByteBuffer {
        let recs = records.enumerated().map { i, r in
            Record(
                offsetDelta: Int32(i), timestampDelta: r.timestampDelta,
                key: r.key.map { ByteBuffer(string: $0) }, value: r.value.map { ByteBuffer(string: $0) })
        }
        let batch = try! RecordBatch(records: recs, baseTimestamp: baseTimestamp, compression: compression, isControl: isControl)
        var buffer = ByteBuffer()
        batch.write(to: &buffer)
        return buffer
    }

    /// A batch of `count` records with values `v<i>` and keys `k<i>`.
    static func simple(
        count: Int, tag: String = "", baseTimestamp: Int64 = 1_700_000_000_000, valueSize: Int = 10,
        compression: CompressionCodec = .none
    ) -> ByteBuffer {
        make((0..<count).map { i in
            TestRecord(key: "k\(tag)\(i)", value: "v\(tag)\(i)" + String(repeating: "x", count: valueSize), timestampDelta: Int64(i))
        }, baseTimestamp: baseTimestamp, compression: compression)
    }

    /// Concatenation of several batches.
    static func concat(_ parts: [ByteBuffer]) -> ByteBuffer {
        var out = ByteBuffer()
        for var p in parts { out.writeBuffer(&p) }
        return out
    }

    /// Decodes every batch of a read result.
    static func decode(_ buffer: ByteBuffer) throws -> [RecordBatch] {
        try RecordBatchReader.readAll(buffer, allowPartialTrailingBatch: false)
    }

    /// (offset, key, value) of every record in `buffer`.
    static func records(_ buffer: ByteBuffer) throws -> [(offset: Int64, key: String?, value: String?)] {
        var out: [(Int64, String?, String?)] = []
        for batch in try decode(buffer) {
            for r in try batch.decodeRecords() {
                out.append((batch.offset(of: r), r.key.map { String(buffer: $0) }, r.value.map { String(buffer: $0) }))
            }
        }
        return out
    }
}

/// A fresh temporary directory, removed (recursively) after `body`.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    var template = Array("/tmp/rampart-storage-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { buf -> String in
        guard let p = mkdtemp(buf.baseAddress!) else { fatalError("mkdtemp failed") }
        return String(cString: p)
    }
    defer { removeTree(path) }
    return try await body(path)
}

private func removeTree(_ path: String) {
    let fs = PosixStorageFileSystem()
    if let names = try? fs.contentsOfDirectory(path) {
        for name in names {
            let child = path + "/" + name
            if fs.isDirectory(child) { removeTree(child) } else { try? fs.removeFile(child) }
        }
    }
    try? fs.removeDirectory(path)
}

/// A manager over a fault-injecting file system with one log dir, `/data`.
func makeManager(
    fs: any StorageFileSystem, clock: ManualClock = ManualClock(), config: LogConfig = LogConfig(),
    dirs: [String] = ["/data"], customize: (inout LogManagerConfig) -> Void = { _ in }
) async throws -> LogManager {
    var managerConfig = LogManagerConfig(logDirs: dirs, defaultLogConfig: config)
    customize(&managerConfig)
    let manager = LogManager(config: managerConfig, fileSystem: fs, clock: clock)
    try await manager.startup()
    return manager
}

let tp0 = TopicPartition(topic: "orders", partition: 0)

extension StorageError {
    var code: Int16 { kafkaErrorCode }
}
