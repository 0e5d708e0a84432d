import KafkaProtocol
import NIOCore
import RampartMetadata
import RampartStorage

/// Fetch (key 1): whole record batches from each partition's log, from the batch holding the fetch
/// offset, up to the high watermark (the last stable offset for read_committed, which equals it while
/// transactions are not served).
///
/// Long polls: when less than `minBytes` is available the request waits up to `maxWaitMs`, woken by
/// appends. Fetch sessions (KIP-227) are not kept: every answer carries session id 0 ("no session"), so
/// clients send full fetches; an incremental fetch gets FETCH_SESSION_ID_NOT_FOUND.
///
/// Authorization (Kafka's): a consumer needs Read on each topic — partitions of other topics are
/// TOPIC_AUTHORIZATION_FAILED, whether the topic exists or not; a follower (replica id ≥ 0) needs
/// ClusterAction on the Cluster, else every partition is TOPIC_AUTHORIZATION_FAILED.
struct FetchHandler: KafkaAPIHandler {
    typealias Request = FetchRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 4...17

    func handle(_ request: FetchRequest, context: RequestContext) async -> FetchResponse? {
        if request.sessionId != 0 || request.sessionEpoch > 0 {
            return FetchResponse(errorCode: KafkaErrorCode.fetchSessionIdNotFound.rawValue, sessionId: 0)
        }
        let readCommitted = request.isolationLevel == 1
        let deadline = ContinuousClock.now + .milliseconds(max(0, Int(request.maxWaitMs)))
        var access = TopicAccess(authorization: broker.authorization(context), request: request, version: context.apiVersion)
        while true {
            let (response, bytes, hadError) = await fetchOnce(request, version: context.apiVersion, readCommitted: readCommitted,
                                                              access: &access)
            let now = ContinuousClock.now
            if bytes >= Int(request.minBytes) || hadError || now >= deadline || request.maxWaitMs <= 0 {
                return response
            }
            await broker.appended.wait(timeout: deadline - now)
        }
    }

    /// One pass over the requested partitions. Returns the response, the bytes of records in it, and
    /// whether any partition failed (errors answer at once, as in Kafka).
    /// Which topics this request may read, decided once per topic name (and logged once).
    struct TopicAccess {
        let authorization: RequestAuthorization
        /// A follower without ClusterAction: nothing may be read.
        let followerDenied: Bool
        var readable: [String: Bool] = [:]

        init(authorization: RequestAuthorization, request: FetchRequest, version: Int16) {
            self.authorization = authorization
            let replicaID = version >= 15 ? request.replicaState.replicaId : request.replicaId
            followerDenied = replicaID >= 0 && !authorization.allowsCluster(.clusterAction)
        }

        mutating func mayRead(_ topic: String) -> Bool {
            if followerDenied { return false }
            if let known = readable[topic] { return known }
            let allowed = authorization.allows(.read, .topic, topic)
            readable[topic] = allowed
            return allowed
        }
    }

    private func fetchOnce(_ request: FetchRequest, version: Int16, readCommitted: Bool,
                           access: inout TopicAccess) async -> (FetchResponse, Int, Bool) {
        let image = await broker.metadata.current()
        var remaining = max(0, Int(request.maxBytes))
        var total = 0
        var hadError = false
        var response = FetchResponse(sessionId: 0)
        for topic in request.topics {
            var name = topic.topic
            if version >= 13 {
                let id = TopicID(mostSignificantBits: topic.topicId.mostSignificantBits, leastSignificantBits: topic.topicId.leastSignificantBits)
                name = image.topic(id: id)?.name ?? ""
            }
            var topicResponse = FetchResponse.FetchableTopicResponse(topic: version >= 13 ? "" : topic.topic, topicId: topic.topicId)
            let mayRead = name.isEmpty || access.mayRead(name)
            for partition in topic.partitions {
                guard mayRead else {
                    hadError = true
                    topicResponse.partitions.append(.init(partitionIndex: partition.partition,
                                                          errorCode: KafkaErrorCode.topicAuthorizationFailed.rawValue, highWatermark: -1,
                                                          lastStableOffset: -1, logStartOffset: -1, abortedTransactions: nil, records: ByteBuffer()))
                    continue
                }
                let data = await read(topic: name, partition: partition, image: image, version: version,
                                      readCommitted: readCommitted, maxBytes: remaining, isFirst: total == 0)
                if data.errorCode != 0 { hadError = true }
                let size = data.records?.readableBytes ?? 0
                BrokerMetrics.fetched(topic: name, bytes: size)
                total += size
                remaining = max(0, remaining - size)
                topicResponse.partitions.append(data)
            }
            response.responses.append(topicResponse)
        }
        return (response, total, hadError)
    }

    private func read(topic: String, partition: FetchRequest.FetchPartition, image: ClusterMetadata, version: Int16,
                      readCommitted: Bool, maxBytes: Int, isFirst: Bool) async -> FetchResponse.PartitionData {
        var data = FetchResponse.PartitionData(partitionIndex: partition.partition, highWatermark: -1, lastStableOffset: -1,
                                               logStartOffset: -1, abortedTransactions: nil, records: ByteBuffer())
        if topic.isEmpty {
            data.errorCode = (version >= 13 ? KafkaErrorCode.unknownTopicId : .unknownTopicOrPartition).rawValue
            return data
        }
        let log: PartitionLog
        switch await broker.partitionLog(topic: topic, partition: partition.partition, image: image) {
        case .success(let found): log = found
        case .failure(let code):
            data.errorCode = code.rawValue
            return data
        }
        let metadata = image.topics[topic]?.partitions.first { $0.partition == partition.partition }
        let epochCheck = broker.checkLeaderEpoch(partition.currentLeaderEpoch, partition: metadata)
        if epochCheck != .noError {
            data.errorCode = epochCheck.rawValue
            return data
        }
        let limit = min(maxBytes, max(0, Int(partition.partitionMaxBytes)))
        do {
            // Kafka returns at least one whole batch for the first partition with data, even past the limits.
            let result = try await log.read(from: partition.fetchOffset, maxBytes: limit, limit: .highWatermark, minOneBatch: isFirst)
            data.highWatermark = result.highWatermark
            data.lastStableOffset = result.highWatermark
            data.logStartOffset = result.logStartOffset
            data.records = result.records
            if readCommitted { data.abortedTransactions = [] }
        } catch {
            data.errorCode = Broker.errorCode(error).rawValue
            data.highWatermark = await log.highWatermark
            data.lastStableOffset = data.highWatermark
            data.logStartOffset = await log.logStartOffset
        }
        return data
    }

    func errorResponse(_ request: FetchRequest, _ error: KafkaErrorCode) -> FetchResponse {
        FetchResponse(errorCode: error.rawValue, sessionId: 0, responses: request.topics.map { topic in
            .init(topic: topic.topic, topicId: topic.topicId, partitions: topic.partitions.map {
                .init(partitionIndex: $0.partition, errorCode: error.rawValue, highWatermark: -1, abortedTransactions: nil)
            })
        })
    }
}
