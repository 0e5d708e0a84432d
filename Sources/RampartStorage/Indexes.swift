import NIOCore

/// `<baseOffset>.index`: the sparse offset index of one segment.
///
/// A sequence of 8-byte entries, big-endian, no header:
///
/// ```
/// offset size field
///  0     4    relativeOffset   int32, offset - segment base offset
///  4     4    position         int32, byte position of a batch in the .log file
/// ```
///
/// An entry (o, p) says: the batch starting at position p ends at offset o (Kafka indexes each
/// batch by its last offset). Entries are strictly increasing in both fields, one at most every
/// `index.interval.bytes` of log. A lookup for offset t takes the last entry with offset ≤ t and
/// scans forward from its position. Unlike Kafka the file is not preallocated or memory-mapped: it
/// holds exactly its entries, and the entries also live in memory.
struct OffsetIndex {
    static let entrySize = 8

    struct Entry: Equatable {
        var relativeOffset: Int32
        var position: Int32
    }

    let path: String
    let baseOffset: Int64
    private(set) var file: any StorageFile
    private(set) var entries: [Entry] = []

    /// Opens (creating) the index file and loads its entries; `nil` entries means the file failed
    /// its sanity check and must be rebuilt.
    init(path: String, baseOffset: Int64, fs: any StorageFileSystem) throws {
        self.path = path
        self.baseOffset = baseOffset
        self.file = try fs.openFile(path, create: true)
    }

    /// Reads the file; false if it is not a whole number of strictly increasing entries.
    mutating func load() throws -> Bool {
        let size = try file.size()
        guard size % Int64(Self.entrySize) == 0 else { return false }
        var buffer = try file.read(at: 0, count: Int(size))
        var loaded: [Entry] = []
        loaded.reserveCapacity(Int(size) / Self.entrySize)
        while let rel = buffer.readInteger(endianness: .big, as: Int32.self),
              let pos = buffer.readInteger(endianness: .big, as: Int32.self) {
            if rel < 0 || pos < 0 { return false }
            if let last = loaded.last, rel <= last.relativeOffset || pos <= last.position { return false }
            loaded.append(Entry(relativeOffset: rel, position: pos))
        }
        entries = loaded
        return true
    }

    var lastOffset: Int64? { entries.last.map { baseOffset + Int64($0.relativeOffset) } }
    var lastPosition: Int64? { entries.last.map { Int64($0.position) } }

    /// The position to start scanning from for `offset`: the last entry with offset ≤ `offset`, else 0.
    func lookup(_ offset: Int64) -> Int64 {
        let rel = offset - baseOffset
        var lo = 0
        var hi = entries.count - 1
        var found = -1
        while lo <= hi {
            let mid = (lo + hi) / 2
            if Int64(entries[mid].relativeOffset) <= rel { found = mid; lo = mid + 1 } else { hi = mid - 1 }
        }
        return found < 0 ? 0 : Int64(entries[found].position)
    }

    /// Appends an entry if it keeps the index strictly increasing.
    mutating func append(offset: Int64, position: Int64) throws {
        let rel = Int32(offset - baseOffset)
        let pos = Int32(position)
        if let last = entries.last, rel <= last.relativeOffset || pos <= last.position { return }
        var buffer = ByteBufferAllocator().buffer(capacity: Self.entrySize)
        buffer.writeInteger(rel, endianness: .big)
        buffer.writeInteger(pos, endianness: .big)
        try file.writeAll(buffer, at: Int64(entries.count * Self.entrySize))
        entries.append(Entry(relativeOffset: rel, position: pos))
    }

    /// Drops entries at or beyond `position` (after truncating the log there).
    mutating func truncate(toPosition position: Int64) throws {
        let keep = entries.prefix { Int64($0.position) < position }.count
        entries.removeSubrange(keep...)
        try file.truncate(to: Int64(keep * Self.entrySize))
    }

    /// Empties the index.
    mutating func reset() throws {
        entries.removeAll()
        try file.truncate(to: 0)
    }

    mutating func reopen(fs: any StorageFileSystem) throws {
        try? file.close()
        file = try fs.openFile(path, create: true)
    }
}

/// `<baseOffset>.timeindex`: the sparse time index of one segment.
///
/// A sequence of 12-byte entries, big-endian, no header:
///
/// ```
/// offset size field
///  0     8    timestamp        int64, the largest timestamp seen so far in the segment
///  8     4    relativeOffset   int32, offset - base offset of the batch that holds that timestamp
/// ```
///
/// Entries are strictly increasing in timestamp and non-decreasing in offset. A lookup for time t
/// takes the last entry with timestamp ≤ t, goes through the offset index and scans batches forward
/// for the first whose max timestamp is ≥ t.
struct TimeIndex {
    static let entrySize = 12

    struct Entry: Equatable {
        var timestamp: Int64
        var relativeOffset: Int32
    }

    let path: String
    let baseOffset: Int64
    private(set) var file: any StorageFile
    private(set) var entries: [Entry] = []

    init(path: String, baseOffset: Int64, fs: any StorageFileSystem) throws {
        self.path = path
        self.baseOffset = baseOffset
        self.file = try fs.openFile(path, create: true)
    }

    mutating func load() throws -> Bool {
        let size = try file.size()
        guard size % Int64(Self.entrySize) == 0 else { return false }
        var buffer = try file.read(at: 0, count: Int(size))
        var loaded: [Entry] = []
        while let ts = buffer.readInteger(endianness: .big, as: Int64.self),
              let rel = buffer.readInteger(endianness: .big, as: Int32.self) {
            if rel < 0 { return false }
            if let last = loaded.last, ts <= last.timestamp || rel < last.relativeOffset { return false }
            loaded.append(Entry(timestamp: ts, relativeOffset: rel))
        }
        entries = loaded
        return true
    }

    var lastEntry: Entry? { entries.last }

    /// The offset to start scanning from for `timestamp`: that of the last entry with timestamp ≤ it,
    /// else the segment's base offset.
    func lookup(_ timestamp: Int64) -> Int64 {
        var lo = 0
        var hi = entries.count - 1
        var found = -1
        while lo <= hi {
            let mid = (lo + hi) / 2
            if entries[mid].timestamp <= timestamp { found = mid; lo = mid + 1 } else { hi = mid - 1 }
        }
        return found < 0 ? baseOffset : baseOffset + Int64(entries[found].relativeOffset)
    }

    /// Appends an entry if its timestamp is larger than the last one's.
    mutating func maybeAppend(timestamp: Int64, offset: Int64) throws {
        let rel = Int32(offset - baseOffset)
        if let last = entries.last, timestamp <= last.timestamp || rel < last.relativeOffset { return }
        var buffer = ByteBufferAllocator().buffer(capacity: Self.entrySize)
        buffer.writeInteger(timestamp, endianness: .big)
        buffer.writeInteger(rel, endianness: .big)
        try file.writeAll(buffer, at: Int64(entries.count * Self.entrySize))
        entries.append(Entry(timestamp: timestamp, relativeOffset: rel))
    }

    /// Drops entries whose offset is at or beyond `offset`.
    mutating func truncate(toOffset offset: Int64) throws {
        let keep = entries.prefix { baseOffset + Int64($0.relativeOffset) < offset }.count
        entries.removeSubrange(keep...)
        try file.truncate(to: Int64(keep * Self.entrySize))
    }

    mutating func reset() throws {
        entries.removeAll()
        try file.truncate(to: 0)
    }

    mutating func reopen(fs: any StorageFileSystem) throws {
        try? file.close()
        file = try fs.openFile(path, create: true)
    }
}
