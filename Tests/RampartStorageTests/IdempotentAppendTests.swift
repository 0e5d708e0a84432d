import KafkaProtocol
import NIOCore
import Testing
@testable import RampartStorage

@Suite struct IdempotentAppendTests {
    func batch(producer: Int64, epoch: Int16 = 0, sequence: Int32, count: Int) -> ByteBuffer {
        let records = (0..<count).map { i in
            Record(offsetDelta: Int32(i), key: nil, value: ByteBuffer(string: "p\(producer)-s\(Int(sequence) + i)"))
        }
        let batch = try! RecordBatch(records: records, baseTimestamp: 1_700_000_000_000, producerId: producer,
                                     producerEpoch: epoch, baseSequence: sequence)
        var out = ByteBuffer()
        batch.write(to: &out)
        return out
    }

    @Test func aRetriedBatchIsAcknowledgedWithItsOriginalOffsetsAndNotAppended() async throws {
        let manager = try await makeManager(fs: FaultInjectingFileSystem())
        let log = try await manager.createLog(tp0)
        let first = try await log.append(batch(producer: 1, sequence: 0, count: 3), durability: .flushed)
        _ = try await log.append(batch(producer: 2, sequence: 0, count: 2), durability: .flushed)
        let retry = try await log.append(batch(producer: 1, sequence: 0, count: 3), durability: .flushed)
        #expect(retry.isDuplicate)
        #expect(retry.baseOffset == first.baseOffset && retry.lastOffset == first.lastOffset)
        #expect(await log.logEndOffset == 5)

        let next = try await log.append(batch(producer: 1, sequence: 3, count: 1), durability: .written)
        #expect(!next.isDuplicate && next.baseOffset == 5)

        await #expect(throws: StorageError.self) {
            _ = try await log.append(batch(producer: 1, sequence: 9, count: 1), durability: .written)
        }
        do {
            _ = try await log.append(batch(producer: 1, sequence: 9, count: 1), durability: .written)
        } catch let error as StorageError {
            #expect(error.kafkaError == .outOfOrderSequenceNumber)
        }
        do {
            _ = try await log.append(batch(producer: 2, sequence: 2, count: 1), durability: .written)
        } catch {
            Issue.record("in-order batch refused: \(error)")
        }
        #expect(await log.logEndOffset == 7)
    }

    @Test func aFencedEpochIsRefused() async throws {
        let manager = try await makeManager(fs: FaultInjectingFileSystem())
        let log = try await manager.createLog(tp0)
        _ = try await log.append(batch(producer: 1, epoch: 5, sequence: 0, count: 1), durability: .written)
        do {
            _ = try await log.append(batch(producer: 1, epoch: 4, sequence: 1, count: 1), durability: .written)
            Issue.record("expected a refusal")
        } catch let error as StorageError {
            #expect(error.kafkaError == .invalidProducerEpoch)
        }
    }

    @Test func producerStateSurvivesARestart() async throws {
        let fs = FaultInjectingFileSystem()
        let manager = try await makeManager(fs: fs)
        let log = try await manager.createLog(tp0)
        let original = try await log.append(batch(producer: 7, sequence: 0, count: 4), durability: .flushed)
        try await manager.shutdown()

        let reopened = try await makeManager(fs: fs)
        let log2 = try #require(await reopened.log(for: tp0))
        let retry = try await log2.append(batch(producer: 7, sequence: 0, count: 4), durability: .flushed)
        #expect(retry.isDuplicate)
        #expect(retry.baseOffset == original.baseOffset)
        #expect(await log2.logEndOffset == 4)
        #expect(await log2.producerEpoch(of: 7) == 0)
    }
}
