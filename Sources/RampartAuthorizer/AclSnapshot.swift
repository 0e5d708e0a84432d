/// An immutable, compiled set of ACLs with the authorizer settings: Kafka's `StandardAuthorizer`
/// semantics, evaluated without locks or allocation.
///
/// `authorize` decides in Kafka's order: authorizer off → ALLOW; `super.users` → ALLOW; any matching
/// DENY → DENY (DENY wins); any matching ALLOW → ALLOW (an ALLOW of Read, Write, Delete or Alter also
/// grants Describe, an ALLOW of AlterConfigs also grants DescribeConfigs — a DENY implies nothing);
/// no ACL on the resource at all → `allow.everyone.if.no.acl.found`; else DENY.
/// An ACL matches when its principal is the request's (or `User:*`), its host is the client address
/// (or `*`), its operation is the one asked (or All), and its pattern covers the resource: the
/// LITERAL name, the LITERAL `*`, or a PREFIXED pattern the name starts with.
///
/// Snapshots are built by `Authorizer` from the file and dynamic ACLs and swapped atomically; a
/// request evaluates every check against the one snapshot it took.
public final class AclSnapshot: Sendable {
    public let config: AuthorizerConfig
    /// Every ACL, file ACLs first; `AclRuleID` indexes this.
    public let bindings: [AclBinding]
    /// How many of `bindings` (from the start) came from policy files.
    public let fileBindingCount: Int
    /// A short hash of the settings and ACLs (stable across processes), for audit events and explain.
    public let fingerprint: String
    /// Counts up with every snapshot an `Authorizer` installs.
    public let generation: UInt64

    private let entries: CompiledEntries
    private let indexes: ContiguousArray<ResourceIndex>

    /// Compiles `bindings` (validated by their producers; invalid ones are kept but can only match what
    /// their pattern matches).
    public init(config: AuthorizerConfig, fileBindings: [AclBinding] = [], dynamicBindings: [AclBinding] = [], generation: UInt64 = 0) {
        self.config = config
        self.bindings = fileBindings + dynamicBindings
        self.fileBindingCount = fileBindings.count
        self.generation = generation

        var grouped: [ResourcePattern: [Int32]] = [:]
        var order: [ResourcePattern] = []
        for (i, binding) in bindings.enumerated() {
            if grouped[binding.pattern] == nil { order.append(binding.pattern) }
            grouped[binding.pattern, default: []].append(Int32(i))
        }
        var entries = CompiledEntries()
        let typeCount = AclResourceType.allCases.count
        var literal = [[(String, PatternEntries)]](repeating: [], count: typeCount)
        var wildcard = [PatternEntries?](repeating: nil, count: typeCount)
        var prefixes = [[(String, PatternEntries)]](repeating: [], count: typeCount)
        var patterns = [[(pattern: ResourcePattern, range: EntryRange)]](repeating: [], count: typeCount)
        for pattern in order {
            let compiled = entries.appendPattern(grouped[pattern]!, of: bindings)
            let slot = pattern.resourceType.slot
            patterns[slot].append((pattern, compiled.all))
            switch pattern.patternType {
            case .literal where pattern.name == ResourcePattern.wildcardName: wildcard[slot] = compiled
            case .literal: literal[slot].append((pattern.name, compiled))
            case .prefixed: prefixes[slot].append((pattern.name, compiled))
            }
        }
        self.entries = entries
        // A per-snapshot seed, so resource names cannot be chosen to collide in the tables.
        let seed = UInt64.random(in: .min ... .max)
        self.indexes = ContiguousArray((0..<typeCount).map {
            ResourceIndex(literal: literal[$0], wildcard: wildcard[$0], prefixed: prefixes[$0], patterns: patterns[$0], seed: seed)
        })
        self.fingerprint = Self.fingerprint(config: config, bindings: bindings)
    }

    /// The ACL a decision names.
    public func binding(_ id: AclRuleID) -> AclBinding { bindings[Int(id.index)] }

    /// The ACL that decided, if one did.
    public func matchedBinding(_ decision: AuthorizationDecision) -> AclBinding? { decision.rule.map(binding) }

    // MARK: - Evaluation

