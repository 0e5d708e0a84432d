import Foundation
import RampartAuthorizer
import RampartProperties

/// Kafka's security protocols.
public enum SecurityProtocol: String, Sendable, CaseIterable {
    case plaintext = "PLAINTEXT"
    case ssl = "SSL"
    case saslPlaintext = "SASL_PLAINTEXT"
    case saslSSL = "SASL_SSL"

    /// Whether bytes on this listener are encrypted.
    public var isEncrypted: Bool { self == .ssl || self == .saslSSL }
    /// Whether clients authenticate with SASL on this listener.
    public var usesSASL: Bool { self == .saslPlaintext || self == .saslSSL }
}

/// One `NAME://host:port` listener.
public struct ListenerConfig: Sendable, Equatable {
    public var name: String
    /// Empty means all interfaces.
    public var host: String
    public var port: Int
    public var securityProtocol: SecurityProtocol

    public init(name: String, host: String, port: Int, securityProtocol: SecurityProtocol) {
        self.name = name
        self.host = host
        self.port = port
        self.securityProtocol = securityProtocol
    }
}

/// The validated broker configuration. Every value comes from a known key (see `BrokerConfigKeys`);
/// unknown keys and bad values are errors naming the key.
public struct BrokerConfig: Sendable {
    /// Values explicitly set in the file, normalised.
    public let explicit: [String: String]

    public init(properties: [String: String]) throws {
        var errors: [String] = []
        var values: [String: String] = [:]
        for (key, raw) in properties.sorted(by: { $0.key < $1.key }) {
            guard let definition = Self.definition(for: key) else {
                errors.append("unknown config key '\(key)'\(Self.suggestion(for: key))")
                continue
            }
            do {
                values[key] = try definition.validate(raw)
            } catch let error as ConfigError {
                errors.append(error.message)
            }
        }
        self.explicit = values
        guard errors.isEmpty else { throw ConfigError(errors.joined(separator: "\n")) }
        try validateCrossKeyRules()
    }

    /// Loads and validates a `server.properties` file.
    public static func load(path: String) throws -> BrokerConfig {
        let file: PropertiesFile
        do {
            file = try PropertiesFile.load(path: path)
        } catch let error as PropertiesError {
            throw ConfigError(error.message)
        }
        do {
            return try BrokerConfig(properties: file.dictionary)
        } catch let error as ConfigError {
            throw ConfigError("\(path): \(error.message)")
        }
    }

    /// The definition of a key. Per-listener keys `listener.name.<name>.<key>` resolve to `<key>`.
    public static func definition(for key: String) -> ConfigDefinition? {
        if let d = BrokerConfigKeys.byName[key] { return d }
        if key.hasPrefix("listener.name.") {
            let rest = key.dropFirst("listener.name.".count)
            if let dot = rest.firstIndex(of: "."), let d = BrokerConfigKeys.byName[String(rest[rest.index(after: dot)...])],
               listenerOverridable.contains(d.name) {
                return d
            }
        }
        return nil
    }

    /// Keys that may be overridden per listener. Extended by the TLS and SASL keys.
    static let listenerOverridable: Set<String> = [
        "ssl.keystore.type", "ssl.keystore.location", "ssl.key.password", "ssl.truststore.type",
        "ssl.truststore.location", "ssl.client.auth", "ssl.enabled.protocols", "ssl.cipher.suites",
        "ssl.principal.mapping.rules", "rampart.ssl.crl.location", "rampart.ssl.handshake.timeout.ms",
        "sasl.enabled.mechanisms", "connections.max.reauth.ms",
        "sasl.oauthbearer.jwks.endpoint.url", "sasl.oauthbearer.expected.audience", "sasl.oauthbearer.expected.issuer",
        "sasl.oauthbearer.sub.claim.name", "sasl.oauthbearer.clock.skew.seconds",
        "sasl.kerberos.service.name", "sasl.kerberos.principal.to.local.rules", "rampart.sasl.kerberos.principal",
    ]

