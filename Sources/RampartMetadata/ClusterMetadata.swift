import Foundation

/// A topic's 16-byte identifier (Kafka's topic id), stored as lowercase hex.
public struct TopicID: Hashable, Sendable, Codable, CustomStringConvertible {
    public var mostSignificantBits: UInt64
    public var leastSignificantBits: UInt64

    public init(mostSignificantBits: UInt64, leastSignificantBits: UInt64) {
        self.mostSignificantBits = mostSignificantBits
        self.leastSignificantBits = leastSignificantBits
    }

    /// A random version-4 identifier.
    public static func random() -> TopicID {
        var rng = SystemRandomNumberGenerator()
        let rawMSB: UInt64 = rng.next()
        let rawLSB: UInt64 = rng.next()
        let msb = (rawMSB & ~UInt64(0xF000)) | 0x4000
        let lsb = (rawLSB & ~UInt64(0xC000_0000_0000_0000)) | 0x8000_0000_0000_0000
        return TopicID(mostSignificantBits: msb, leastSignificantBits: lsb)
    }

    public var description: String { hex }

    var hex: String {
        func h(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return h(mostSignificantBits) + h(leastSignificantBits)
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let s = try container.decode(String.self)
        guard s.count == 32, let msb = UInt64(s.prefix(16), radix: 16), let lsb = UInt64(s.suffix(16), radix: 16) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "topic id must be 32 hex digits")
        }
        self.init(mostSignificantBits: msb, leastSignificantBits: lsb)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}

/// One partition's placement. On a single node every partition is led by that node.
public struct PartitionMetadata: Hashable, Sendable, Codable {
    public var partition: Int32
    public var leader: Int32
    public var leaderEpoch: Int32
    public var replicas: [Int32]
    public var isr: [Int32]

    public init(partition: Int32, leader: Int32, leaderEpoch: Int32 = 0, replicas: [Int32], isr: [Int32]) {
        self.partition = partition
        self.leader = leader
        self.leaderEpoch = leaderEpoch
        self.replicas = replicas
        self.isr = isr
    }
}

/// A topic: its id, partitions and the configs set on it (only those explicitly set; defaults come
/// from the broker configuration).
public struct TopicMetadata: Hashable, Sendable, Codable {
    public var name: String
    public var id: TopicID
    public var partitions: [PartitionMetadata]
    public var configs: [String: String]
    /// Internal topics (`__consumer_offsets`, `__transaction_state`).
    public var isInternal: Bool

    public init(name: String, id: TopicID = .random(), partitions: [PartitionMetadata], configs: [String: String] = [:], isInternal: Bool = false) {
        self.name = name
        self.id = id
        self.partitions = partitions
        self.configs = configs
        self.isInternal = isInternal
    }
}

/// A broker known to the cluster.
public struct BrokerMetadata: Hashable, Sendable, Codable {
    public var nodeID: Int32
    public var host: String
    public var port: Int32
    public var rack: String?

    public init(nodeID: Int32, host: String, port: Int32, rack: String? = nil) {
        self.nodeID = nodeID
        self.host = host
        self.port = port
        self.rack = rack
    }
}

