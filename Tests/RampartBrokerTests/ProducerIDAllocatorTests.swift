import RampartBroker
import Synchronization
import Testing

@Suite struct ProducerIDAllocatorTests {
    @Test func allocatorPersistsBlocksBeforeHandingOutIds() async throws {
        let persisted = Mutex<[Int64]>([])
        let allocator = ProducerIDAllocator(reservedUpTo: 5000) { end in persisted.withLock { $0.append(end) } }
        var ids: [Int64] = []
        for _ in 0..<1001 { ids.append(try await allocator.allocate()) }
        #expect(ids.first == 5000)
        #expect(ids.last == 6000)
        #expect(Set(ids).count == 1001)
        #expect(persisted.withLock { $0 } == [6000, 7000])
    }
}
