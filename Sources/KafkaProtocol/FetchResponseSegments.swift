import NIOCore

extension FetchResponse {
    /// The response header and body as buffers to be written one after the other, identical byte for
    /// byte to `encodeResponse(version:correlationId:to:)`, except that record sets of at least
    /// `minimumSegmentBytes` are not copied: each is its own element (the buffer the log read), between
    /// small buffers holding everything else. A broker writes them as one frame (size prefix: the sum of
    /// their readable bytes) without gathering ~50 MiB of batches into one contiguous buffer.
    ///
    /// Partitions that carry tagged fields (diverging epoch, current leader, snapshot id) are encoded
    /// with their records copied, as are record sets below the threshold.
    public func encodeResponseSegments(
        version: Int16, correlationId: Int32, minimumSegmentBytes: Int = 16 * 1024
    ) throws -> [ByteBuffer] {
        guard Self.validVersions.contains(version) else {
            throw KafkaProtocolError.unsupportedVersion(Self.messageName, version)
        }
        let flexible = version >= 12
        var segments: [ByteBuffer] = []
        var head = ByteBuffer()
        head.reserveCapacity(256)
        try ResponseHeader(correlationId: correlationId).encode(
            to: &head, version: Self.apiKey.responseHeaderVersion(apiVersion: version))
        // FetchResponse's own fields, as the generated `write(to:version:)` writes them.
        if version >= 1 { head.writeKafkaInt32(throttleTimeMs) }
        if version >= 7 {
            head.writeKafkaInt16(errorCode)
            head.writeKafkaInt32(sessionId)
        } else if sessionId != 0 {
            throw KafkaProtocolError.fieldNotSupportedAtVersion("FetchResponse.SessionId", version)
        }
        head.writeKafkaArrayCount(responses.count, compact: flexible)
        for topic in responses {
            if version <= 12 { try head.writeKafkaString(topic.topic, compact: flexible) }
            if version >= 13 { head.writeKafkaUUID(topic.topicId) }
            head.writeKafkaArrayCount(topic.partitions.count, compact: flexible)
            for partition in topic.partitions {
                guard let records = partition.records, records.readableBytes >= minimumSegmentBytes,
                      partition.divergingEpoch == EpochEndOffset(), partition.currentLeader == LeaderIdAndEpoch(),
                      partition.snapshotId == SnapshotId() else {
                    try partition.write(to: &head, version: version)
                    continue
                }
                // Encoded with null records, the partition ends with the null length (int32 -1, or
                // varint 0 when flexible) followed, when flexible, by an empty tagged-field section
                // (varint 0): replace that tail by the real length, the records, and the section.
                var stripped = partition
                stripped.records = nil
                try stripped.write(to: &head, version: version)
                head.moveWriterIndex(to: head.writerIndex - (flexible ? 2 : 4))
                head.writeKafkaLength(records.readableBytes, compact: flexible, wide: true)
                segments.append(head)
                segments.append(records)
                head = ByteBuffer()
                head.reserveCapacity(256)
                if flexible { head.writeKafkaUnsignedVarint(0) }
            }
            if flexible { head.writeKafkaUnsignedVarint(0) }
        }
        if !(version >= 16) && nodeEndpoints != [] {
            throw KafkaProtocolError.fieldNotSupportedAtVersion("FetchResponse.NodeEndpoints", version)
        }
        if flexible {
            let withEndpoints = version >= 16 && nodeEndpoints != []
            head.writeKafkaUnsignedVarint(withEndpoints ? 1 : 0)
            if withEndpoints {
                try head.writeKafkaTaggedField(0) { tagged in
                    try tagged.writeKafkaStructArray(nodeEndpoints, compact: true, version: version)
                }
            }
        }
        segments.append(head)
        return segments
    }
}
