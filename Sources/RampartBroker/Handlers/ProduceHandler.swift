import KafkaProtocol
import NIOCore
import RampartMetadata
import RampartStorage

/// Produce (key 0): appends each partition's record batch to its log.
///
/// v0–2 carry message sets that Rampart does not store; they are advertised only so that old librdkafka
/// keeps its codecs enabled (COMPAT-NOTES pitfall 2) and are refused when they really arrive. Partitions
/// are appended concurrently; `acks=-1` waits for the fsync (grouped across producers) unless
/// `rampart.flush.on.ack.all=false`; `acks=0` gets no response. Once every batch is written (before the
/// fsync), the request releases its connection's ordering (`RequestContext.ordering`), so the next
/// Produce of the connection is written while this one waits and both share one group commit.
///
/// Authorization (Kafka's): batches marked transactional need Write on the request's transactional id
/// (else the whole request is TRANSACTIONAL_ID_AUTHORIZATION_FAILED); every partition of a topic the
/// principal may not Write is TOPIC_AUTHORIZATION_FAILED — checked before the topic's existence, so a
/// name does not leak — while the other partitions are appended.
struct ProduceHandler: KafkaAPIHandler {
    typealias Request = ProduceRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...11

    func handle(_ request: ProduceRequest, context: RequestContext) async -> ProduceResponse? {
        guard context.apiVersion >= 3 else { return errorResponse(request, .unsupportedVersion) }
        guard [-1, 0, 1].contains(request.acks) else { return errorResponse(request, .invalidRequiredAcks) }
        let authorization = broker.authorization(context)
        if Self.hasTransactionalRecords(request) {
            guard let transactionalId = request.transactionalId,
                  authorization.allows(.write, .transactionalId, transactionalId) else {
                return request.acks == 0 ? nil : errorResponse(request, .transactionalIdAuthorizationFailed)
            }
        }
        var writable: [String: Bool] = [:]
        for topic in request.topicData where writable[topic.name] == nil {
            writable[topic.name] = authorization.allows(.write, .topic, topic.name)
        }
        let image = await broker.metadata.current()
        let durability: AppendDurability = request.acks == -1 && broker.settings.flushOnAckAll ? .flushed : .written
        let version = context.apiVersion

        var responses: [ProduceResponse.TopicProduceResponse] = []
        var awaitingFlush: [(t: Int, p: Int, flush: PendingAppendFlush)] = []
        await withTaskGroup(of: (Int, Int, PartitionAppend).self) { group in
            for (t, topic) in request.topicData.enumerated() {
                responses.append(.init(name: topic.name, partitionResponses: topic.partitionData.map { .init(index: $0.index) }))
                for (p, partition) in topic.partitionData.enumerated() {
                    guard writable[topic.name] == true else {
                        responses[t].partitionResponses[p] = refused(index: partition.index, .topicAuthorizationFailed, nil, version: version)
                        continue
                    }
                    group.addTask {
                        (t, p, await append(topic: topic.name, partition: partition, image: image, durability: durability, version: version))
                    }
                }
            }
            for await (t, p, result) in group {
                switch result {
                case .done(let response): responses[t].partitionResponses[p] = response
                case .awaitingFlush(let flush): awaitingFlush.append((t, p, flush))
                }
            }
        }
        // Every batch is written: the connection's next Produce may be written while these wait.
        context.ordering?.release()
        if !awaitingFlush.isEmpty {
            await withTaskGroup(of: (Int, Int, ProduceResponse.PartitionProduceResponse).self) { group in
                for waiting in awaitingFlush {
                    group.addTask { (waiting.t, waiting.p, await waitForFlush(waiting.flush, version: version)) }
                }
                for await (t, p, result) in group { responses[t].partitionResponses[p] = result }
            }
        }
        broker.appended.notifyAll()
        if request.acks == 0 { return nil }
        return ProduceResponse(responses: responses)
    }

    /// A partition's append: answered, or written and waiting for its fsync.
    private enum PartitionAppend: Sendable {
        case done(ProduceResponse.PartitionProduceResponse)
        case awaitingFlush(PendingAppendFlush)
    }

    /// Waits for the fsync of a written batch and answers it.
    private func waitForFlush(_ waiting: PendingAppendFlush, version: Int16) async -> ProduceResponse.PartitionProduceResponse {
        do {
            try await waiting.log.waitForFlush(waiting.pending)
            return succeeded(waiting.pending.result, topic: waiting.topic, index: waiting.index, bytes: waiting.bytes)
        } catch {
            return failed(error, topic: waiting.topic, index: waiting.index, version: version)
        }
    }

