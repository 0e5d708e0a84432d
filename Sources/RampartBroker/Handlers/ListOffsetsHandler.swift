import KafkaProtocol
import NIOCore
import RampartMetadata
import RampartStorage

/// ListOffsets (key 2): earliest (-2), latest (-1), max timestamp (-3, v7+) and by timestamp: the first
/// offset whose record timestamp is at or after the target. Partitions of topics the principal may
/// not Describe are TOPIC_AUTHORIZATION_FAILED (existing or not).
struct ListOffsetsHandler: KafkaAPIHandler {
    typealias Request = ListOffsetsRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...10

    static let latest: Int64 = -1
    static let earliest: Int64 = -2
    static let maxTimestamp: Int64 = -3

    func handle(_ request: ListOffsetsRequest, context: RequestContext) async -> ListOffsetsResponse? {
        let authorization = broker.authorization(context)
        var describable: [String: Bool] = [:]
        for topic in request.topics where describable[topic.name] == nil {
            describable[topic.name] = authorization.allows(.describe, .topic, topic.name)
        }
        let image = await broker.metadata.current()
        var response = ListOffsetsResponse()
        for topic in request.topics {
            var result = ListOffsetsResponse.ListOffsetsTopicResponse(name: topic.name)
            for partition in topic.partitions {
                guard describable[topic.name] == true else {
                    result.partitions.append(.init(partitionIndex: partition.partitionIndex,
                                                   errorCode: KafkaErrorCode.topicAuthorizationFailed.rawValue))
                    continue
                }
                result.partitions.append(await lookup(topic: topic.name, partition: partition, image: image, version: context.apiVersion))
            }
            response.topics.append(result)
        }
        return response
    }

    private func lookup(topic: String, partition: ListOffsetsRequest.ListOffsetsPartition, image: ClusterMetadata,
                        version: Int16) async -> ListOffsetsResponse.ListOffsetsPartitionResponse {
        var answer = ListOffsetsResponse.ListOffsetsPartitionResponse(partitionIndex: partition.partitionIndex)
        func fail(_ code: KafkaErrorCode) -> ListOffsetsResponse.ListOffsetsPartitionResponse {
            answer.errorCode = code.rawValue
            return answer
        }
        let log: PartitionLog
        switch await broker.partitionLog(topic: topic, partition: partition.partitionIndex, image: image) {
        case .success(let found): log = found
        case .failure(let code): return fail(code)
        }
        let metadata = image.topics[topic]?.partitions.first { $0.partition == partition.partitionIndex }
        let epochCheck = broker.checkLeaderEpoch(partition.currentLeaderEpoch, partition: metadata)
        if epochCheck != .noError { return fail(epochCheck) }
        let epoch = metadata?.leaderEpoch ?? 0
        var offset: Int64
        var timestamp: Int64 = -1
        do {
            switch partition.timestamp {
            case Self.latest:
                offset = await log.highWatermark
            case Self.earliest:
                offset = await log.logStartOffset
            case Self.maxTimestamp where version >= 7:
                if let found = try await log.lookupMaxTimestamp() {
                    offset = try Self.firstRecord(in: found.batch, atOrAfter: found.timestamp, floor: found.offset)?.offset ?? found.offset
                    timestamp = found.timestamp
                } else {
                    offset = -1
                }
            case let target where target >= 0:
                if let found = try await log.lookup(timestamp: target) {
                    let record = try Self.firstRecord(in: found.batch, atOrAfter: target, floor: found.offset)
                    offset = record?.offset ?? found.offset
                    timestamp = record?.timestamp ?? found.timestamp
                } else {
                    offset = -1
                }
            default:
                return fail(.invalidRequest)
            }
        } catch {
            return fail(Broker.errorCode(error))
        }
        if version == 0 {
            answer.oldStyleOffsets = offset >= 0 ? [offset] : []
        } else {
            answer.offset = offset
            answer.timestamp = timestamp
            if version >= 4 { answer.leaderEpoch = offset >= 0 ? epoch : -1 }
        }
        return answer
    }

    /// The first record in `batch` (at or after `floor`) whose timestamp is ≥ `target`: its offset and
    /// timestamp. The batch is parsed (and decompressed) once.
    static func firstRecord(in batch: ByteBuffer, atOrAfter target: Int64, floor: Int64) throws -> (offset: Int64, timestamp: Int64)? {
        var reader = RecordBatchReader(batch)
        guard let parsed = try reader.next() else { return nil }
        if parsed.header.attributes.isLogAppendTime {
            return (max(parsed.header.baseOffset, floor), parsed.header.maxTimestamp)
        }
        var records = try parsed.records()
        while let record = try records.next() {
            let offset = parsed.offset(of: record)
            let timestamp = parsed.timestamp(of: record)
            if offset >= floor && timestamp >= target { return (offset, timestamp) }
        }
        return nil
    }

    func errorResponse(_ request: ListOffsetsRequest, _ error: KafkaErrorCode) -> ListOffsetsResponse {
        ListOffsetsResponse(topics: request.topics.map { topic in
            .init(name: topic.name, partitions: topic.partitions.map { .init(partitionIndex: $0.partitionIndex, errorCode: error.rawValue) })
        })
    }
}
