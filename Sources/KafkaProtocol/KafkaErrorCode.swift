/// A Kafka wire error code (the `ErrorCode` int16 of responses), with Kafka's names.
///
/// `name` is Kafka's constant name (e.g. `TOPIC_AUTHORIZATION_FAILED`); `isRetriable` follows Kafka's
/// `RetriableException` classification.
public struct KafkaErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible, Error {
    public var rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }
    public init(_ rawValue: Int16) { self.rawValue = rawValue }

    public var description: String { "\(name) (\(rawValue))" }

    /// Kafka's name for the code, or `UNKNOWN_CODE_<n>`.
    public var name: String { Self.table[rawValue]?.name ?? "UNKNOWN_CODE_\(rawValue)" }
    /// Whether a client may retry the request as is.
    public var isRetriable: Bool { Self.table[rawValue]?.retriable ?? false }

    public static let unknownServerError = KafkaErrorCode(-1)
    public static let noError = KafkaErrorCode(0)
    public static let offsetOutOfRange = KafkaErrorCode(1)
    public static let corruptMessage = KafkaErrorCode(2)
    public static let unknownTopicOrPartition = KafkaErrorCode(3)
    public static let invalidFetchSize = KafkaErrorCode(4)
    public static let leaderNotAvailable = KafkaErrorCode(5)
    public static let notLeaderForPartition = KafkaErrorCode(6)
    public static let requestTimedOut = KafkaErrorCode(7)
    public static let brokerNotAvailable = KafkaErrorCode(8)
    public static let replicaNotAvailable = KafkaErrorCode(9)
    public static let messageSizeTooLarge = KafkaErrorCode(10)
    public static let staleControllerEpoch = KafkaErrorCode(11)
    public static let offsetMetadataTooLarge = KafkaErrorCode(12)
    public static let networkException = KafkaErrorCode(13)
    public static let coordinatorLoadInProgress = KafkaErrorCode(14)
    public static let coordinatorNotAvailable = KafkaErrorCode(15)
    public static let notCoordinator = KafkaErrorCode(16)
    public static let invalidTopic = KafkaErrorCode(17)
    public static let recordListTooLarge = KafkaErrorCode(18)
    public static let notEnoughReplicas = KafkaErrorCode(19)
    public static let notEnoughReplicasAfterAppend = KafkaErrorCode(20)
    public static let invalidRequiredAcks = KafkaErrorCode(21)
    public static let illegalGeneration = KafkaErrorCode(22)
    public static let inconsistentGroupProtocol = KafkaErrorCode(23)
    public static let invalidGroupId = KafkaErrorCode(24)
    public static let unknownMemberId = KafkaErrorCode(25)
    public static let invalidSessionTimeout = KafkaErrorCode(26)
    public static let rebalanceInProgress = KafkaErrorCode(27)
    public static let invalidCommitOffsetSize = KafkaErrorCode(28)
    public static let topicAuthorizationFailed = KafkaErrorCode(29)
    public static let groupAuthorizationFailed = KafkaErrorCode(30)
    public static let clusterAuthorizationFailed = KafkaErrorCode(31)
    public static let invalidTimestamp = KafkaErrorCode(32)
    public static let unsupportedSaslMechanism = KafkaErrorCode(33)
    public static let illegalSaslState = KafkaErrorCode(34)
    public static let unsupportedVersion = KafkaErrorCode(35)
    public static let topicAlreadyExists = KafkaErrorCode(36)
    public static let invalidPartitions = KafkaErrorCode(37)
    public static let invalidReplicationFactor = KafkaErrorCode(38)
    public static let invalidReplicationAssignment = KafkaErrorCode(39)
    public static let invalidConfig = KafkaErrorCode(40)
    public static let notController = KafkaErrorCode(41)
    public static let invalidRequest = KafkaErrorCode(42)
    public static let unsupportedForMessageFormat = KafkaErrorCode(43)
    public static let policyViolation = KafkaErrorCode(44)
    public static let outOfOrderSequenceNumber = KafkaErrorCode(45)
    public static let duplicateSequenceNumber = KafkaErrorCode(46)
    public static let invalidProducerEpoch = KafkaErrorCode(47)
    public static let invalidTxnState = KafkaErrorCode(48)
    public static let invalidProducerIdMapping = KafkaErrorCode(49)
    public static let invalidTransactionTimeout = KafkaErrorCode(50)
    public static let concurrentTransactions = KafkaErrorCode(51)
    public static let transactionCoordinatorFenced = KafkaErrorCode(52)
    public static let transactionalIdAuthorizationFailed = KafkaErrorCode(53)
    public static let securityDisabled = KafkaErrorCode(54)
    public static let operationNotAttempted = KafkaErrorCode(55)
    public static let kafkaStorageError = KafkaErrorCode(56)
    public static let logDirNotFound = KafkaErrorCode(57)
    public static let saslAuthenticationFailed = KafkaErrorCode(58)
    public static let unknownProducerId = KafkaErrorCode(59)
    public static let reassignmentInProgress = KafkaErrorCode(60)
    public static let delegationTokenAuthDisabled = KafkaErrorCode(61)
    public static let delegationTokenNotFound = KafkaErrorCode(62)
    public static let delegationTokenOwnerMismatch = KafkaErrorCode(63)
    public static let delegationTokenRequestNotAllowed = KafkaErrorCode(64)
    public static let delegationTokenAuthorizationFailed = KafkaErrorCode(65)
    public static let delegationTokenExpired = KafkaErrorCode(66)
    public static let invalidPrincipalType = KafkaErrorCode(67)
    public static let nonEmptyGroup = KafkaErrorCode(68)
    public static let groupIdNotFound = KafkaErrorCode(69)
    public static let fetchSessionIdNotFound = KafkaErrorCode(70)
    public static let invalidFetchSessionEpoch = KafkaErrorCode(71)
    public static let listenerNotFound = KafkaErrorCode(72)
    public static let topicDeletionDisabled = KafkaErrorCode(73)
    public static let fencedLeaderEpoch = KafkaErrorCode(74)
    public static let unknownLeaderEpoch = KafkaErrorCode(75)
    public static let unsupportedCompressionType = KafkaErrorCode(76)
    public static let staleBrokerEpoch = KafkaErrorCode(77)
    public static let offsetNotAvailable = KafkaErrorCode(78)
    public static let memberIdRequired = KafkaErrorCode(79)
    public static let preferredLeaderNotAvailable = KafkaErrorCode(80)
    public static let groupMaxSizeReached = KafkaErrorCode(81)
    public static let fencedInstanceId = KafkaErrorCode(82)
    public static let eligibleLeadersNotAvailable = KafkaErrorCode(83)
    public static let electionNotNeeded = KafkaErrorCode(84)
    public static let noReassignmentInProgress = KafkaErrorCode(85)
    public static let groupSubscribedToTopic = KafkaErrorCode(86)
    public static let invalidRecord = KafkaErrorCode(87)
    public static let unstableOffsetCommit = KafkaErrorCode(88)
    public static let throttlingQuotaExceeded = KafkaErrorCode(89)
    public static let producerFenced = KafkaErrorCode(90)
    public static let resourceNotFound = KafkaErrorCode(91)
    public static let duplicateResource = KafkaErrorCode(92)
    public static let unacceptableCredential = KafkaErrorCode(93)
    public static let inconsistentVoterSet = KafkaErrorCode(94)
    public static let invalidUpdateVersion = KafkaErrorCode(95)
    public static let featureUpdateFailed = KafkaErrorCode(96)
    public static let principalDeserializationFailure = KafkaErrorCode(97)
    public static let snapshotNotFound = KafkaErrorCode(98)
    public static let positionOutOfRange = KafkaErrorCode(99)
    public static let unknownTopicId = KafkaErrorCode(100)
    public static let duplicateBrokerRegistration = KafkaErrorCode(101)
    public static let brokerIdNotRegistered = KafkaErrorCode(102)
    public static let inconsistentTopicId = KafkaErrorCode(103)
    public static let inconsistentClusterId = KafkaErrorCode(104)
    public static let transactionalIdNotFound = KafkaErrorCode(105)
    public static let fetchSessionTopicIdError = KafkaErrorCode(106)
    public static let ineligibleReplica = KafkaErrorCode(107)
    public static let newLeaderElected = KafkaErrorCode(108)
    public static let offsetMovedToTieredStorage = KafkaErrorCode(109)
    public static let fencedMemberEpoch = KafkaErrorCode(110)
    public static let unreleasedInstanceId = KafkaErrorCode(111)
    public static let unsupportedAssignor = KafkaErrorCode(112)
    public static let staleMemberEpoch = KafkaErrorCode(113)
    public static let mismatchedEndpointType = KafkaErrorCode(114)
    public static let unsupportedEndpointType = KafkaErrorCode(115)
    public static let unknownControllerId = KafkaErrorCode(116)
    public static let unknownSubscriptionId = KafkaErrorCode(117)
    public static let telemetryTooLarge = KafkaErrorCode(118)
    public static let invalidRegistration = KafkaErrorCode(119)
    public static let transactionAbortable = KafkaErrorCode(120)
    public static let invalidRecordState = KafkaErrorCode(121)
    public static let shareSessionNotFound = KafkaErrorCode(122)
    public static let invalidShareSessionEpoch = KafkaErrorCode(123)
    public static let fencedStateEpoch = KafkaErrorCode(124)
    public static let invalidVoterKey = KafkaErrorCode(125)
    public static let duplicateVoter = KafkaErrorCode(126)
    public static let voterNotFound = KafkaErrorCode(127)

    private static let table: [Int16: (name: String, retriable: Bool)] = [
        -1: ("UNKNOWN", false),
        0: ("NO_ERROR", false),
        1: ("OFFSET_OUT_OF_RANGE", false),
        2: ("CORRUPT_MESSAGE", false),
        3: ("UNKNOWN_TOPIC_OR_PARTITION", true),
        4: ("INVALID_FETCH_SIZE", false),
        5: ("LEADER_NOT_AVAILABLE", true),
        6: ("NOT_LEADER_FOR_PARTITION", true),
        7: ("REQUEST_TIMED_OUT", true),
        8: ("BROKER_NOT_AVAILABLE", false),
        9: ("REPLICA_NOT_AVAILABLE", true),
        10: ("MESSAGE_SIZE_TOO_LARGE", false),
        11: ("STALE_CONTROLLER_EPOCH", false),
        12: ("OFFSET_METADATA_TOO_LARGE", false),
        13: ("NETWORK_EXCEPTION", true),
        14: ("COORDINATOR_LOAD_IN_PROGRESS", true),
        15: ("COORDINATOR_NOT_AVAILABLE", true),
        16: ("NOT_COORDINATOR", true),
        17: ("INVALID_TOPIC", false),
        18: ("RECORD_LIST_TOO_LARGE", false),
        19: ("NOT_ENOUGH_REPLICAS", true),
        20: ("NOT_ENOUGH_REPLICAS_AFTER_APPEND", true),
        21: ("INVALID_REQUIRED_ACKS", false),
        22: ("ILLEGAL_GENERATION", false),
        23: ("INCONSISTENT_GROUP_PROTOCOL", false),
        24: ("INVALID_GROUP_ID", false),
        25: ("UNKNOWN_MEMBER_ID", false),
        26: ("INVALID_SESSION_TIMEOUT", false),
        27: ("REBALANCE_IN_PROGRESS", false),
        28: ("INVALID_COMMIT_OFFSET_SIZE", false),
        29: ("TOPIC_AUTHORIZATION_FAILED", false),
        30: ("GROUP_AUTHORIZATION_FAILED", false),
        31: ("CLUSTER_AUTHORIZATION_FAILED", false),
        32: ("INVALID_TIMESTAMP", false),
        33: ("UNSUPPORTED_SASL_MECHANISM", false),
        34: ("ILLEGAL_SASL_STATE", false),
        35: ("UNSUPPORTED_VERSION", false),
        36: ("TOPIC_ALREADY_EXISTS", false),
        37: ("INVALID_PARTITIONS", false),
        38: ("INVALID_REPLICATION_FACTOR", false),
        39: ("INVALID_REPLICATION_ASSIGNMENT", false),
        40: ("INVALID_CONFIG", false),
        41: ("NOT_CONTROLLER", true),
        42: ("INVALID_REQUEST", false),
        43: ("UNSUPPORTED_FOR_MESSAGE_FORMAT", false),
        44: ("POLICY_VIOLATION", false),
        45: ("OUT_OF_ORDER_SEQUENCE_NUMBER", false),
        46: ("DUPLICATE_SEQUENCE_NUMBER", false),
        47: ("INVALID_PRODUCER_EPOCH", false),
        48: ("INVALID_TXN_STATE", false),
        49: ("INVALID_PRODUCER_ID_MAPPING", false),
        50: ("INVALID_TRANSACTION_TIMEOUT", false),
        51: ("CONCURRENT_TRANSACTIONS", true),
        52: ("TRANSACTION_COORDINATOR_FENCED", false),
        53: ("TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false),
        54: ("SECURITY_DISABLED", false),
        55: ("OPERATION_NOT_ATTEMPTED", false),
        56: ("KAFKA_STORAGE_ERROR", true),
        57: ("LOG_DIR_NOT_FOUND", false),
        58: ("SASL_AUTHENTICATION_FAILED", false),
        59: ("UNKNOWN_PRODUCER_ID", false),
        60: ("REASSIGNMENT_IN_PROGRESS", false),
        61: ("DELEGATION_TOKEN_AUTH_DISABLED", false),
        62: ("DELEGATION_TOKEN_NOT_FOUND", false),
        63: ("DELEGATION_TOKEN_OWNER_MISMATCH", false),
        64: ("DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", false),
        65: ("DELEGATION_TOKEN_AUTHORIZATION_FAILED", false),
        66: ("DELEGATION_TOKEN_EXPIRED", false),
        67: ("INVALID_PRINCIPAL_TYPE", false),
        68: ("NON_EMPTY_GROUP", false),
        69: ("GROUP_ID_NOT_FOUND", false),
        70: ("FETCH_SESSION_ID_NOT_FOUND", true),
        71: ("INVALID_FETCH_SESSION_EPOCH", true),
        72: ("LISTENER_NOT_FOUND", true),
        73: ("TOPIC_DELETION_DISABLED", false),
        74: ("FENCED_LEADER_EPOCH", true),
        75: ("UNKNOWN_LEADER_EPOCH", true),
        76: ("UNSUPPORTED_COMPRESSION_TYPE", false),
        77: ("STALE_BROKER_EPOCH", false),
        78: ("OFFSET_NOT_AVAILABLE", true),
        79: ("MEMBER_ID_REQUIRED", false),
        80: ("PREFERRED_LEADER_NOT_AVAILABLE", true),
        81: ("GROUP_MAX_SIZE_REACHED", false),
        82: ("FENCED_INSTANCE_ID", false),
        83: ("ELIGIBLE_LEADERS_NOT_AVAILABLE", true),
        84: ("ELECTION_NOT_NEEDED", true),
        85: ("NO_REASSIGNMENT_IN_PROGRESS", false),
        86: ("GROUP_SUBSCRIBED_TO_TOPIC", false),
        87: ("INVALID_RECORD", false),
        88: ("UNSTABLE_OFFSET_COMMIT", true),
        89: ("THROTTLING_QUOTA_EXCEEDED", true),
        90: ("PRODUCER_FENCED", false),
        91: ("RESOURCE_NOT_FOUND", false),
        92: ("DUPLICATE_RESOURCE", false),
        93: ("UNACCEPTABLE_CREDENTIAL", false),
        94: ("INCONSISTENT_VOTER_SET", false),
        95: ("INVALID_UPDATE_VERSION", false),
        96: ("FEATURE_UPDATE_FAILED", false),
        97: ("PRINCIPAL_DESERIALIZATION_FAILURE", false),
        98: ("SNAPSHOT_NOT_FOUND", false),
        99: ("POSITION_OUT_OF_RANGE", false),
        100: ("UNKNOWN_TOPIC_ID", true),
        101: ("DUPLICATE_BROKER_REGISTRATION", false),
        102: ("BROKER_ID_NOT_REGISTERED", false),
        103: ("INCONSISTENT_TOPIC_ID", true),
        104: ("INCONSISTENT_CLUSTER_ID", false),
        105: ("TRANSACTIONAL_ID_NOT_FOUND", false),
        106: ("FETCH_SESSION_TOPIC_ID_ERROR", true),
        107: ("INELIGIBLE_REPLICA", false),
        108: ("NEW_LEADER_ELECTED", false),
        109: ("OFFSET_MOVED_TO_TIERED_STORAGE", false),
        110: ("FENCED_MEMBER_EPOCH", false),
        111: ("UNRELEASED_INSTANCE_ID", false),
        112: ("UNSUPPORTED_ASSIGNOR", false),
        113: ("STALE_MEMBER_EPOCH", false),
        114: ("MISMATCHED_ENDPOINT_TYPE", false),
        115: ("UNSUPPORTED_ENDPOINT_TYPE", false),
        116: ("UNKNOWN_CONTROLLER_ID", false),
        117: ("UNKNOWN_SUBSCRIPTION_ID", false),
        118: ("TELEMETRY_TOO_LARGE", false),
        119: ("INVALID_REGISTRATION", false),
        120: ("TRANSACTION_ABORTABLE", false),
        121: ("INVALID_RECORD_STATE", false),
        122: ("SHARE_SESSION_NOT_FOUND", true),
        123: ("INVALID_SHARE_SESSION_EPOCH", true),
        124: ("FENCED_STATE_EPOCH", false),
        125: ("INVALID_VOTER_KEY", false),
        126: ("DUPLICATE_VOTER", false),
        127: ("VOTER_NOT_FOUND", false),
    ]
}
