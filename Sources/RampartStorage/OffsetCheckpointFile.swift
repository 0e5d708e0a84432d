import NIOCore

/// Kafka's per-log-directory checkpoint files (`recovery-point-offset-checkpoint`,
/// `log-start-offset-checkpoint`), in Kafka's text format:
///
/// ```
/// 0                       version
/// 2                       number of entries
/// orders 0 1234           <topic> <partition> <offset>, one line per partition
/// payments 3 56
/// ```
///
/// Written atomically (temporary file, fsync, rename, directory fsync).
struct OffsetCheckpointFile {
    static let recoveryPointName = "recovery-point-offset-checkpoint"
    static let logStartOffsetName = "log-start-offset-checkpoint"
    static let cleanShutdownName = ".kafka_cleanshutdown"

    let path: String
    let fs: any StorageFileSystem

    func write(_ offsets: [TopicPartition: Int64]) throws {
        var text = "0\n\(offsets.count)\n"
        for (tp, offset) in offsets.sorted(by: { $0.key < $1.key }) {
            text += "\(tp.topic) \(tp.partition) \(offset)\n"
        }
        var buffer = ByteBufferAllocator().buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        try fs.writeFileAtomically(path, contents: buffer)
    }

    /// The entries, or an empty map when the file does not exist. A malformed file is an error.
    func read() throws -> [TopicPartition: Int64] {
        guard fs.exists(path) else { return [:] }
        var buffer = try fs.readWholeFile(path)
        let text = buffer.readString(length: buffer.readableBytes) ?? ""
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.count >= 2, lines[0] == "0", let count = Int(lines[1]), lines.count == count + 2 else {
            throw StorageError.io("malformed checkpoint file \(path)")
        }
        var result: [TopicPartition: Int64] = [:]
        for line in lines.dropFirst(2) {
            let parts = line.split(separator: " ")
            guard parts.count == 3, let p = Int32(parts[1]), let o = Int64(parts[2]) else {
                throw StorageError.io("malformed checkpoint line in \(path)")
            }
            result[TopicPartition(topic: String(parts[0]), partition: p)] = o
        }
        return result
    }
}
