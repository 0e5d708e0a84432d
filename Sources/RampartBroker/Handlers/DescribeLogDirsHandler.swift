#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import KafkaProtocol
import RampartStorage

/// DescribeLogDirs (key 35): per log directory, the partitions it holds (all, or those asked for) with
/// their size in bytes, offset lag 0 (no replica is behind on a single node) and `isFutureKey` false;
/// v4 adds the file system's total and usable bytes (statvfs). A directory statvfs cannot read is
/// answered KAFKA_STORAGE_ERROR. Needs Describe on the Cluster: otherwise the answer is empty (with
/// CLUSTER_AUTHORIZATION_FAILED from v3, as Kafka).
struct DescribeLogDirsHandler: KafkaAPIHandler {
    typealias Request = DescribeLogDirsRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...4

    func handle(_ request: DescribeLogDirsRequest, context: RequestContext) async -> DescribeLogDirsResponse? {
        guard broker.authorization(context).allowsCluster(.describe) else {
            return DescribeLogDirsResponse(errorCode: KafkaErrorCode.clusterAuthorizationFailed.rawValue)
        }
        let wanted: Set<TopicPartition>? = request.topics.map { topics in
            Set(topics.flatMap { topic in topic.partitions.map { TopicPartition(topic: topic.topic, partition: $0) } })
        }
        let logs = await broker.logs.allLogs
        var response = DescribeLogDirsResponse(errorCode: 0)
        for dir in await broker.logs.config.logDirs {
            var result = DescribeLogDirsResponse.DescribeLogDirsResult(errorCode: 0, logDir: dir)
            var byTopic: [String: [DescribeLogDirsResponse.DescribeLogDirsPartition]] = [:]
            for (tp, log) in logs where Self.parent(of: log.directory) == Self.normalised(dir) && (wanted?.contains(tp) ?? true) {
                byTopic[tp.topic, default: []].append(.init(partitionIndex: tp.partition, partitionSize: await log.sizeInBytes,
                                                             offsetLag: 0, isFutureKey: false))
            }
            result.topics = byTopic.keys.sorted().map { name in
                .init(name: name, partitions: byTopic[name]!.sorted { $0.partitionIndex < $1.partitionIndex })
            }
            if let space = Self.space(of: dir) {
                result.totalBytes = space.total
                result.usableBytes = space.usable
            } else {
                result.errorCode = KafkaErrorCode.kafkaStorageError.rawValue
                result.topics = []
            }
            response.results.append(result)
        }
        return response
    }

    static func normalised(_ path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        return p
    }

    static func parent(of path: String) -> String {
        let p = normalised(path)
        guard let slash = p.lastIndex(of: "/") else { return "." }
        return slash == p.startIndex ? "/" : String(p[..<slash])
    }

    /// Total and available bytes of the file system holding `path`.
    static func space(of path: String) -> (total: Int64, usable: Int64)? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        let unit = Int64(info.f_frsize)
        return (Int64(info.f_blocks) * unit, Int64(info.f_bavail) * unit)
    }

    func errorResponse(_ request: DescribeLogDirsRequest, _ error: KafkaErrorCode) -> DescribeLogDirsResponse {
        DescribeLogDirsResponse(errorCode: error.rawValue)
    }
}
