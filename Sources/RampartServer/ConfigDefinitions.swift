/// The type of a configuration value, with Kafka's parsing rules.
public enum ConfigType: Sendable, Equatable {
    case boolean
    case int(ClosedRange<Int64>)
    case long(ClosedRange<Int64>)
    case double
    case string
    /// Comma-separated list (whitespace around items trimmed; empty items dropped).
    case list
    /// One of a fixed set of values (case-insensitive, normalised to the listed spelling).
    case choice([String])
    /// A secret: never logged, never returned by DescribeConfigs.
    case password

    /// Kafka's name for the type, as in DescribeConfigs v3+ `ConfigType`.
    public var kafkaTypeCode: Int8 {
        switch self {
        case .boolean: return 1
        case .string, .choice: return 2
        case .int: return 3
        case .long: return 5
        case .double: return 6
        case .list: return 7
        case .password: return 9
        }
    }
}

/// One known configuration key.
public struct ConfigDefinition: Sendable {
    public let name: String
    public let type: ConfigType
    /// The default as Kafka prints it, nil for none.
    public let defaultValue: String?
    public let documentation: String

    public init(_ name: String, _ type: ConfigType, default defaultValue: String?, _ documentation: String) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.documentation = documentation
    }

    public var isSensitive: Bool { type == .password }

    /// Validates and normalises a raw value; throws naming the key.
    public func validate(_ raw: String) throws -> String {
        let value = raw.trimmingCharacters(in: .whitespaces)
        switch type {
        case .boolean:
            switch value.lowercased() {
            case "true": return "true"
            case "false": return "false"
            default: throw ConfigError("\(name): expected true or false, got '\(value)'")
            }
        case .int(let range), .long(let range):
            guard let n = Int64(value) else { throw ConfigError("\(name): expected an integer, got '\(value)'") }
            guard range.contains(n) else {
                throw ConfigError("\(name): \(n) is out of range [\(range.lowerBound), \(range.upperBound)]")
            }
            return String(n)
        case .double:
            guard Double(value) != nil else { throw ConfigError("\(name): expected a number, got '\(value)'") }
            return value
        case .string, .password:
            return raw
        case .list:
            return value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: ",")
        case .choice(let options):
            guard let match = options.first(where: { $0.lowercased() == value.lowercased() }) else {
                throw ConfigError("\(name): '\(value)' is not one of \(options.joined(separator: ", "))")
            }
            return match
        }
    }
}

import Foundation

/// The broker configuration keys Rampart understands, with Kafka's names and defaults.
public enum BrokerConfigKeys {
    static let int32 = Int64(Int32.min)...Int64(Int32.max)
    static let nonNegativeInt = 0...Int64(Int32.max)
    static let positiveInt = 1...Int64(Int32.max)
    static let anyLong = Int64.min...Int64.max
    static let nonNegativeLong = 0...Int64.max

