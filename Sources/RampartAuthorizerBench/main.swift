// `make bench-authorizer`: AclSnapshot.authorize() over 10,000 ACLs — per-call latency (median and tail
// of batch means), allocations per call (glibc malloc interposed), snapshot build time. Figures go to
// docs/benchmarks.md. Deterministic inputs (seeded), one thread.
import CRampartMallocCounter
import Foundation
import RampartAuthorizer

#if canImport(Glibc)
import Glibc
#endif

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

struct Query {
    var principal: KafkaPrincipal
    var host: String
    var operation: AclOperation
    var type: AclResourceType
    var name: String
}

func binding(_ permission: AclPermissionType, _ principal: String, _ operation: AclOperation, _ type: AclResourceType,
             _ name: String, _ pattern: AclPatternType, host: String = "*") -> AclBinding {
    AclBinding(pattern: ResourcePattern(type, name, pattern),
               entry: AccessControlEntry(principal: KafkaPrincipal(name: principal), host: host, operation: operation, permission: permission))
}

/// 10,000 ACLs shaped like a multi-team cluster: literal and prefixed topic grants per service, group
/// grants, DENYs, host-bound grants, cluster and transactional-id grants; and queries that hit
/// literal names, prefixes, DENYs, other principals and resources no ACL names.
func mixedScenario(_ random: inout SplitMix) -> ([AclBinding], [Query]) {
    var acls: [AclBinding] = []
    let users = 500
    func topic(_ team: Int, _ service: Int, _ n: Int) -> String { "team-\(team).svc-\(service).events-\(n)" }
    for i in 0..<4000 {
        acls.append(binding(.allow, "user-\(i % users)", i % 2 == 0 ? .read : .write, .topic, topic(i % 50, i % 200, i), .literal))
    }
    for j in 0..<3000 {
        acls.append(binding(.allow, "user-\(j % users)", [.read, .write, .describe][j % 3], .topic, "team-\(j % 50).svc-\(j).", .prefixed))
    }
    for k in 0..<1000 { acls.append(binding(.allow, "user-\(k % users)", .read, .group, "group-\(k)", .literal)) }
    for k in 0..<500 { acls.append(binding(.allow, "user-\(k % users)", .read, .group, "app-\(k)-", .prefixed)) }
    for d in 0..<250 { acls.append(binding(.deny, "user-\(d % users)", .write, .topic, topic(d % 50, d % 200, d * 4), .literal)) }
    for d in 0..<250 { acls.append(binding(.deny, "user-\((d * 7) % users)", .read, .topic, "team-\(d % 50).svc-\(d).", .prefixed)) }
    for h in 0..<500 {
        acls.append(binding(.allow, "user-\(h % users)", .describe, .topic, topic(h % 50, h % 200, h), .literal, host: "10.0.\(h % 250).\(h % 200)"))
    }
    for c in 0..<250 { acls.append(binding(.allow, "user-\(c)", .idempotentWrite, .cluster, "kafka-cluster", .literal)) }
    for t in 0..<250 { acls.append(binding(.allow, "user-\(t)", .write, .transactionalId, "tx-\(t)-", .prefixed)) }
    precondition(acls.count == 10_000)

    var queries: [Query] = []
    for q in 0..<4096 {
        let host = "10.1.\(q % 200).\(q % 250)"
        switch q % 10 {
        case 0, 1, 2: // literal hits (Read or Write as granted; Describe implied)
            let i = Int.random(in: 0..<4000, using: &random)
            queries.append(Query(principal: KafkaPrincipal(name: "user-\(i % users)"), host: host,
                                 operation: [i % 2 == 0 ? .read : .write, .describe][q % 2], type: .topic, name: topic(i % 50, i % 200, i)))
        case 3, 4, 5: // prefixed hits
            let j = Int.random(in: 0..<3000, using: &random)
            queries.append(Query(principal: KafkaPrincipal(name: "user-\(j % users)"), host: host, operation: .describe, type: .topic,
                                 name: "team-\(j % 50).svc-\(j).orders-\(q)"))
        case 6: // a resource no ACL names
            queries.append(Query(principal: KafkaPrincipal(name: "user-\(q % users)"), host: host, operation: .read, type: .topic,
                                 name: "unrelated.topic-\(q)"))
        case 7: // another principal's literal resource
            let i = Int.random(in: 0..<4000, using: &random)
            queries.append(Query(principal: KafkaPrincipal(name: "user-\((i + 1) % users)"), host: host, operation: .read, type: .topic,
                                 name: topic(i % 50, i % 200, i)))
        case 8: // groups
            let k = Int.random(in: 0..<1000, using: &random)
            queries.append(Query(principal: KafkaPrincipal(name: "user-\(k % users)"), host: host, operation: .read, type: .group,
                                 name: q % 2 == 0 ? "group-\(k)" : "app-\(k % 500)-consumer"))
        default: // DENYs and the cluster
            let d = Int.random(in: 0..<250, using: &random)
            queries.append(q % 2 == 0
                ? Query(principal: KafkaPrincipal(name: "user-\(d % users)"), host: host, operation: .write, type: .topic, name: topic(d % 50, d % 200, d * 4))
                : Query(principal: KafkaPrincipal(name: "user-\(d)"), host: host, operation: .idempotentWrite, type: .cluster, name: "kafka-cluster"))
        }
    }
    return (acls, queries)
}