    private func succeeded(_ result: AppendResult, topic: String, index: Int32, bytes: Int) -> ProduceResponse.PartitionProduceResponse {
        if !result.isDuplicate { BrokerMetrics.produced(topic: topic, bytes: bytes, records: Int(result.lastOffset - result.baseOffset + 1)) }
        return .init(index: index, errorCode: 0, baseOffset: result.baseOffset,
                     logAppendTimeMs: result.logAppendTime, logStartOffset: result.logStartOffset)
    }

    private func failed(_ error: any Error, topic: String, index: Int32, version: Int16) -> ProduceResponse.PartitionProduceResponse {
        let code = Broker.errorCode(error)
        if code == .kafkaStorageError || code == .unknownServerError {
            broker.logger.error("append failed", metadata: ["partition": "\(topic)-\(index)", "error": "\(error)"])
        }
        return refused(index: index, code, (error as? StorageError)?.message, version: version)
    }

    /// A partition's answer carrying `code` (and `message` from v8 on, where the field exists).
    private func refused(index: Int32, _ code: KafkaErrorCode, _ message: String?, version: Int16) -> ProduceResponse.PartitionProduceResponse {
        .init(index: index, errorCode: code.rawValue, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1,
              errorMessage: version >= 8 ? message : nil)
    }

    private func append(topic: String, partition: ProduceRequest.PartitionProduceData, image: ClusterMetadata,
                        durability: AppendDurability, version: Int16) async -> PartitionAppend {
        func failure(_ code: KafkaErrorCode, _ message: String? = nil) -> PartitionAppend {
            .done(refused(index: partition.index, code, message, version: version))
        }
        if image.topics[topic]?.isInternal == true {
            return failure(.invalidTopic, "cannot append to internal topic \(topic)")
        }
        let log: PartitionLog
        switch await broker.partitionLog(topic: topic, partition: partition.index, image: image) {
        case .success(let found): log = found
        case .failure(let code): return failure(code)
        }
        guard let records = partition.records, records.readableBytes > 0 else {
            return failure(.invalidRecord, "produce requests must carry exactly one record batch")
        }
        // Produce v3+ carries exactly one v2 batch; zstd needs v7+ (KIP-110).
        do {
            guard let header = try RecordBatchHeader.peek(records, at: records.readerIndex) else {
                return failure(.corruptMessage, "truncated record batch")
            }
            guard header.totalSize == records.readableBytes else {
                return failure(.invalidRecord, "produce requests must carry exactly one record batch")
            }
            if header.attributes.compressionCodecID == CompressionCodec.zstd.rawValue && version < 7 {
                return failure(.unsupportedCompressionType, "zstd needs Produce v7 or later")
            }
        } catch {
            return failure(.invalidRecord, "\(error)")
        }
        do {
            if durability == .flushed {
                let pending = try await log.appendAwaitingFlush(records)
                return .awaitingFlush(PendingAppendFlush(log: log, pending: pending, topic: topic, index: partition.index,
                                                         bytes: records.readableBytes))
            }
            let result = try await log.append(records, durability: durability)
            return .done(succeeded(result, topic: topic, index: partition.index, bytes: records.readableBytes))
        } catch {
            return .done(failed(error, topic: topic, index: partition.index, version: version))
        }
    }

    /// Whether any batch is marked transactional (Kafka's `hasTransactionalRecords`).
    static func hasTransactionalRecords(_ request: ProduceRequest) -> Bool {
        request.topicData.contains { topic in
            topic.partitionData.contains { partition in
                guard let records = partition.records,
                      let header = try? RecordBatchHeader.peek(records, at: records.readerIndex) else { return false }
                return header.attributes.isTransactional
            }
        }
    }

    func errorResponse(_ request: ProduceRequest, _ error: KafkaErrorCode) -> ProduceResponse {
        ProduceResponse(responses: request.topicData.map { topic in
            .init(name: topic.name, partitionResponses: topic.partitionData.map {
                refused(index: $0.index, error, nil, version: 0)
            })
        })
    }
}

/// A batch written to a partition whose answer waits for the fsync.
private struct PendingAppendFlush: Sendable {
    let log: PartitionLog
    let pending: PartitionLog.PendingFlush
    let topic: String
    let index: Int32
    let bytes: Int
}