    /// Whether `principal` connected from `host` may perform `operation` on the resource `name` of `type`.
    public func authorize(_ principal: KafkaPrincipal, host: String, operation: AclOperation,
                          _ type: AclResourceType, _ name: String) -> AuthorizationDecision {
        guard config.enabled else { return AuthorizationDecision(.authorizerDisabled) }
        if isSuperUser(principal) { return AuthorizationDecision(.superUser) }
        let bit = UInt32(1) << UInt32(operation.rawValue)
        var state = ScanState()
        let index = indexes[type.slot]
        var name = name
        // Native strings hand out their UTF-8 in place (small ones from the stack): no allocation.
        let denied = name.withUTF8 { bytes in matchPatterns(index, bytes, principal, host, bit, &state) }
        if denied { return AuthorizationDecision(.deniedByAcl(AclRuleID(index: state.deny))) }
        if state.allow >= 0 { return AuthorizationDecision(.allowedByAcl(AclRuleID(index: state.allow))) }
        if !state.sawAcl {
            return AuthorizationDecision(config.allowEveryoneIfNoAclFound ? .noAclFoundAllowEveryone : .noAclFound)
        }
        return AuthorizationDecision(.noMatchingAllow)
    }

    /// `authorize` on a resource pattern's type and name.
    public func authorize(_ principal: KafkaPrincipal, host: String, operation: AclOperation, _ resource: ResourcePattern) -> AuthorizationDecision {
        authorize(principal, host: host, operation: operation, resource.resourceType, resource.name)
    }

    /// Whether `principal` may perform `operation` on *some* resource of `type` — Kafka's
    /// `authorizeByResourceType`, used for idempotent producers (Write on any topic). Allowed when the
    /// principal is a super user or allowed on a resource no ACL names; else when an ALLOW for the exact
    /// operation (or All; nothing implied) exists that no DENY dominates: a DENY on LITERAL `*` denies
    /// all, a LITERAL DENY dominates the same LITERAL ALLOW, a PREFIXED DENY dominates every ALLOW
    /// whose name starts with it.
    public func authorizeByResourceType(_ principal: KafkaPrincipal, host: String, operation: AclOperation,
                                        _ type: AclResourceType) -> AuthorizationDecision {
        let probe = authorize(principal, host: host, operation: operation, type, "hardcode")
        if probe.isAllowed { return probe }
        var deniedLiterals: Set<String> = []
        var deniedPrefixes: Set<String> = []
        var allowed: [(name: String, isLiteral: Bool, rule: Int32)] = []
        var wildcardAllow: Int32 = -1
        for (pattern, range) in indexes[type.slot].patterns {
            if range.isEmpty { continue }
            for i in Int(range.start)..<Int(range.end) {
                let op = entries.operations[i]
                guard op == operation || op == .all, entries.applies(i, principal: principal, host: host) else { continue }
                let isWildcard = pattern.patternType == .literal && pattern.name == ResourcePattern.wildcardName
                if entries.flags[i] & CompiledEntries.denyFlag != 0 {
                    if isWildcard { return AuthorizationDecision(.deniedByAcl(AclRuleID(index: entries.rules[i]))) }
                    if pattern.patternType == .literal { deniedLiterals.insert(pattern.name) } else { deniedPrefixes.insert(pattern.name) }
                } else if isWildcard {
                    if wildcardAllow < 0 { wildcardAllow = entries.rules[i] }
                } else {
                    allowed.append((pattern.name, pattern.patternType == .literal, entries.rules[i]))
                }
            }
        }
        if wildcardAllow >= 0 { return AuthorizationDecision(.allowedByAcl(AclRuleID(index: wildcardAllow))) }
        for candidate in allowed.sorted(by: { $0.isLiteral && !$1.isLiteral }) {
            if candidate.isLiteral && deniedLiterals.contains(candidate.name) { continue }
            var prefix = ""
            var dominated = false
            for character in candidate.name {
                prefix.append(character)
                if deniedPrefixes.contains(prefix) { dominated = true; break }
            }
            if !dominated { return AuthorizationDecision(.allowedByAcl(AclRuleID(index: candidate.rule))) }
        }
        return AuthorizationDecision(.noMatchingAllow)
    }

    /// The operations of `type`'s supported set that `principal` may perform on `name` (Kafka's
    /// `authorizedOperations`, reported by DescribeGroups, Metadata and DescribeCluster).
    public func authorizedOperations(_ principal: KafkaPrincipal, host: String, _ type: AclResourceType, _ name: String) -> [AclOperation] {
        type.supportedOperations.filter { authorize(principal, host: host, operation: $0, type, name).isAllowed }
    }

