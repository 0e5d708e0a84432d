import KafkaProtocol
import NIOCore
import RampartBroker
import RampartStorage
import Testing

@Suite struct OffsetHandlerTests {
    func commit(_ group: String, _ offsets: [(String, Int32, Int64)], metadata: String? = "", epoch: Int32 = -1,
                generation: Int32 = -1, member: String = "") -> OffsetCommitRequest {
        let topics = Dictionary(grouping: offsets, by: \.0).sorted { $0.key < $1.key }.map { name, entries in
            OffsetCommitRequest.OffsetCommitRequestTopic(name: name, partitions: entries.map {
                .init(partitionIndex: $0.1, committedOffset: $0.2, committedLeaderEpoch: epoch, committedMetadata: metadata)
            })
        }
        return OffsetCommitRequest(groupId: group, generationIdOrMemberEpoch: generation, memberId: member, topics: topics)
    }

    func errors(_ response: OffsetCommitResponse) -> [KafkaErrorCode] {
        response.topics.flatMap { $0.partitions.map { KafkaErrorCode($0.errorCode) } }
    }

    func fetch(_ f: GroupsFixture, _ group: String, _ topics: [(String, [Int32])]?, version: Int16) async throws
        -> [String: (offset: Int64, epoch: Int32, metadata: String?)] {
        var result: [String: (Int64, Int32, String?)] = [:]
        if version >= 8 {
            let request = OffsetFetchRequest(groups: [.init(groupId: group, topics: topics.map { $0.map { .init(name: $0.0, partitionIndexes: $0.1) } })])
            let response = try await f.call(request, version: version)
            for topic in response.groups.first?.topics ?? [] {
                for p in topic.partitions { result["\(topic.name)-\(p.partitionIndex)"] = (p.committedOffset, p.committedLeaderEpoch, p.metadata) }
            }
        } else {
            let request = OffsetFetchRequest(groupId: group, topics: topics.map { $0.map { .init(name: $0.0, partitionIndexes: $0.1) } })
            let response = try await f.call(request, version: version)
            #expect(response.errorCode == 0)
            for topic in response.topics {
                for p in topic.partitions { result["\(topic.name)-\(p.partitionIndex)"] = (p.committedOffset, p.committedLeaderEpoch, p.metadata) }
            }
        }
        return result
    }

    @Test func commitAndFetchAtSeveralVersions() async throws {
        try await withBroker { f in
            try await f.createTopic("t")
            #expect(errors(try await f.call(commit("g", [("t", 0, 42)], metadata: "m"), version: 2)) == [.noError])
            #expect(errors(try await f.call(commit("g", [("t", 1, 7), ("missing", 0, 1)]), version: 0)) == [.unknownTopicOrPartition, .noError])

            let v1 = try await fetch(f, "g", [("t", [0, 1]), ("u", [3])], version: 1)
            #expect(v1["t-0"]?.offset == 42 && v1["t-0"]?.metadata == "m")
            #expect(v1["t-1"]?.offset == 7)
            #expect(v1["u-3"]?.offset == -1 && v1["u-3"]?.metadata == "")
            let all = try await fetch(f, "g", nil, version: 2)
            #expect(all.keys.sorted() == ["t-0", "t-1"])

            #expect(errors(try await f.call(commit("g", [("t", 0, 50)], metadata: nil, epoch: 3), version: 9)) == [.noError])
            let v5 = try await fetch(f, "g", [("t", [0])], version: 5)
            #expect(v5["t-0"]?.offset == 50 && v5["t-0"]?.epoch == 3 && v5["t-0"]?.metadata == "")
            let v4 = try await fetch(f, "g", [("t", [0])], version: 4)
            #expect(v4["t-0"]?.epoch == -1, "v4 has no leader epoch")
            let v9 = try await fetch(f, "g", nil, version: 9)
            #expect(v9["t-0"]?.offset == 50 && v9["t-1"]?.offset == 7)

            // v8+: several groups at once, one without offsets; requireStable has nothing to wait for.
            let multi = try await f.call(OffsetFetchRequest(groups: [.init(groupId: "g", topics: nil), .init(groupId: "none", topics: [.init(name: "t", partitionIndexes: [0])])],
                                                            requireStable: true), version: 8)
            #expect(multi.groups.map(\.groupId) == ["g", "none"])
            #expect(multi.groups[0].topics.flatMap(\.partitions).map(\.committedOffset) == [50, 7])
            #expect(multi.groups[1].topics.flatMap(\.partitions).map(\.committedOffset) == [-1])
            let noGroup = try await f.call(OffsetFetchRequest(groupId: "", topics: nil), version: 7)
            #expect(KafkaErrorCode(noGroup.errorCode) == .invalidGroupId)
        }
    }

