/// Follows the record boundaries of the ciphertext a peer sends (a 5-byte header whose last two bytes
/// give the length of the body that follows), without decrypting anything. It tells how much of the
/// record being received has arrived, which bounds how many more bytes a reader must wait for.
struct TLSRecordFraming {
    private static let headerLength = 5

    /// Bytes of the record being received (header included); 0 between records.
    private(set) var receivedOfRecord = 0
    /// The length of the record being received, header included; 0 until its header is complete.
    private var recordLength = 0
    private var lengthHigh: UInt8 = 0

    /// Bytes still needed to complete the record being received (at least the rest of its header);
    /// 0 between records.
    var remainingOfRecord: Int {
        guard receivedOfRecord > 0 else { return 0 }
        return recordLength > 0 ? recordLength - receivedOfRecord : Self.headerLength - receivedOfRecord
    }

    /// Advances over `bytes`, the next ciphertext received in order.
    mutating func advance(over bytes: UnsafeRawBufferPointer) {
        var index = 0
        while index < bytes.count {
            if receivedOfRecord < Self.headerLength {
                let byte = bytes[index]
                index += 1
                receivedOfRecord += 1
                if receivedOfRecord == Self.headerLength - 1 {
                    lengthHigh = byte
                } else if receivedOfRecord == Self.headerLength {
                    recordLength = Self.headerLength + Int(lengthHigh) << 8 + Int(byte)
                }
            } else {
                let taken = min(recordLength - receivedOfRecord, bytes.count - index)
                index += taken
                receivedOfRecord += taken
            }
            if recordLength > 0, receivedOfRecord == recordLength {
                receivedOfRecord = 0
                recordLength = 0
            }
        }
    }

    /// A lower bound on the ciphertext still to arrive before `plaintext` more bytes can be decrypted,
    /// given that every complete record received has been decrypted already. The plaintext must come
    /// from the record being received or later ones: the rest of that record is needed, and the
    /// ciphertext carrying `plaintext` bytes is longer than they are, of which only the part of the
    /// current record has arrived. 0 when no plaintext is awaited.
    func ciphertextAwaited(forPlaintext plaintext: Int) -> Int {
        guard plaintext > 0 else { return 0 }
        return max(plaintext - receivedOfRecord, remainingOfRecord, 1)
    }
}
