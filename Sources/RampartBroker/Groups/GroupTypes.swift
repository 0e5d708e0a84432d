import KafkaProtocol
import NIOCore

/// One protocol a member supports, with its opaque metadata (for consumers: the subscription).
public struct GroupProtocol: Hashable, Sendable {
    public var name: String
    public var metadata: ByteBuffer
    public init(name: String, metadata: ByteBuffer) {
        self.name = name
        self.metadata = metadata
    }
}

/// The parts of a JoinGroup request the coordinator needs, independent of the wire version.
public struct JoinGroupInput: Sendable {
    public var memberID: String
    public var groupInstanceID: String?
    public var clientID: String
    public var clientHost: String
    public var sessionTimeoutMs: Int32
    /// v0 has no rebalance timeout; callers pass the session timeout, as Kafka does.
    public var rebalanceTimeoutMs: Int32
    public var protocolType: String
    public var protocols: [GroupProtocol]
    /// v4+: a new dynamic member first gets MEMBER_ID_REQUIRED with its id and must rejoin with it.
    public var requireKnownMemberID: Bool

    public init(memberID: String, groupInstanceID: String? = nil, clientID: String, clientHost: String,
                sessionTimeoutMs: Int32, rebalanceTimeoutMs: Int32, protocolType: String,
                protocols: [GroupProtocol], requireKnownMemberID: Bool) {
        self.memberID = memberID
        self.groupInstanceID = groupInstanceID
        self.clientID = clientID
        self.clientHost = clientHost
        self.sessionTimeoutMs = sessionTimeoutMs
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
        self.protocolType = protocolType
        self.protocols = protocols
        self.requireKnownMemberID = requireKnownMemberID
    }
}

/// A member as reported to the leader in its JoinGroup response.
public struct JoinGroupMemberInfo: Hashable, Sendable {
    public var memberID: String
    public var groupInstanceID: String?
    public var metadata: ByteBuffer
}

/// The answer to a JoinGroup request.
public struct JoinGroupResult: Hashable, Sendable {
    public var error: KafkaErrorCode
    public var generationID: Int32 = -1
    public var protocolType: String?
    public var protocolName: String?
    public var leaderID: String = ""
    /// v9+: the leader need not compute an assignment (a static leader rejoining a stable group).
    public var skipAssignment: Bool = false
    public var memberID: String
    /// Filled for the leader only.
    public var members: [JoinGroupMemberInfo] = []

    public static func failure(_ error: KafkaErrorCode, memberID: String) -> JoinGroupResult {
        JoinGroupResult(error: error, memberID: memberID)
    }
}

/// The answer to a SyncGroup request.
public struct SyncGroupResult: Hashable, Sendable {
    public var error: KafkaErrorCode
    public var protocolType: String?
    public var protocolName: String?
    public var assignment: ByteBuffer

    public static func failure(_ error: KafkaErrorCode) -> SyncGroupResult {
        SyncGroupResult(error: error, assignment: ByteBuffer())
    }
}

/// A group's state, with Kafka's names as DescribeGroups/ListGroups report them.
public enum GroupState: String, Sendable, CaseIterable {
    case empty = "Empty"
    case preparingRebalance = "PreparingRebalance"
    case completingRebalance = "CompletingRebalance"
    case stable = "Stable"
    case dead = "Dead"
}

/// A member as DescribeGroups reports it.
public struct GroupMemberDescription: Hashable, Sendable {
    public var memberID: String
    public var groupInstanceID: String?
    public var clientID: String
    public var clientHost: String
    public var metadata: ByteBuffer
    public var assignment: ByteBuffer
}

/// A group as DescribeGroups reports it.
public struct GroupDescription: Hashable, Sendable {
    public var groupID: String
    public var state: GroupState
    public var protocolType: String
    /// The selected protocol; empty unless the group is Stable or CompletingRebalance.
    public var protocolName: String
    public var members: [GroupMemberDescription]
}

/// What a state-machine event asks the coordinator to do: answer requests that were waiting.
public enum GroupAction: Hashable, Sendable {
    case completeJoin(memberID: String, JoinGroupResult)
    case completeSync(memberID: String, SyncGroupResult)
}

/// Group coordinator settings (Kafka's broker keys).
public struct GroupCoordinatorConfig: Sendable {
    public var minSessionTimeoutMs: Int32 = 6000
    public var maxSessionTimeoutMs: Int32 = 1_800_000
    public var initialRebalanceDelayMs: Int32 = 3000
    public var maxGroupSize: Int = Int(Int32.max)

    public init(minSessionTimeoutMs: Int32 = 6000, maxSessionTimeoutMs: Int32 = 1_800_000,
                initialRebalanceDelayMs: Int32 = 3000, maxGroupSize: Int = Int(Int32.max)) {
        self.minSessionTimeoutMs = minSessionTimeoutMs
        self.maxSessionTimeoutMs = maxSessionTimeoutMs
        self.initialRebalanceDelayMs = initialRebalanceDelayMs
        self.maxGroupSize = maxGroupSize
    }
}

extension KafkaUUID {
    /// The UUID in Java's `UUID.toString()` form (8-4-4-4-12 lowercase hex), as Kafka prints member ids.
    public var javaString: String {
        func hex(_ v: UInt64, _ digits: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, digits - s.count)) + s
        }
        let m = mostSignificantBits, l = leastSignificantBits
        return "\(hex(m >> 32, 8))-\(hex((m >> 16) & 0xFFFF, 4))-\(hex(m & 0xFFFF, 4))-\(hex(l >> 48, 4))-\(hex(l & 0xFFFF_FFFF_FFFF, 12))"
    }
}
