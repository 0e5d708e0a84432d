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

    static let denyFlag: UInt8 = 1
    static let anyPrincipalFlag: UInt8 = 2
    static let anyHostFlag: UInt8 = 4

    var count: Int { flags.count }

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

/// PREFIXED patterns of one resource type as a byte trie over their UTF-8: walking a resource name
/// visits exactly the prefixes it starts with, in O(length of the name), without hashing or
/// allocating. Nodes are flattened breadth-first; a node's children are contiguous and sorted by byte.
struct PrefixTrie: Sendable {
    struct Node: Sendable {
        var firstEdge: Int32
        var edgeCount: Int32
        var entries: EntryRange
    }

    private(set) var nodes = ContiguousArray<Node>()
    private(set) var edgeBytes = ContiguousArray<UInt8>()
    private(set) var edgeTargets = ContiguousArray<Int32>()

    var isEmpty: Bool { nodes.count <= 1 }

    init(_ prefixes: [(String, EntryRange)]) {
        // A mutable trie first, then flattened.
        var children: [[UInt8: Int]] = [[:]]
        var ranges: [EntryRange] = [.empty]
        for (prefix, range) in prefixes {
            var node = 0
            for byte in prefix.utf8 {
                if let next = children[node][byte] {
                    node = next
                } else {
                    children.append([:])
                    ranges.append(.empty)
                    children[node][byte] = children.count - 1
                    node = children.count - 1
                }
            }
            ranges[node] = range
        }
        var order = [0]
        var position = [Int](repeating: 0, count: children.count)
        var cursor = 0
        while cursor < order.count {
            let old = order[cursor]
            for byte in children[old].keys.sorted() {
                let child = children[old][byte]!
                position[child] = order.count
                order.append(child)
            }
            cursor += 1
        }
        nodes.reserveCapacity(order.count)
        for old in order {
            let sorted = children[old].keys.sorted()
            nodes.append(Node(firstEdge: Int32(edgeBytes.count), edgeCount: Int32(sorted.count), entries: ranges[old]))
            for byte in sorted {
                edgeBytes.append(byte)
                edgeTargets.append(Int32(position[children[old][byte]!]))
            }
        }
    }

    /// The child of `node` along `byte`, or -1.
    @inline(__always)
    func child(of node: Int, byte: UInt8) -> Int {
        let first = Int(nodes[node].firstEdge)
        var low = first
        var high = first + Int(nodes[node].edgeCount)
        if high - low <= 8 {
            while low < high {
                if edgeBytes[low] == byte { return Int(edgeTargets[low]) }
                low += 1
            }
            return -1
        }
        while low < high {
            let mid = (low + high) / 2
            let value = edgeBytes[mid]
            if value == byte { return Int(edgeTargets[mid]) }
            if value < byte { low = mid + 1 } else { high = mid }
        }
        return -1
    }
}

/// The ACLs of one resource type: LITERAL names in a dictionary, the LITERAL `*` wildcard, and the
/// PREFIXED patterns in a trie; plus every pattern in a list for `authorizeByResourceType`.
struct ResourceIndex: Sendable {
    var literal: [String: EntryRange] = [:]
    var wildcard = EntryRange.empty
    var prefixed = PrefixTrie([])
    var patterns: [(pattern: ResourcePattern, range: EntryRange)] = []
}