    /// A listener-scoped value: `listener.name.<listener, lowercased>.<key>`, else `<key>`, else the default.
    public func listenerValue(_ key: String, listener: String) -> String? {
        explicit["listener.name.\(listener.lowercased()).\(key)"] ?? string(key)
    }

    private static func suggestion(for key: String) -> String {
        let best = BrokerConfigKeys.all.map { ($0.name, editDistance($0.name, key)) }.min { $0.1 < $1.1 }
        if let best, best.1 <= max(2, key.count / 5) { return " (did you mean '\(best.0)'?)" }
        return ""
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }

    // MARK: - Typed access

    /// The value in force: explicit, else the default.
    public func string(_ key: String) -> String? {
        explicit[key] ?? BrokerConfigKeys.byName[key]?.defaultValue
    }

    public func bool(_ key: String) -> Bool { string(key) == "true" }
    public func int64(_ key: String) -> Int64? { string(key).flatMap { Int64($0) } }
    public func int(_ key: String) -> Int? { string(key).flatMap { Int($0) } }
    public func list(_ key: String) -> [String] {
        string(key).map { $0.split(separator: ",").map(String.init) } ?? []
    }

    public var nodeID: Int32 { Int32(explicit["broker.id"].flatMap { Int32($0) } ?? Int32(int("node.id")!)) }
    public var logDirs: [String] {
        let dirs = list("log.dirs")
        return dirs.isEmpty ? [string("log.dir")!] : dirs
    }
    public var numPartitions: Int32 { Int32(int("num.partitions")!) }
    public var defaultReplicationFactor: Int16 { Int16(clamping: int("default.replication.factor")!) }
    public var autoCreateTopics: Bool { bool("auto.create.topics.enable") }
    public var allowInsecurePlaintext: Bool { bool("rampart.insecure.allow.plaintext") }
    public var messageMaxBytes: Int { int("message.max.bytes")! }
    public var socketRequestMaxBytes: Int { int("socket.request.max.bytes")! }
    public var connectionsMaxIdleMs: Int64 { int64("connections.max.idle.ms")! }
    public var maxConnectionsPerIP: Int { int("max.connections.per.ip")! }
    public var groupInitialRebalanceDelayMs: Int64 { int64("group.initial.rebalance.delay.ms")! }
    public var offsetsRetentionMinutes: Int64 { int64("offsets.retention.minutes")! }

    /// Retention in ms: log.retention.ms, else minutes, else hours (Kafka's precedence).
    public var logRetentionMs: Int64 {
        if let ms = int64("log.retention.ms") { return ms }
        if let minutes = explicit["log.retention.minutes"].flatMap({ Int64($0) }) { return minutes * 60_000 }
        return int64("log.retention.hours")! * 3_600_000
    }

    /// Segment roll time in ms: log.roll.ms, else hours.
    public var logRollMs: Int64 {
        if let ms = int64("log.roll.ms") { return ms }
        return int64("log.roll.hours")! * 3_600_000
    }

    /// The listener name → security protocol map.
    public var securityProtocolMap: [String: SecurityProtocol] {
        var map: [String: SecurityProtocol] = [:]
        for item in list("listener.security.protocol.map") {
            let parts = item.split(separator: ":", maxSplits: 1).map(String.init)
            if parts.count == 2, let p = SecurityProtocol(rawValue: parts[1].uppercased()) { map[parts[0].uppercased()] = p }
        }
        return map
    }

    public var listeners: [ListenerConfig] { (try? Self.parseListeners(list("listeners"), map: securityProtocolMap, key: "listeners")) ?? [] }

    public var advertisedListeners: [ListenerConfig] {
        let raw = list("advertised.listeners")
        if raw.isEmpty { return listeners }
        return (try? Self.parseListeners(raw, map: securityProtocolMap, key: "advertised.listeners")) ?? []
    }

