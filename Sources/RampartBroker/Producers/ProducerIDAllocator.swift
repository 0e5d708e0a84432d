/// Hands out producer ids for InitProducerId. Ids must never repeat, also across restarts, so they are
/// reserved in blocks whose end is persisted (through `persistBlockEnd`) before any id of the block is
/// given out.
public actor ProducerIDAllocator {
    public static let blockSize: Int64 = 1000

    private var next: Int64
    private var blockEnd: Int64
    private let persistBlockEnd: @Sendable (Int64) async throws -> Void

    /// `reservedUpTo` is the persisted end of the last block (exclusive): ids start there.
    public init(reservedUpTo: Int64, persistBlockEnd: @escaping @Sendable (Int64) async throws -> Void) {
        self.next = reservedUpTo
        self.blockEnd = reservedUpTo
        self.persistBlockEnd = persistBlockEnd
    }

    /// A new, never used producer id.
    public func allocate() async throws -> Int64 {
        if next >= blockEnd {
            let end = next + Self.blockSize
            try await persistBlockEnd(end)
            blockEnd = end
        }
        defer { next += 1 }
        return next
    }
}