    @Test func commitValidation() async throws {
        try await withBroker { f in
            try await f.createTopic("t")
            let fits = String(repeating: "x", count: 4096)
            #expect(errors(try await f.call(commit("g", [("t", 0, 1)], metadata: fits), version: 8)) == [.noError])
            #expect(errors(try await f.call(commit("g", [("t", 0, 1)], metadata: fits + "x"), version: 8)) == [.offsetMetadataTooLarge])
            #expect(errors(try await f.call(commit("", [("t", 0, 1)]), version: 8)) == [.invalidGroupId])
            #expect(errors(try await f.call(commit("stranger", [("t", 0, 1)], generation: 4, member: "m"), version: 8)) == [.illegalGeneration])

            // A member of a live group commits with its generation.
            let join = JoinGroupRequest(groupId: "live", sessionTimeoutMs: 10_000, memberId: "", protocolType: "consumer",
                                        protocols: [.init(name: "range", metadata: try subscription(["t"]))])
            let joined = try await f.call(join, version: 3)
            let id = joined.memberId
            // Before SyncGroup the group is completing its rebalance.
            #expect(errors(try await f.call(commit("live", [("t", 0, 3)], generation: 1, member: id), version: 7)) == [.rebalanceInProgress])
            _ = try await f.call(SyncGroupRequest(groupId: "live", generationId: 1, memberId: id, assignments: []), version: 3)
            #expect(errors(try await f.call(commit("live", [("t", 0, 3)], generation: 1, member: id), version: 7)) == [.noError])
            #expect(errors(try await f.call(commit("live", [("t", 0, 3)], generation: 2, member: id), version: 7)) == [.illegalGeneration])
            #expect(errors(try await f.call(commit("live", [("t", 0, 3)], generation: 1, member: "other"), version: 7)) == [.unknownMemberId])
            #expect(errors(try await f.call(commit("live", [("t", 0, 3)]), version: 7)) == [.unknownMemberId], "a simple commit to a live group")
        }
    }

    @Test func offsetsSurviveARestart() async throws {
        let first = try await GroupsFixture.make()
        try await first.createTopic("t", partitions: 3)
        #expect(errors(try await first.call(commit("a", [("t", 0, 10), ("t", 2, 12)], metadata: "meta-a", epoch: 2), version: 8)) == [.noError, .noError])
        #expect(errors(try await first.call(commit("b", [("t", 1, 21)]), version: 8)) == [.noError])
        #expect(errors(try await first.call(commit("a", [("t", 0, 11)]), version: 8)) == [.noError])
        #expect(errors(try await first.call(commit("gone", [("t", 0, 99)]), version: 8)) == [.noError])
        #expect(try await first.call(DeleteGroupsRequest(groupsNames: ["gone"]), version: 2).results.map(\.errorCode) == [0])

        let second = try await first.restart()
        let a = try await fetch(second, "a", nil, version: 8)
        #expect(a["t-0"]?.offset == 11 && a["t-0"]?.epoch == -1 && a["t-0"]?.metadata == "")
        #expect(a["t-2"]?.offset == 12 && a["t-2"]?.epoch == 2 && a["t-2"]?.metadata == "meta-a")
        #expect(try await fetch(second, "b", nil, version: 3)["t-1"]?.offset == 21)
        #expect(try await fetch(second, "gone", nil, version: 3).isEmpty, "a tombstone survives too")
        #expect(try await second.call(ListGroupsRequest(), version: 3).groups.map(\.groupId) == ["a", "b"])
        await second.close()
    }