    static func parseListeners(_ items: [String], map: [String: SecurityProtocol], key: String) throws -> [ListenerConfig] {
        var result: [ListenerConfig] = []
        for item in items {
            guard let schemeEnd = item.range(of: "://") else {
                throw ConfigError("\(key): '\(item)' is not of the form NAME://host:port")
            }
            let name = item[..<schemeEnd.lowerBound].uppercased()
            let address = item[schemeEnd.upperBound...]
            // [v6]:port, host:port or :port
            let host: String
            let portText: Substring
            if address.hasPrefix("[") {
                guard let close = address.firstIndex(of: "]"), address[address.index(after: close)...].hasPrefix(":") else {
                    throw ConfigError("\(key): '\(item)' has a malformed IPv6 address")
                }
                host = String(address[address.index(after: address.startIndex)..<close])
                portText = address[address.index(close, offsetBy: 2)...]
            } else {
                guard let colon = address.lastIndex(of: ":") else { throw ConfigError("\(key): '\(item)' has no port") }
                host = String(address[..<colon])
                portText = address[address.index(after: colon)...]
            }
            guard let port = Int(portText), (0...65535).contains(port) else {
                throw ConfigError("\(key): '\(item)' has an invalid port '\(portText)'")
            }
            guard let proto = map[name] else {
                throw ConfigError("\(key): listener name '\(name)' is not in listener.security.protocol.map")
            }
            guard !result.contains(where: { $0.name == name }) else {
                throw ConfigError("\(key): listener name '\(name)' appears twice")
            }
            result.append(ListenerConfig(name: name, host: host, port: port, securityProtocol: proto))
        }
        return result
    }

    private func validateCrossKeyRules() throws {
        var errors: [String] = []
        for item in list("listener.security.protocol.map") {
            let parts = item.split(separator: ":", maxSplits: 1).map(String.init)
            if parts.count != 2 || SecurityProtocol(rawValue: parts[1].uppercased()) == nil {
                errors.append("listener.security.protocol.map: '\(item)' is not NAME:PROTOCOL with PROTOCOL one of \(SecurityProtocol.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        var parsed: [ListenerConfig] = []
        do {
            parsed = try Self.parseListeners(list("listeners"), map: securityProtocolMap, key: "listeners")
            if parsed.isEmpty { errors.append("listeners: at least one listener is required") }
        } catch let error as ConfigError { errors.append(error.message) }
        if explicit["advertised.listeners"] != nil {
            do {
                let advertised = try Self.parseListeners(list("advertised.listeners"), map: securityProtocolMap, key: "advertised.listeners")
                for listener in advertised where !parsed.contains(where: { $0.name == listener.name }) {
                    errors.append("advertised.listeners: listener '\(listener.name)' is not in listeners")
                }
                for listener in advertised where listener.host.isEmpty || listener.host == "0.0.0.0" {
                    errors.append("advertised.listeners: '\(listener.name)' must name a host clients can reach, not '\(listener.host)'")
                }
            } catch let error as ConfigError { errors.append(error.message) }
        }
        for listener in parsed where !listener.securityProtocol.isEncrypted && !allowInsecurePlaintext {
            errors.append("listeners: '\(listener.name)' uses \(listener.securityProtocol.rawValue), which is unencrypted; set rampart.insecure.allow.plaintext=true to allow it")
        }
        for policy in list("log.cleanup.policy") where policy != "delete" && policy != "compact" {
            errors.append("log.cleanup.policy: '\(policy)' is not delete or compact")
        }
        if let users = explicit["super.users"] {
            do {
                _ = try AuthorizerConfig.parseSuperUsers(users)
            } catch {
                errors.append(error.message)
            }
        }
        if bool("allow.everyone.if.no.acl.found") && !bool("rampart.insecure.allow.everyone") {
            errors.append("allow.everyone.if.no.acl.found=true lets every principal use any resource no ACL mentions; set rampart.insecure.allow.everyone=true to allow it")
        }
        if let id = explicit["broker.id"], let node = explicit["node.id"], id != node {
            errors.append("broker.id (\(id)) and node.id (\(node)) disagree")
        }
        if !errors.isEmpty { throw ConfigError(errors.joined(separator: "\n")) }
    }
}

/// A configuration error: names the file or key and what was wrong.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