/// The worst case for one resource: 10,000 ACLs on the LITERAL `*` topic, one per principal.
func oneResourceScenario(_ random: inout SplitMix) -> ([AclBinding], [Query]) {
    let acls = (0..<10_000).map { binding(.allow, "user-\($0)", .read, .topic, "*", .literal) }
    let queries = (0..<4096).map { q in
        Query(principal: KafkaPrincipal(name: "user-\(Int.random(in: 0..<12_000, using: &random))"), host: "10.0.0.1",
              operation: .read, type: .topic, name: "topic-\(q)")
    }
    return (acls, queries)
}

func nanoseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

struct Result {
    var name: String
    var acls: Int
    var buildMs: Double
    var median: Double
    var p90: Double
    var p99: Double
    var allocationsPerCall: Double?
    var allowedShare: Double
}

func measure(_ name: String, _ acls: [AclBinding], _ queries: [Query]) -> Result {
    let clock = ContinuousClock()
    let buildStart = clock.now
    let snapshot = AclSnapshot(config: AuthorizerConfig(superUsers: [KafkaPrincipal(name: "admin")]), dynamicBindings: acls)
    let buildMs = nanoseconds(clock.now - buildStart) / 1e6

    var allowed = 0
    for query in queries where snapshot.authorize(query.principal, host: query.host, operation: query.operation, query.type, query.name).isAllowed {
        allowed += 1
    }

    // Batches of `batch` calls; each sample is the mean per call of one batch.
    let batch = 512
    let samples = 4000
    var perCall: [Double] = []
    perCall.reserveCapacity(samples)
    var checksum = 0
    var cursor = 0
    for _ in 0..<500 { checksum &+= snapshot.authorize(queries[0].principal, host: queries[0].host, operation: .read, .topic, queries[0].name).isAllowed ? 1 : 0 }
    for _ in 0..<samples {
        let start = clock.now
        for _ in 0..<batch {
            let query = queries[cursor]
            cursor = (cursor + 1) & (queries.count - 1)
            if snapshot.authorize(query.principal, host: query.host, operation: query.operation, query.type, query.name).isAllowed { checksum &+= 1 }
        }
        perCall.append(nanoseconds(clock.now - start) / Double(batch))
    }
    perCall.sort()

    var allocationsPerCall: Double?
    if rampart_malloc_counter_available() {
        let calls = 1_000_000
        let before = rampart_malloc_count()
        for i in 0..<calls {
            let query = queries[i & (queries.count - 1)]
            if snapshot.authorize(query.principal, host: query.host, operation: query.operation, query.type, query.name).isAllowed { checksum &+= 1 }
        }
        allocationsPerCall = Double(rampart_malloc_count() - before) / Double(calls)
    }
    if checksum == -1 { print("") }
    return Result(name: name, acls: acls.count, buildMs: buildMs, median: percentile(perCall, 0.5), p90: percentile(perCall, 0.9),
                  p99: percentile(perCall, 0.99), allocationsPerCall: allocationsPerCall, allowedShare: Double(allowed) / Double(queries.count))
}

var random = SplitMix(state: 42)
let (mixedAcls, mixedQueries) = mixedScenario(&random)
// `RAMPART_BENCH_PROFILE=N`: only N calls of the mixed scenario (for valgrind --tool=callgrind).
if let calls = ProcessInfo.processInfo.environment["RAMPART_BENCH_PROFILE"].flatMap(Int.init) {
    let snapshot = AclSnapshot(config: AuthorizerConfig(), dynamicBindings: mixedAcls)
    var allowed = 0
    for i in 0..<calls {
        let query = mixedQueries[i & (mixedQueries.count - 1)]
        if snapshot.authorize(query.principal, host: query.host, operation: query.operation, query.type, query.name).isAllowed { allowed += 1 }
    }
    print("\(allowed) of \(calls) allowed")
    exit(0)
}
let (oneAcls, oneQueries) = oneResourceScenario(&random)
let results = [
    measure("mixed: literal + prefixed + groups + DENYs", mixedAcls, mixedQueries),
    measure("10,000 ACLs on topic `*` (one per principal)", oneAcls, oneQueries),
]

// The per-request cost of taking the current snapshot (a mutex-protected reference read).
let authorizer = Authorizer(config: AuthorizerConfig(), dynamicBindings: mixedAcls)
let clock = ContinuousClock()
var generations: UInt64 = 0
let snapshotStart = clock.now
for _ in 0..<1_000_000 { generations &+= authorizer.snapshot.generation }
let snapshotNs = nanoseconds(clock.now - snapshotStart) / 1_000_000

print("| scenario | ACLs | allowed | median ns/call | p90 | p99 | allocations/call | snapshot build |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for r in results {
    let allocations = r.allocationsPerCall.map { String(format: "%.3f", $0) } ?? "n/a"
    print("| \(r.name) | \(r.acls) | \(Int(r.allowedShare * 100))% | \(String(format: "%.0f", r.median)) | \(String(format: "%.0f", r.p90)) | "
          + "\(String(format: "%.0f", r.p99)) | \(allocations) | \(String(format: "%.1f", r.buildMs)) ms |")
}
print("")
print("Authorizer.snapshot (once per request): \(String(format: "%.0f", snapshotNs)) ns")
print("(medians and percentiles are of batch means of 512 calls, 4,000 batches; allocations over 1,000,000 calls)")
if generations == 0 { print("") }
