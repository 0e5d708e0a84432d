import KafkaProtocol
import RampartStorage
import Testing

@Suite struct ProducerStateTests {
    func batch(_ first: Int32, _ last: Int32, offset: Int64) -> PartitionProducerState.BatchMetadata {
        .init(firstSequence: first, lastSequence: last, firstOffset: offset, lastOffset: offset + Int64(last - first), timestamp: 0)
    }

    @Test func inOrderBatchesAppendAndRetriesAreDuplicates() {
        var state = PartitionProducerState()
        #expect(state.check(producerID: 7, epoch: 0, firstSequence: 0, lastSequence: 4) == .append)
        state.record(producerID: 7, epoch: 0, batch: batch(0, 4, offset: 100))
        #expect(state.check(producerID: 7, epoch: 0, firstSequence: 5, lastSequence: 9) == .append)
        state.record(producerID: 7, epoch: 0, batch: batch(5, 9, offset: 105))
        #expect(state.check(producerID: 7, epoch: 0, firstSequence: 0, lastSequence: 4) == .duplicate(batch(0, 4, offset: 100)))
        #expect(state.check(producerID: 7, epoch: 0, firstSequence: 5, lastSequence: 9) == .duplicate(batch(5, 9, offset: 105)))
        #expect(state.check(producerID: 7, epoch: 0, firstSequence: 11, lastSequence: 12) == .reject(.outOfOrderSequenceNumber))
        #expect(state.check(producerID: 7, epoch: 0, firstSequence: 3, lastSequence: 6) == .reject(.outOfOrderSequenceNumber))
    }

    @Test func onlyTheLastFiveBatchesAreRemembered() {
        var state = PartitionProducerState()
        for i in 0..<7 {
            state.record(producerID: 1, epoch: 0, batch: batch(Int32(i), Int32(i), offset: Int64(i)))
        }
        #expect(state.check(producerID: 1, epoch: 0, firstSequence: 2, lastSequence: 2) == .duplicate(batch(2, 2, offset: 2)))
        #expect(state.check(producerID: 1, epoch: 0, firstSequence: 1, lastSequence: 1) == .reject(.outOfOrderSequenceNumber))
    }

    @Test func epochs() {
        var state = PartitionProducerState()
        state.record(producerID: 1, epoch: 3, batch: batch(0, 0, offset: 0))
        #expect(state.check(producerID: 1, epoch: 2, firstSequence: 1, lastSequence: 1) == .reject(.invalidProducerEpoch))
        #expect(state.check(producerID: 1, epoch: 4, firstSequence: 5, lastSequence: 5) == .reject(.outOfOrderSequenceNumber))
        #expect(state.check(producerID: 1, epoch: 4, firstSequence: 0, lastSequence: 0) == .append)
        state.record(producerID: 1, epoch: 4, batch: batch(0, 0, offset: 1))
        #expect(state.epoch(of: 1) == 4)
        #expect(state.check(producerID: 1, epoch: 4, firstSequence: 1, lastSequence: 1) == .append)
    }

    @Test func sequenceWrapsAtInt32Max() {
        var state = PartitionProducerState()
        state.record(producerID: 1, epoch: 0, batch: batch(Int32.max - 1, Int32.max, offset: 0))
        #expect(state.check(producerID: 1, epoch: 0, firstSequence: 0, lastSequence: 3) == .append)
    }

    @Test func unknownProducerIsAccepted() {
        let state = PartitionProducerState()
        #expect(state.check(producerID: 9, epoch: 0, firstSequence: 42, lastSequence: 42) == .append)
    }

    @Test func recordFromHeaderAndExpiry() {
        var state = PartitionProducerState()
        let header = RecordBatchHeader(baseOffset: 10, lastOffsetDelta: 2, producerId: 5, producerEpoch: 1, baseSequence: 3)
        state.record(header, timestamp: 1000)
        #expect(state.check(producerID: 5, epoch: 1, firstSequence: 3, lastSequence: 5)
                == .duplicate(.init(firstSequence: 3, lastSequence: 5, firstOffset: 10, lastOffset: 12, timestamp: 1000)))
        state.record(RecordBatchHeader(producerId: -1), timestamp: 0)
        #expect(state.producerCount == 1)
        state.expire(olderThan: 2000)
        #expect(state.producerCount == 0)
    }
}
