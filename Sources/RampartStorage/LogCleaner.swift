/// Compaction settings shared by all partitions (the throttle).
final class LogCleaner: Sendable {
    let ioBytesPerSecond: Double
    init(ioBytesPerSecond: Double) { self.ioBytesPerSecond = ioBytesPerSecond }
}

extension PartitionLog {
    func compact(now: Int64?, cleaner: LogCleaner) async throws {}
}