    @Test func recordsHaveKafkasExactLayout() async throws {
        try await withBroker { f in
            try await f.createTopic("t")
            f.clock.advance(5)
            #expect(errors(try await f.call(commit("grp", [("t", 1, 300)], metadata: "md", epoch: 4), version: 8)) == [.noError])
            let partition = await f.broker.offsets.partition(forGroup: "grp")
            #expect(partition == OffsetRecords.partition(forGroup: "grp", partitionCount: 3))
            let log = try #require(await f.broker.logs.log(for: TopicPartition(topic: "__consumer_offsets", partition: partition)))
            let read = try await log.read(from: 0, maxBytes: 1 << 20, limit: .logEndOffset)
            let batches = try RecordBatchReader.readAll(read.records, allowPartialTrailingBatch: false)
            let records = try #require(batches.first).decodeRecords()
            #expect(records.count == 1)

            var key = ByteBuffer()
            key.writeBytes([0, 1, 0, 3] + Array("grp".utf8) + [0, 1] + Array("t".utf8) + [0, 0, 0, 1])
            #expect(records[0].key == key)
            var value = ByteBuffer()
            value.writeKafkaInt16(3)
            value.writeKafkaInt64(300)
            value.writeKafkaInt32(4)
            value.writeBytes([0, 2] + Array("md".utf8))
            value.writeKafkaInt64(1_700_000_000_005)
            #expect(records[0].value == value)

            // OffsetCommit v2–v4 with a retention time: value version 1 with the expire timestamp.
            var retained = commit("grp", [("t", 0, 1)])
            retained.retentionTimeMs = 1000
            #expect(errors(try await f.call(retained, version: 2)) == [.noError])
            #expect(try await f.call(DeleteGroupsRequest(groupsNames: ["grp"]), version: 1).results.map(\.errorCode) == [0])
            let after = try await log.read(from: 1, maxBytes: 1 << 20, limit: .logEndOffset)
            let more = try RecordBatchReader.readAll(after.records, allowPartialTrailingBatch: false).flatMap { try $0.decodeRecords() }
            #expect(more.count == 3)
            var v1 = ByteBuffer()
            v1.writeKafkaInt16(1)
            v1.writeKafkaInt64(1)
            v1.writeBytes([0, 0])
            v1.writeKafkaInt64(1_700_000_000_005)
            v1.writeKafkaInt64(1_700_000_001_005)
            #expect(more[0].value == v1)
            #expect(more[1].value == nil && more[2].value == nil, "DeleteGroups writes tombstones")
            #expect(try Set(more[1...].map { try OffsetRecords.decodeKey(#require($0.key)) }) == [
                .offsetCommit(.init(group: "grp", topic: "t", partition: 0)), .offsetCommit(.init(group: "grp", topic: "t", partition: 1)),
            ])
            #expect(try OffsetRecords.decodeValue(v1) == OffsetRecords.Value(offset: 1, metadata: "", commitTimestamp: 1_700_000_000_005,
                                                                              expireTimestamp: 1_700_000_001_005))
        }
    }

    @Test func javaStringHashCodeAndPartitioning() {
        #expect(OffsetRecords.javaHashCode("") == 0)
        #expect(OffsetRecords.javaHashCode("a") == 97)
        #expect(OffsetRecords.javaHashCode("hello") == 99_162_322)
        #expect(OffsetRecords.javaHashCode("Hello World") == -862_545_276)
        // Outside the BMP: UTF-16 surrogate pairs, as Java hashes them (U+1F600 = D83D DE00).
        #expect(OffsetRecords.javaHashCode("😀") == 0xD83D &* 31 &+ 0xDE00)
        // Java's famous Integer.MIN_VALUE hash: Utils.abs maps it to 0.
        #expect(OffsetRecords.javaHashCode("polygenelubricants") == Int32.min)
        #expect(OffsetRecords.partition(forGroup: "polygenelubricants", partitionCount: 50) == 0)
        #expect(OffsetRecords.partition(forGroup: "Hello World", partitionCount: 50) == 862_545_276 % 50)
        #expect(OffsetRecords.partition(forGroup: "hello", partitionCount: 50) == 22)
    }

    @Test func deleteGroups() async throws {
        try await withBroker { f in
            try await f.createTopic("t")
            let join = JoinGroupRequest(groupId: "live", sessionTimeoutMs: 10_000, memberId: "", protocolType: "consumer",
                                        protocols: [.init(name: "range", metadata: try subscription(["t"]))])
            let id = try await f.call(join, version: 3).memberId
            _ = try await f.call(SyncGroupRequest(groupId: "live", generationId: 1, memberId: id, assignments: []), version: 3)
            _ = try await f.call(commit("live", [("t", 0, 5)], generation: 1, member: id), version: 8)
            _ = try await f.call(commit("solo", [("t", 1, 6)]), version: 8)

            let first = try await f.call(DeleteGroupsRequest(groupsNames: ["live", "solo", "unknown", ""]), version: 2)
            #expect(first.results.map(\.groupId) == ["live", "solo", "unknown", ""])
            #expect(first.results.map { KafkaErrorCode($0.errorCode) } == [.nonEmptyGroup, .noError, .groupIdNotFound, .invalidGroupId])
            #expect(try await fetch(f, "solo", nil, version: 8).isEmpty)
            #expect(try await fetch(f, "live", nil, version: 8)["t-0"]?.offset == 5)

            _ = try await f.call(LeaveGroupRequest(groupId: "live", memberId: id), version: 1)
            #expect(try await f.call(DeleteGroupsRequest(groupsNames: ["live"]), version: 0).results.map(\.errorCode) == [0])
            #expect(try await fetch(f, "live", nil, version: 8).isEmpty)
            #expect(try await f.call(ListGroupsRequest(), version: 0).groups.isEmpty)
            #expect(try await f.call(DeleteGroupsRequest(groupsNames: ["live"]), version: 0).results.map(\.errorCode) == [KafkaErrorCode.groupIdNotFound.rawValue])
        }
    }

    @Test func offsetDelete() async throws {
        try await withBroker { f in
            try await f.createTopic("t")
            try await f.createTopic("u")
            let join = JoinGroupRequest(groupId: "live", sessionTimeoutMs: 10_000, memberId: "", protocolType: "consumer",
                                        protocols: [.init(name: "range", metadata: try subscription(["t"]))])
            let id = try await f.call(join, version: 3).memberId
            _ = try await f.call(SyncGroupRequest(groupId: "live", generationId: 1, memberId: id, assignments: []), version: 3)
            _ = try await f.call(commit("live", [("t", 0, 5), ("u", 0, 6), ("u", 1, 7)], generation: 1, member: id), version: 8)

            let request = OffsetDeleteRequest(groupId: "live", topics: [
                .init(name: "t", partitions: [.init(partitionIndex: 0)]),
                .init(name: "u", partitions: [.init(partitionIndex: 0)]),
                .init(name: "nope", partitions: [.init(partitionIndex: 0)]),
            ])
            let response = try await f.call(request, version: 0)
            #expect(response.errorCode == 0)
            #expect(response.topics.map { $0.partitions.map { KafkaErrorCode($0.errorCode) } } == [[.groupSubscribedToTopic], [.noError], [.unknownTopicOrPartition]])
            #expect(try await fetch(f, "live", nil, version: 8).keys.sorted() == ["t-0", "u-1"])

            _ = try await f.call(LeaveGroupRequest(groupId: "live", memberId: id), version: 0)
            let empty = try await f.call(OffsetDeleteRequest(groupId: "live", topics: [.init(name: "t", partitions: [.init(partitionIndex: 0)])]), version: 0)
            #expect(empty.topics.first?.partitions.map(\.errorCode) == [0])
            #expect(try await fetch(f, "live", nil, version: 8).keys.sorted() == ["u-1"])

            let unknown = try await f.call(OffsetDeleteRequest(groupId: "unknown", topics: []), version: 0)
            #expect(KafkaErrorCode(unknown.errorCode) == .groupIdNotFound)
        }
    }

    @Test func offsetsOfEmptyGroupsExpireWithTombstones() async throws {
        try await withBroker(configure: { $0.offsetsRetentionMs = 60_000 }) { f in
            try await f.createTopic("t")
            _ = try await f.call(commit("solo", [("t", 0, 1)]), version: 8)
            let join = JoinGroupRequest(groupId: "live", sessionTimeoutMs: 10_000, memberId: "", protocolType: "consumer",
                                        protocols: [.init(name: "range", metadata: try subscription(["t"]))])
            let id = try await f.call(join, version: 3).memberId
            _ = try await f.call(SyncGroupRequest(groupId: "live", generationId: 1, memberId: id, assignments: []), version: 3)
            _ = try await f.call(commit("live", [("t", 1, 2)], generation: 1, member: id), version: 8)

            f.clock.advance(59_999)
            await f.broker.expireOffsets()
            #expect(try await fetch(f, "solo", nil, version: 8).count == 1)
            f.clock.advance(1)
            // Keep the live member's session alive, then expire.
            _ = try await f.call(HeartbeatRequest(groupId: "live", generationId: 1, memberId: id), version: 3)
            await f.broker.expireOffsets()
            #expect(try await fetch(f, "solo", nil, version: 8).isEmpty)
            #expect(try await fetch(f, "live", nil, version: 8).count == 1, "a group with members keeps its offsets")
            #expect(try await f.call(ListGroupsRequest(), version: 0).groups.map(\.groupId) == ["live"])

            // Once empty, retention counts from the last time the group had members.
            _ = try await f.call(LeaveGroupRequest(groupId: "live", memberId: id), version: 0)
            f.clock.advance(59_000)
            await f.broker.expireOffsets()
            #expect(try await fetch(f, "live", nil, version: 8).count == 1)
            f.clock.advance(1_000)
            await f.broker.expireOffsets()
            #expect(try await fetch(f, "live", nil, version: 8).isEmpty)
            #expect(try await f.call(ListGroupsRequest(), version: 0).groups.isEmpty, "an empty group without offsets is forgotten")

            let restarted = try await f.restart()
            #expect(try await fetch(restarted, "solo", nil, version: 8).isEmpty, "expiry wrote tombstones")
            #expect(try await fetch(restarted, "live", nil, version: 8).isEmpty)
            await restarted.close()
        }
    }
}

@Suite struct OffsetTopicDeletionTests {
    @Test func deletingATopicDeletesItsCommittedOffsets() async throws {
        try await withBroker { f in
            try await f.createTopic("t")
            try await f.createTopic("u")
            let request = OffsetCommitRequest(groupId: "g", generationIdOrMemberEpoch: -1, memberId: "", topics: [
                .init(name: "t", partitions: [.init(partitionIndex: 0, committedOffset: 1)]),
                .init(name: "u", partitions: [.init(partitionIndex: 1, committedOffset: 2)]),
            ])
            #expect(try await f.call(request, version: 8).topics.flatMap(\.partitions).map(\.errorCode) == [0, 0])
            try await f.broker.deleteTopic(name: "t")
            let left = await f.broker.offsets.committed(groupID: "g")
            #expect(left.keys.map(\.description) == ["u-1"])
            let restarted = try await f.restart()
            #expect(await restarted.broker.offsets.committed(groupID: "g").keys.map(\.description) == ["u-1"])
            await restarted.close()
        }
    }
}
