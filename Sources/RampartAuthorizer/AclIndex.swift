/// A half-open range of compiled entries, `start..<end`.
struct EntryRange: Sendable, Hashable {
    var start: Int32
    var end: Int32

    static let empty = EntryRange(start: 0, end: 0)
    var isEmpty: Bool { start >= end }
}

/// The ACL entries of one snapshot, struct-of-arrays so the hot loop touches the operation bits and
/// flags first and compares strings only for entries that cover the operation.
struct CompiledEntries: Sendable {
    /// Per entry: bit `1 << code` for every operation it matches (implied ones included for ALLOW).
    var operationBits = ContiguousArray<UInt32>()
    /// Per entry: `denyFlag`, `anyPrincipalFlag`, `anyHostFlag`.
    var flags = ContiguousArray<UInt8>()
    var principals = ContiguousArray<KafkaPrincipal>()
    var hosts = ContiguousArray<String>()
    /// The operation as written (authorizeByResourceType matches it without implications).
    var operations = ContiguousArray<AclOperation>()
    /// Index into the snapshot's bindings.
    var rules = ContiguousArray<Int32>()
    /// Principal → entries of one pattern, for patterns with many entries (`PatternEntries.byPrincipal`).
    var principalIndexes = ContiguousArray<[KafkaPrincipal: EntryRange]>()

    /// Patterns with more entries than this (besides `User:*` ones) get a principal index.
    static let principalIndexThreshold = 8

    static let denyFlag: UInt8 = 1
    static let anyPrincipalFlag: UInt8 = 2
    static let anyHostFlag: UInt8 = 4

    var count: Int { flags.count }

    /// Appends the entries of one pattern (`rules` index `bindings`): `User:*` first, then grouped by
    /// principal, with a principal index when there are many.
    mutating func appendPattern(_ rules: [Int32], of bindings: [AclBinding]) -> PatternEntries {
        let start = Int32(count)
        var byPrincipal: [KafkaPrincipal: [Int32]] = [:]
        var principalOrder: [KafkaPrincipal] = []
        for rule in rules {
            let binding = bindings[Int(rule)]
            if binding.entry.principal.isWildcard {
                append(binding, rule: rule)
            } else {
                if byPrincipal[binding.entry.principal] == nil { principalOrder.append(binding.entry.principal) }
                byPrincipal[binding.entry.principal, default: []].append(rule)
            }
        }
        let anyPrincipal = EntryRange(start: start, end: Int32(count))
        var index: [KafkaPrincipal: EntryRange] = [:]
        for principal in principalOrder {
            let first = Int32(count)
            for rule in byPrincipal[principal]! { append(bindings[Int(rule)], rule: rule) }
            index[principal] = EntryRange(start: first, end: Int32(count))
        }
        var slot: Int32 = -1
        if Int(Int32(count) - anyPrincipal.end) > Self.principalIndexThreshold {
            slot = Int32(principalIndexes.count)
            principalIndexes.append(index)
        }
        return PatternEntries(all: EntryRange(start: start, end: Int32(count)), anyPrincipal: anyPrincipal, byPrincipal: slot)
    }

    mutating func append(_ binding: AclBinding, rule: Int32) {
        let entry = binding.entry
        let covered = entry.permission == .allow ? entry.operation.allowedOperations : (entry.operation == .all ? AclOperation.allCases : [entry.operation])
        operationBits.append(covered.reduce(UInt32(0)) { $0 | (UInt32(1) << UInt32($1.rawValue)) })
        var flag: UInt8 = entry.permission == .deny ? Self.denyFlag : 0
        if entry.principal.isWildcard { flag |= Self.anyPrincipalFlag }
        if entry.host == AccessControlEntry.anyHost { flag |= Self.anyHostFlag }
        flags.append(flag)
        principals.append(entry.principal)
        hosts.append(entry.host)
        operations.append(entry.operation)
        rules.append(rule)
    }

    /// Whether entry `i` applies to this principal and host (the operation is checked separately).
    @inline(__always)
    func applies(_ i: Int, principal: KafkaPrincipal, host: String) -> Bool {
        let flag = flags[i]
        if flag & Self.anyPrincipalFlag == 0 {
            guard principals[i].name == principal.name, principals[i].type == principal.type else { return false }
        }
        return flag & Self.anyHostFlag != 0 || hosts[i] == host
    }
}

/// The entries of one resource pattern. Wildcard-principal (`User:*`) entries come first, the rest
/// grouped by principal; a pattern with many entries also has a principal → entries dictionary, so
/// a resource named by thousands of ACLs costs one lookup instead of a scan.
struct PatternEntries: Sendable {
    /// Every entry of the pattern (never empty).
    var all: EntryRange
    /// The `User:*` entries (the start of `all`).
    var anyPrincipal: EntryRange
    /// Index into `CompiledEntries.principalIndexes`, or -1: scan `all`.
    var byPrincipal: Int32
}

