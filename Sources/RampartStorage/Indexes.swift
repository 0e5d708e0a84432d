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
/// holds exactly its entries, and the entries also live in memory. The file is open only while it is
/// read or written (`IndexFile`), so an index costs no file descriptor between writes.
struct OffsetIndex {
    static let entrySize = 8

    struct Entry: Equatable {
        var relativeOffset: Int32
        var position: Int32
    }

    let baseOffset: Int64
    private(set) var file: IndexFile
    private(set) var entries: [Entry] = []
    var path: String { file.path }

    /// An index over `path`; nothing is opened until it is loaded or written.
    init(path: String, baseOffset: Int64) {
        self.file = IndexFile(path: path)
        self.baseOffset = baseOffset
    }

    /// Reads the file; false if it is not a whole number of strictly increasing entries.
    mutating func load(fs: any StorageFileSystem) throws -> Bool {
        var buffer = try file.readAll(fs: fs)
        guard buffer.readableBytes % Self.entrySize == 0 else { return false }
        var loaded: [Entry] = []
        loaded.reserveCapacity(buffer.readableBytes / Self.entrySize)
        while let rel = buffer.readInteger(endianness: .big, as: Int32.self),
              let pos = buffer.readInteger(endianness: .big, as: Int32.self) {
            if rel < 0 || pos < 0 { return false }
            if let last = loaded.last, rel <= last.relativeOffset || pos <= last.position { return false }
            loaded.append(Entry(relativeOffset: rel, position: pos))
        }
        entries = loaded
        file.loaded(count: loaded.count)
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
    mutating func append(offset: Int64, position: Int64) {
        let rel = Int32(offset - baseOffset)
        let pos = Int32(position)
        if let last = entries.last, rel <= last.relativeOffset || pos <= last.position { return }
        entries.append(Entry(relativeOffset: rel, position: pos))
    }

    /// Drops entries at or beyond `position` (after truncating the log there).
    mutating func truncate(toPosition position: Int64) {
        let keep = entries.prefix { Int64($0.position) < position }.count
        entries.removeSubrange(keep...)
        file.dropped(keeping: keep)
    }

    /// Empties the index.
    mutating func reset() {
        entries.removeAll()
        file.dropped(keeping: 0)
    }

    /// Entries not yet in the file (or a cut the file has not seen).
    var hasUnwrittenChanges: Bool { file.hasUnwrittenChanges(count: entries.count) }
    var unwrittenEntries: Int { entries.count - file.written }

    /// Brings the file up to date with the entries; returns it open when `keepOpen` (the caller closes it).
    mutating func writeOut(fs: any StorageFileSystem, keepOpen: Bool) throws -> (any StorageFile)? {
        let entries = self.entries
        return try file.write(count: entries.count, entrySize: Self.entrySize, fs: fs, keepOpen: keepOpen) { i, buffer in
            buffer.writeInteger(entries[i].relativeOffset, endianness: .big)
            buffer.writeInteger(entries[i].position, endianness: .big)
        }
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

    let baseOffset: Int64
    private(set) var file: IndexFile
    private(set) var entries: [Entry] = []
    var path: String { file.path }

    /// An index over `path`; nothing is opened until it is loaded or written.
    init(path: String, baseOffset: Int64) {
        self.file = IndexFile(path: path)
        self.baseOffset = baseOffset
    }

    mutating func load(fs: any StorageFileSystem) throws -> Bool {
        var buffer = try file.readAll(fs: fs)
        guard buffer.readableBytes % Self.entrySize == 0 else { return false }
        var loaded: [Entry] = []
        while let ts = buffer.readInteger(endianness: .big, as: Int64.self),
              let rel = buffer.readInteger(endianness: .big, as: Int32.self) {
            if rel < 0 { return false }
            if let last = loaded.last, ts <= last.timestamp || rel < last.relativeOffset { return false }
            loaded.append(Entry(timestamp: ts, relativeOffset: rel))
        }
        entries = loaded
        file.loaded(count: loaded.count)
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
    mutating func maybeAppend(timestamp: Int64, offset: Int64) {
        let rel = Int32(offset - baseOffset)
        if let last = entries.last, timestamp <= last.timestamp || rel < last.relativeOffset { return }
        entries.append(Entry(timestamp: timestamp, relativeOffset: rel))
    }

    /// Drops entries whose offset is at or beyond `offset`.
    mutating func truncate(toOffset offset: Int64) {
        let keep = entries.prefix { baseOffset + Int64($0.relativeOffset) < offset }.count
        entries.removeSubrange(keep...)
        file.dropped(keeping: keep)
    }

    mutating func reset() {
        entries.removeAll()
        file.dropped(keeping: 0)
    }

    var hasUnwrittenChanges: Bool { file.hasUnwrittenChanges(count: entries.count) }

    /// Brings the file up to date with the entries; returns it open when `keepOpen` (the caller closes it).
    mutating func writeOut(fs: any StorageFileSystem, keepOpen: Bool) throws -> (any StorageFile)? {
        let entries = self.entries
        return try file.write(count: entries.count, entrySize: Self.entrySize, fs: fs, keepOpen: keepOpen) { i, buffer in
            buffer.writeInteger(entries[i].timestamp, endianness: .big)
            buffer.writeInteger(entries[i].relativeOffset, endianness: .big)
        }
    }
}

/// The file behind an index. The entries live in memory; the file holds a prefix of them (`written`)
/// and is brought up to date by `write` — every `LogSegment.indexWriteBatch` new entries, when the
/// segment rolls, at a full flush and at close — opening it only for that. A partition therefore keeps one descriptor per
/// segment (its `.log`), not three: 8,000 partitions fit in a 20,000-descriptor limit.
///
/// A crash loses at most the entries not yet written; the file then holds a valid prefix, and loading
/// scans the log past its last entry (`LogSegment.loadTail`), so nothing is lost but lookup speed in
/// that tail until the segment is rebuilt or rolled.
struct IndexFile {
    let path: String
    /// How many of the in-memory entries the file holds.
    private(set) var written = 0
    /// The file may hold more than `written` entries (after a truncation or reset) and must be cut first.
    private(set) var mustCut = false

    init(path: String) { self.path = path }

    func hasUnwrittenChanges(count: Int) -> Bool { mustCut || written != count }

    /// The entries were read from the file.
    mutating func loaded(count: Int) {
        written = count
        mustCut = false
    }

    /// Entries from `count` on were dropped in memory.
    mutating func dropped(keeping count: Int) {
        if count < written || count == 0 {
            written = min(written, count)
            mustCut = true
        }
    }

    /// The whole file (empty when it does not exist), read through a descriptor closed before returning.
    func readAll(fs: any StorageFileSystem) throws -> ByteBuffer {
        guard fs.exists(path) else { return ByteBuffer() }
        return try fs.readWholeFile(path)
    }

    /// Cuts the file if needed and writes entries `written..<count` (encoded by `encode`). Returns the open
    /// file when `keepOpen` (for an fsync; the caller closes it), else closes it. On an error nothing
    /// changes here, so the next call writes the same entries again.
    mutating func write(
        count: Int, entrySize: Int, fs: any StorageFileSystem, keepOpen: Bool, encode: (Int, inout ByteBuffer) -> Void
    ) throws -> (any StorageFile)? {
        let file = try fs.openFile(path, create: true)
        do {
            if mustCut { try file.truncate(to: Int64(written * entrySize)) }
            if written < count {
                var buffer = ByteBufferAllocator().buffer(capacity: (count - written) * entrySize)
                for i in written..<count { encode(i, &buffer) }
                try file.writeAll(buffer, at: Int64(written * entrySize))
            }
        } catch {
            try? file.close()
            throw error
        }
        written = count
        mustCut = false
        if keepOpen { return file }
        try? file.close()
        return nil
    }
}