    public static let all: [ConfigDefinition] = [
        .init("node.id", .int(nonNegativeInt), default: "1", "The id of this broker."),
        .init("broker.id", .int(int32), default: nil, "Synonym of node.id (ZooKeeper-era name)."),
        .init("listeners", .list, default: "SASL_SSL://127.0.0.1:9092",
              "Comma-separated NAME://host:port listeners to bind. An empty host binds all interfaces."),
        .init("advertised.listeners", .list, default: nil,
              "Listeners as published to clients in Metadata; defaults to `listeners`."),
        .init("listener.security.protocol.map", .list,
              default: "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
              "Listener name to security protocol."),
        .init("inter.broker.listener.name", .string, default: nil, "Listener used between brokers."),
        .init("log.dirs", .list, default: nil, "Directories holding partition logs; defaults to log.dir."),
        .init("log.dir", .string, default: "./data", "The log directory when log.dirs is not set."),
        .init("num.partitions", .int(positiveInt), default: "1", "Default partition count of auto-created topics."),
        .init("default.replication.factor", .int(positiveInt), default: "1", "Default replication factor."),
        .init("auto.create.topics.enable", .boolean, default: "true", "Create topics on Metadata/Produce for unknown names."),
        .init("delete.topic.enable", .boolean, default: "true", "Allow DeleteTopics."),
        .init("log.retention.ms", .long(anyLong), default: nil, "Retention time; -1 keeps forever. Overrides minutes/hours."),
        .init("log.retention.minutes", .int(int32), default: nil, "Retention time in minutes."),
        .init("log.retention.hours", .int(int32), default: "168", "Retention time in hours."),
        .init("log.retention.bytes", .long(anyLong), default: "-1", "Retention size per partition; -1 unlimited."),
        .init("log.retention.check.interval.ms", .long(1...Int64.max), default: "300000", "How often retention runs."),
        .init("log.segment.bytes", .int(14...Int64(Int32.max)), default: "1073741824", "Segment size."),
        .init("log.roll.ms", .long(1...Int64.max), default: nil, "Segment age before rolling. Overrides hours."),
        .init("log.roll.hours", .int(positiveInt), default: "168", "Segment age before rolling, in hours."),
        .init("log.index.interval.bytes", .int(nonNegativeInt), default: "4096", "Bytes between offset index entries."),
        .init("log.index.size.max.bytes", .int(4...Int64(Int32.max)), default: "10485760", "Maximum index file size."),
        .init("log.flush.interval.messages", .long(1...Int64.max), default: "9223372036854775807", "Messages between forced fsyncs."),
        .init("log.flush.interval.ms", .long(nonNegativeLong), default: nil, "Milliseconds between forced fsyncs."),
        .init("log.cleanup.policy", .list, default: "delete", "delete, compact, or both."),
        .init("log.cleaner.delete.retention.ms", .long(nonNegativeLong), default: "86400000", "How long tombstones are kept."),
        .init("log.cleaner.min.compaction.lag.ms", .long(nonNegativeLong), default: "0", "Minimum age before compaction."),
        .init("log.cleaner.io.max.bytes.per.second", .double, default: "1.7976931348623157E308", "Compaction I/O rate limit."),
        .init("log.message.timestamp.type", .choice(["CreateTime", "LogAppendTime"]), default: "CreateTime", "Timestamp type of appended batches."),
        .init("message.max.bytes", .int(nonNegativeInt), default: "1048588", "Largest record batch accepted."),
        .init("socket.request.max.bytes", .int(positiveInt), default: "104857600", "Largest request frame."),
        .init("connections.max.idle.ms", .long(anyLong), default: "600000", "Idle connections are closed after this."),
        .init("max.connections.per.ip", .int(nonNegativeInt), default: "2147483647", "Connection limit per client address."),
        .init("max.connections", .int(nonNegativeInt), default: "2147483647", "Connection limit of the broker."),
        .init("group.initial.rebalance.delay.ms", .int(nonNegativeInt), default: "3000", "Delay of the first rebalance of an empty group."),
        .init("group.min.session.timeout.ms", .int(nonNegativeInt), default: "6000", "Smallest session timeout a member may ask for."),
        .init("group.max.session.timeout.ms", .int(nonNegativeInt), default: "1800000", "Largest session timeout a member may ask for."),
        .init("offsets.retention.minutes", .int(positiveInt), default: "10080", "How long offsets of an empty group are kept."),
        .init("offsets.topic.num.partitions", .int(positiveInt), default: "50", "Partitions of __consumer_offsets."),
        .init("offsets.topic.replication.factor", .int(1...Int64(Int16.max)), default: "3", "Replication of __consumer_offsets (capped at the live brokers)."),
        .init("transactional.id.expiration.ms", .int(positiveInt), default: "604800000", "Idle transactional ids expire after this."),
        .init("producer.id.expiration.ms", .int(positiveInt), default: "86400000", "Idle producer ids expire after this."),
        // Authorization (Kafka's ACL semantics; Rampart's authorizer is always the one in use).
        .init("super.users", .string, default: nil, "Semicolon-separated principals that bypass ACLs (e.g. User:admin;User:CN=ops), SCRAM user management included."),
        .init("authorizer.class.name", .string, default: nil,
              "Accepted for compatibility; Rampart always uses its own ACL authorizer (switched by rampart.authorizer.enabled)."),
        .init("allow.everyone.if.no.acl.found", .boolean, default: "false",
              "Allow requests on resources no ACL mentions. true is refused unless rampart.insecure.allow.everyone=true."),
        .init("rampart.authorizer.enabled", .boolean, default: "true",
              "Check every request against the ACLs (policy files, dynamic ACLs, super.users). false allows everything."),
        .init("rampart.acl.policy.path", .string, default: nil,
              "A policy file, or a directory of *.yaml/*.yml policy files, declaring ACLs. Watched: valid changes apply within 2 s."),
        .init("rampart.authorizer.mode", .choice(["enforce", "shadow"]), default: "enforce",
              "enforce: denied requests are refused. shadow: they are logged and audited (mode=shadow) but served, for a safe rollout."),
        .init("rampart.audit.log.path", .string, default: nil,
              "The audit log: JSON lines (mode 0600) for every denied request and every allowed ACL change, hash-chained (rampart audit verify)."),
        .init("rampart.acl.policy.reload.interval.ms", .long(0...60_000), default: "500",
              "How often the policy files are checked for changes (a change applies once stable for one interval; 0: only on SIGHUP)."),
        // TLS (SSL and SASL_SSL listeners); each may be set per listener as listener.name.<name>.<key>.
        .init("ssl.keystore.type", .choice(["PEM"]), default: "PEM", "Format of ssl.keystore.location (PEM only)."),
        .init("ssl.keystore.location", .string, default: nil, "PEM file with the private key and the certificate chain."),
        .init("ssl.key.password", .password, default: nil, "Password of an encrypted private key."),
        .init("ssl.truststore.type", .choice(["PEM"]), default: "PEM", "Format of ssl.truststore.location (PEM only)."),
        .init("ssl.truststore.location", .string, default: nil, "PEM file with the CA certificates trusted for client certificates."),
        .init("ssl.client.auth", .choice(["none", "requested", "required"]), default: "none", "Whether clients present certificates."),
        .init("ssl.enabled.protocols", .list, default: "TLSv1.3,TLSv1.2", "TLS versions accepted (TLSv1.2 minimum)."),
        .init("ssl.cipher.suites", .list, default: nil, "Cipher suites (OpenSSL names); empty for OpenSSL's defaults."),
        .init("ssl.principal.mapping.rules", .string, default: "DEFAULT",
              "Rules mapping a client certificate's subject DN to a principal name: RULE:pattern/replacement/[LU], DEFAULT."),
        .init("rampart.ssl.crl.location", .string, default: nil,
              "PEM file of CRLs; client certificates they revoke are refused. Reloaded like the keystore."),
        .init("rampart.ssl.reload.interval.ms", .long(0...Int64.max), default: "10000",
              "How often the keystore, truststore and CRL files are checked for changes (0: only on SIGHUP)."),
        .init("rampart.ssl.handshake.timeout.ms", .long(1...Int64(Int32.max)), default: "10000",
              "Connections that do not complete the TLS handshake in this time are closed."),
        // SASL (SASL_PLAINTEXT and SASL_SSL listeners); sasl.enabled.mechanisms may be set per listener.
        .init("sasl.enabled.mechanisms", .list, default: "SCRAM-SHA-256,SCRAM-SHA-512",
              "SASL mechanisms offered on SASL listeners: SCRAM-SHA-256, SCRAM-SHA-512, PLAIN, OAUTHBEARER, GSSAPI (PLAIN and OAUTHBEARER need TLS). Kafka's default is GSSAPI; Rampart's is SCRAM."),
        .init("connection.failed.authentication.delay.ms", .int(nonNegativeInt), default: "100",
              "Delay before the answer to a failed authentication is sent and the connection closed."),
        .init("connections.max.reauth.ms", .long(0...Int64.max), default: "0",
              "SASL sessions last at most this long (KIP-368): clients re-authenticate in time or their next request closes the connection. 0: off."),
        // OAUTHBEARER (KIP-768 names); each may be set per listener.
        .init("sasl.oauthbearer.jwks.endpoint.url", .string, default: nil,
              "file: URL of the JWKS whose RS256/ES256 keys sign accepted OAUTHBEARER tokens (no network fetch); reloaded when it changes."),
        .init("sasl.oauthbearer.expected.audience", .list, default: nil, "OAUTHBEARER tokens' aud must name one of these (unchecked when empty)."),
        .init("sasl.oauthbearer.expected.issuer", .string, default: nil, "OAUTHBEARER tokens' iss must be this (unchecked when empty)."),
        .init("sasl.oauthbearer.sub.claim.name", .string, default: "sub", "The token claim that names the principal."),
        .init("sasl.oauthbearer.clock.skew.seconds", .int(0...3600), default: "30", "Allowed clock difference for exp and nbf."),
        .init("rampart.insecure.allow.oauthbearer.without.tls", .boolean, default: "false",
              "Allow OAUTHBEARER on SASL_PLAINTEXT listeners (bearer tokens cross the network in clear). Off by default."),
        // GSSAPI (Kerberos through Cyrus).
        .init("sasl.kerberos.service.name", .string, default: nil, "The Kerberos service name of the broker (e.g. kafka); required for GSSAPI."),
        .init("sasl.kerberos.principal.to.local.rules", .string, default: "DEFAULT",
              "Rules mapping Kerberos principals to user names (Kafka's syntax: RULE:[n:format](regex)s/a/b/g/L, DEFAULT), comma-separated."),
        .init("rampart.sasl.kerberos.principal", .string, default: nil, "The broker's Kerberos principal, service/host@REALM (GSSAPI)."),
        .init("rampart.sasl.kerberos.keytab", .string, default: nil, "The keytab holding the broker's Kerberos key (GSSAPI); one per broker."),
        .init("rampart.auth.failure.threshold", .int(nonNegativeInt), default: "20",
              "Failed SASL authentications from one address within rampart.auth.failure.window.ms that start a backoff (0: no backoff)."),
        .init("rampart.auth.failure.window.ms", .long(1...Int64.max), default: "60000",
              "The window failed authentications are counted in for rampart.auth.failure.threshold."),
        .init("rampart.auth.failure.backoff.ms", .long(1...Int64.max), default: "60000",
              "How long an address that reached the threshold has its SASL attempts refused without running the mechanism."),
        // Rampart's own keys.
        .init("rampart.insecure.allow.plaintext", .boolean, default: "false",
              "Allow PLAINTEXT and SASL_PLAINTEXT listeners (unencrypted). Off by default."),
        .init("rampart.insecure.allow.plain.without.tls", .boolean, default: "false",
              "Allow the PLAIN mechanism on SASL_PLAINTEXT listeners (the password crosses the network in clear). Off by default."),
        .init("rampart.insecure.allow.credential.changes.without.tls", .boolean, default: "false",
              "Allow AlterUserScramCredentials on listeners without TLS (the salted password it carries logs a user in). Off by default."),
        .init("rampart.sasl.scram.provider", .choice(["builtin", "cyrus"]), default: "builtin",
              "What serves SCRAM: builtin (Kafka's rules, every client) or cyrus (Cyrus libsasl2; strict RFC 5802 refuses older librdkafka such as Debian 12's 2.0.2 used by kcat)."),
        .init("rampart.insecure.allow.ssl.client.auth.requested", .boolean, default: "false",
              "Allow ssl.client.auth=requested on SSL listeners (clients without a certificate become User:ANONYMOUS)."),
        .init("rampart.insecure.allow.readable.key.file", .boolean, default: "false",
              "Accept an ssl.keystore.location readable by group or others (refused by default)."),
        .init("rampart.insecure.allow.everyone", .boolean, default: "false",
              "Permit allow.everyone.if.no.acl.found=true (every principal may use resources no ACL mentions)."),
        .init("rampart.metrics.listener", .string, default: nil,
              "host:port of the HTTP endpoint serving /metrics (Prometheus) and /health; unset: off. A non-loopback address needs rampart.metrics.token.file."),
        .init("rampart.metrics.token.file", .string, default: nil,
              "File (mode 0600) holding the bearer token every /metrics and /health request must carry."),
        .init("rampart.log.format", .choice(["text", "json"]), default: "text", "Log line format."),
        .init("rampart.log.level", .choice(["trace", "debug", "info", "notice", "warning", "error", "critical"]),
              default: "info", "Log level."),
        .init("rampart.log.level.overrides", .string, default: nil,
              "Per-subsystem levels, e.g. RampartStorage=debug,RampartSASL=warning (a module name or a logger label prefix)."),
        .init("rampart.file.descriptors.reserve", .int(-1...Int64(Int32.max)), default: "-1",
              "File descriptors kept free for connections and the broker's own work: CreateTopics and CreatePartitions are refused (POLICY_VIOLATION) when new partitions would eat into them. -1: a tenth of RLIMIT_NOFILE, at least 64, at most 10000."),
        .init("rampart.flush.on.ack.all", .boolean, default: "true",
              "fsync before acknowledging acks=all produce requests (Rampart's durability default)."),
    ]

    /// Keys Kafka operators commonly set that this build accepts but does not act on yet (single node,
    /// no transactions): start-up names them in a warning rather than pretend.
    public static let notYetEnforced: Set<String> = [
        "inter.broker.listener.name", "log.index.size.max.bytes", "offsets.topic.replication.factor",
        "transactional.id.expiration.ms", "producer.id.expiration.ms",
    ]

    public static let byName: [String: ConfigDefinition] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
}