/// Resource names → pattern entries in an open-addressing table keyed by a seeded FNV-1a hash of the
/// name's UTF-8 bytes. The hash is computed incrementally while walking a name, so one pass finds
/// every PREFIXED pattern the name starts with (probing only at the prefix lengths that exist), and
/// the same hash finds a LITERAL name — no Swift `Hasher`, no allocation. Names are compared byte for
/// byte, as Kafka compares them.
final class NameTable: Sendable {
    private let slots: ContiguousArray<Int32>
    private let slotHashes: ContiguousArray<UInt64>
    private let mask: Int
    private let nameStart: ContiguousArray<Int32>
    private let nameLength: ContiguousArray<Int32>
    private let bytes: ContiguousArray<UInt8>
    let patterns: ContiguousArray<PatternEntries>
    /// `hasLength[n]`: some name in the table is `n` bytes long.
    let hasLength: ContiguousArray<Bool>
    let seed: UInt64

    var isEmpty: Bool { patterns.isEmpty }

    init(_ names: [(String, PatternEntries)], seed: UInt64) {
        self.seed = seed
        var capacity = 8
        while capacity < names.count * 2 { capacity <<= 1 }
        var slots = ContiguousArray<Int32>(repeating: -1, count: capacity)
        var slotHashes = ContiguousArray<UInt64>(repeating: 0, count: capacity)
        var nameStart = ContiguousArray<Int32>()
        var nameLength = ContiguousArray<Int32>()
        var bytes = ContiguousArray<UInt8>()
        var patterns = ContiguousArray<PatternEntries>()
        var longest = 0
        for (name, entries) in names {
            let utf8 = Array(name.utf8)
            var hash = Self.start(seed)
            for byte in utf8 { hash = Self.step(hash, byte) }
            let index = Int32(patterns.count)
            nameStart.append(Int32(bytes.count))
            nameLength.append(Int32(utf8.count))
            bytes.append(contentsOf: utf8)
            patterns.append(entries)
            longest = max(longest, utf8.count)
            var slot = Self.bucket(hash) & (capacity - 1)
            while slots[slot] >= 0 { slot = (slot + 1) & (capacity - 1) }
            slots[slot] = index
            slotHashes[slot] = hash
        }
        var hasLength = ContiguousArray<Bool>(repeating: false, count: longest + 1)
        for length in nameLength { hasLength[Int(length)] = true }
        self.slots = slots
        self.slotHashes = slotHashes
        self.mask = capacity - 1
        self.nameStart = nameStart
        self.nameLength = nameLength
        self.bytes = bytes
        self.patterns = patterns
        self.hasLength = hasLength
    }

    @inline(__always) static func start(_ seed: UInt64) -> UInt64 { 0xcbf2_9ce4_8422_2325 ^ seed }
    @inline(__always) static func step(_ hash: UInt64, _ byte: UInt8) -> UInt64 { (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
    @inline(__always) static func bucket(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: hash ^ (hash >> 29) ^ (hash >> 47)) }

    /// The pattern whose name is the first `length` bytes of `name` (hashed to `hash`), or -1.
    @inline(__always)
    func find(_ hash: UInt64, _ name: UnsafeBufferPointer<UInt8>, length: Int) -> Int {
        var slot = Self.bucket(hash) & mask
        while true {
            let pattern = Int(slots[slot])
            if pattern < 0 { return -1 }
            if slotHashes[slot] == hash && Int(nameLength[pattern]) == length && matches(pattern, name, length) { return pattern }
            slot = (slot + 1) & mask
        }
    }

    @inline(__always)
    private func matches(_ pattern: Int, _ name: UnsafeBufferPointer<UInt8>, _ length: Int) -> Bool {
        var i = 0
        let start = Int(nameStart[pattern])
        while i < length {
            if bytes[start + i] != name[i] { return false }
            i += 1
        }
        return true
    }
}

/// The ACLs of one resource type: LITERAL names and PREFIXED patterns in name tables, the LITERAL
/// `*` wildcard; plus every pattern in a list for `authorizeByResourceType`.
final class ResourceIndex: Sendable {
    let literal: NameTable
    let wildcard: PatternEntries?
    let prefixed: NameTable
    let patterns: [(pattern: ResourcePattern, range: EntryRange)]

    init(literal: [(String, PatternEntries)], wildcard: PatternEntries?, prefixed: [(String, PatternEntries)],
         patterns: [(pattern: ResourcePattern, range: EntryRange)], seed: UInt64) {
        self.literal = NameTable(literal, seed: seed)
        self.wildcard = wildcard
        self.prefixed = NameTable(prefixed, seed: seed)
        self.patterns = patterns
    }
}