/// One user's SCRAM credential for one mechanism, as stored: the salt, the iteration count, StoredKey
/// and ServerKey (RFC 5802 §3), binary fields in base64 — never the password. Printing it shows the
/// iteration count only.
public struct StoredSCRAMCredential: Hashable, Sendable, Codable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var salt: String
    public var iterations: Int
    public var storedKey: String
    public var serverKey: String

    public init(salt: String, iterations: Int, storedKey: String, serverKey: String) {
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    public var description: String { "StoredSCRAMCredential(iterations: \(iterations))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["iterations": iterations], displayStyle: .struct) }
}

/// One dynamic ACL as stored (created over CreateAcls or `rampart acl add`): Kafka's wire codes for
/// the resource type, pattern type, operation and permission, so the store needs no ACL model.
public struct StoredAcl: Hashable, Sendable, Codable {
    public var resourceType: Int8
    public var resourceName: String
    public var patternType: Int8
    public var principal: String
    public var host: String
    public var operation: Int8
    public var permission: Int8

    public init(resourceType: Int8, resourceName: String, patternType: Int8, principal: String, host: String, operation: Int8, permission: Int8) {
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.patternType = patternType
        self.principal = principal
        self.host = host
        self.operation = operation
        self.permission = permission
    }
}

/// The whole cluster metadata image. Every change produces a new image with a higher `epoch`.
public struct ClusterMetadata: Hashable, Sendable, Codable {
    /// The newest format version this build reads. 2 added `scramCredentials`: an image is written with
    /// the lowest version that holds its content (2 once it has credentials), so a downgraded broker
    /// refuses an image with users rather than silently dropping them, and reads any other.
    /// 3 added `acls` (written as 3 only when there are dynamic ACLs).
    public static let formatVersion = 3

    /// The version the image was read with (new images: the newest).
    public var formatVersion: Int
    /// The version written: the lowest that can hold the content.
    public var requiredFormatVersion: Int { !acls.isEmpty ? 3 : scramCredentials.isEmpty ? 1 : 2 }
    public var clusterID: String
    /// Incremented by every committed change.
    public var epoch: Int64
    public var topics: [String: TopicMetadata]
    /// Dynamic broker-level configs (AlterConfigs on the broker resource), by node id ("" = cluster default).
    public var brokerConfigs: [String: [String: String]]
    /// Producer ids below this have been handed out (or reserved); allocation resumes here.
    public var producerIDBlockEnd: Int64 = 0
    /// SCRAM credentials by user name, then by mechanism name (`SCRAM-SHA-256`, `SCRAM-SHA-512`).
    public var scramCredentials: [String: [String: StoredSCRAMCredential]] = [:]
    /// Dynamic ACLs, in creation order, without duplicates.
    public var acls: [StoredAcl] = []
    /// The key (base64, 32 random bytes) SASL derives unknown users' decoy credentials from, kept so a
    /// restart does not change them (an attacker comparing salts across a restart would otherwise tell
    /// unknown names from known ones). As secret as the stored keys; never printed.
    public var scramDecoyKey: String?

    public init(clusterID: String, epoch: Int64 = 0, topics: [String: TopicMetadata] = [:], brokerConfigs: [String: [String: String]] = [:]) {
        self.formatVersion = Self.formatVersion
        self.clusterID = clusterID
        self.epoch = epoch
        self.topics = topics
        self.brokerConfigs = brokerConfigs
    }

    private enum CodingKeys: String, CodingKey {
        case formatVersion, clusterID, epoch, topics, brokerConfigs, producerIDBlockEnd, scramCredentials, acls, scramDecoyKey
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        clusterID = try c.decode(String.self, forKey: .clusterID)
        epoch = try c.decode(Int64.self, forKey: .epoch)
        topics = try c.decode([String: TopicMetadata].self, forKey: .topics)
        brokerConfigs = try c.decodeIfPresent([String: [String: String]].self, forKey: .brokerConfigs) ?? [:]
        producerIDBlockEnd = try c.decodeIfPresent(Int64.self, forKey: .producerIDBlockEnd) ?? 0
        scramCredentials = try c.decodeIfPresent([String: [String: StoredSCRAMCredential]].self, forKey: .scramCredentials) ?? [:]
        acls = try c.decodeIfPresent([StoredAcl].self, forKey: .acls) ?? []
        scramDecoyKey = try c.decodeIfPresent(String.self, forKey: .scramDecoyKey)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(requiredFormatVersion, forKey: .formatVersion)
        try c.encode(clusterID, forKey: .clusterID)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(topics, forKey: .topics)
        try c.encode(brokerConfigs, forKey: .brokerConfigs)
        try c.encode(producerIDBlockEnd, forKey: .producerIDBlockEnd)
        if !scramCredentials.isEmpty { try c.encode(scramCredentials, forKey: .scramCredentials) }
        if !acls.isEmpty { try c.encode(acls, forKey: .acls) }
        // Older readers ignore it (and make decoys under a key of their own), so no version needs it.
        try c.encodeIfPresent(scramDecoyKey, forKey: .scramDecoyKey)
    }

    /// A topic by id.
    public func topic(id: TopicID) -> TopicMetadata? { topics.values.first { $0.id == id } }

    /// A new random cluster id in Kafka's form (22 characters of URL-safe base64 of 16 random bytes).
    public static func newClusterID() -> String {
        var rng = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in bytes.indices { bytes[i] = rng.next() }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
