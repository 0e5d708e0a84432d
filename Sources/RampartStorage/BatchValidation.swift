import KafkaProtocol
import NIOCore

/// What the log needs to know about one stored batch, taken from its header.
struct BatchSummary: Equatable {
    /// Position of the batch in its buffer or segment file.
    var position: Int64
    var baseOffset: Int64
    var lastOffset: Int64
    var maxTimestamp: Int64
    var size: Int
    var recordsCount: Int32
    /// Idempotent-producer fields (-1 when the batch has no producer).
    var producerId: Int64 = -1
    var producerEpoch: Int16 = -1
    var baseSequence: Int32 = -1
    var lastSequence: Int32 = -1
}

/// Why a batch failed validation.
enum BatchProblem: Error, Equatable {
    /// Fewer bytes than the header or the declared length.
    case truncated
    /// Magic byte, length field, record count or offset delta impossible.
    case malformed(String)
    /// Stored CRC differs from the computed one.
    case crcMismatch(stored: UInt32, computed: UInt32)
}

/// Checks the batch at `index` of `buffer` (a v2 header, a length that fits, a matching CRC-32C)
/// without decompressing it, and returns its header.
func validateBatch(_ buffer: ByteBuffer, at index: Int) -> Result<RecordBatchHeader, BatchProblem> {
    let header: RecordBatchHeader
    do {
        guard let h = try RecordBatchHeader.peek(buffer, at: index) else { return .failure(.truncated) }
        header = h
    } catch {
        return .failure(.malformed("\(error)"))
    }
    guard header.totalSize <= buffer.writerIndex - index else { return .failure(.truncated) }
    guard header.recordsCount >= 0, header.lastOffsetDelta >= 0 else {
        return .failure(.malformed("negative record count or offset delta"))
    }
    let computed = RecordBatchHeader.computeCRC(buffer, batchAt: index, totalSize: header.totalSize)
    guard computed == header.crc else { return .failure(.crcMismatch(stored: header.crc, computed: computed)) }
    return .success(header)
}

extension ByteBuffer {
    /// Sets a big-endian integer at an absolute index.
    mutating func setBig<T: FixedWidthInteger>(_ value: T, at index: Int) {
        setInteger(value, at: index, endianness: .big)
    }
}