    /// `authorizedOperations` as Kafka's bit field (bit `code` set for each operation).
    /// Computed without building the list (Metadata asks it once per topic).
    public func authorizedOperationBits(_ principal: KafkaPrincipal, host: String, _ type: AclResourceType, _ name: String) -> Int32 {
        var bits: Int32 = 0
        for operation in type.supportedOperations where authorize(principal, host: host, operation: operation, type, name).isAllowed {
            bits |= operation.bit
        }
        return bits
    }

    /// Whether `principal` is in `super.users`.
    public func isSuperUser(_ principal: KafkaPrincipal) -> Bool {
        for user in config.superUsers where user.name == principal.name && user.type == principal.type { return true }
        return false
    }

    // MARK: - Internals

    private struct ScanState {
        var sawAcl = false
        var allow: Int32 = -1
        var deny: Int32 = -1
    }

    /// Scans every pattern covering the name — its LITERAL entry, the LITERAL `*`, then each PREFIXED
    /// pattern it starts with, shortest first; true as soon as a DENY matches.
    @inline(__always)
    private func matchPatterns(_ index: ResourceIndex, _ name: UnsafeBufferPointer<UInt8>, _ principal: KafkaPrincipal, _ host: String,
                               _ bit: UInt32, _ state: inout ScanState) -> Bool {
        let literal = index.literal
        if !literal.isEmpty {
            var hash = NameTable.start(literal.seed)
            for byte in name { hash = NameTable.step(hash, byte) }
            let found = literal.find(hash, name, length: name.count)
            if found >= 0, scan(literal.patterns[found], principal, host, bit, &state) { return true }
        }
        if let entries = index.wildcard, scan(entries, principal, host, bit, &state) { return true }
        let prefixed = index.prefixed
        if !prefixed.isEmpty {
            var hash = NameTable.start(prefixed.seed)
            let lengths = min(name.count, prefixed.hasLength.count - 1)
            var length = 0
            while length < lengths {
                hash = NameTable.step(hash, name[length])
                length += 1
                if prefixed.hasLength[length] {
                    let found = prefixed.find(hash, name, length: length)
                    if found >= 0, scan(prefixed.patterns[found], principal, host, bit, &state) { return true }
                }
            }
        }
        return false
    }

    /// Scans the entries of one pattern that can apply to `principal`; true as soon as a DENY matches
    /// (its rule in `state.deny`).
    @inline(__always)
    private func scan(_ pattern: PatternEntries, _ principal: KafkaPrincipal, _ host: String, _ bit: UInt32, _ state: inout ScanState) -> Bool {
        state.sawAcl = true
        if pattern.byPrincipal < 0 { return scan(pattern.all, principal, host, bit, &state) }
        if scan(pattern.anyPrincipal, principal, host, bit, &state) { return true }
        guard let own = entries.principalIndexes[Int(pattern.byPrincipal)][principal] else { return false }
        return scan(own, principal, host, bit, &state)
    }

    @inline(__always)
    private func scan(_ range: EntryRange, _ principal: KafkaPrincipal, _ host: String, _ bit: UInt32, _ state: inout ScanState) -> Bool {
        var i = Int(range.start)
        let end = Int(range.end)
        while i < end {
            if entries.operationBits[i] & bit != 0 && entries.applies(i, principal: principal, host: host) {
                if entries.flags[i] & CompiledEntries.denyFlag != 0 {
                    state.deny = entries.rules[i]
                    return true
                }
                if state.allow < 0 { state.allow = entries.rules[i] }
            }
            i += 1
        }
        return false
    }

    /// FNV-1a (64 bit) over a canonical listing of the settings and the ACLs (sorted, sources
    /// included), as 16 hex digits.
    static func fingerprint(config: AuthorizerConfig, bindings: [AclBinding]) -> String {
        var lines = bindings.map { "\($0.pattern)|\($0.entry)|\($0.source)" }
        lines.sort()
        lines.insert("enabled=\(config.enabled) superUsers=\(config.superUsers.map(\.description).sorted()) allowEveryone=\(config.allowEveryoneIfNoAclFound)", at: 0)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for line in lines {
            for byte in line.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
            hash ^= 0x0a
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
