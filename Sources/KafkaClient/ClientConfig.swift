/// Where and how the client connects: bootstrap servers, client id, timeouts and the security
/// protocol. Build one directly, or from a Java properties file with `ClientConfig(properties:)`.
public struct ClientConfig: Sendable, Equatable {
    /// How the client talks to brokers (Kafka's `security.protocol`).
    public enum SecurityProtocol: String, Sendable, Equatable, CaseIterable {
        case plaintext = "PLAINTEXT"
        case ssl = "SSL"
        case saslPlaintext = "SASL_PLAINTEXT"
        case saslSSL = "SASL_SSL"

        /// Whether connections run through TLS (SSL, SASL_SSL).
        public var usesTLS: Bool { self == .ssl || self == .saslSSL }
        /// Whether connections authenticate with SASL (SASL_PLAINTEXT, SASL_SSL).
        public var usesSASL: Bool { self == .saslPlaintext || self == .saslSSL }
    }

    /// `host:port` pairs tried in order to learn the cluster.
    public var bootstrapServers: [BrokerAddress]
    /// Sent in every request header (`client.id`).
    public var clientId: String
    /// How long to wait for an answer to a request (`request.timeout.ms`).
    public var requestTimeoutMs: Int
    /// How long to wait for a TCP connection (`socket.connection.setup.timeout.ms`).
    public var connectTimeoutMs: Int
    /// The security protocol.
    public var securityProtocol: SecurityProtocol
    /// TLS settings, used when `securityProtocol` is SSL or SASL_SSL.
    public var tls: ClientTLSConfig
    /// SASL mechanism and credentials, used when `securityProtocol` is SASL_PLAINTEXT or SASL_SSL.
    public var sasl: ClientSASLConfig
    /// Retries of retriable errors (`retries`), e.g. a leader that is not available yet.
    public var retries: Int
    /// Pause between retries (`retry.backoff.ms`).
    public var retryBackoffMs: Int
    /// The largest response frame accepted from a broker.
    public var maxResponseSize: Int
    /// Every property as read from the file, for the producer and consumer settings in it — except
    /// secrets (`sasl.password`, `sasl.jaas.config`, `ssl.key.password`), which live only in `sasl`
    /// and `tls`, redacted when printed.
    public var properties: [String: String]

    /// A configuration with Kafka's defaults for everything not given.
    public init(
        bootstrapServers: [BrokerAddress] = [BrokerAddress(host: "127.0.0.1", port: 9092)],
        clientId: String = "rampart",
        requestTimeoutMs: Int = 30_000,
        connectTimeoutMs: Int = 10_000,
        securityProtocol: SecurityProtocol = .plaintext,
        tls: ClientTLSConfig = ClientTLSConfig(),
        sasl: ClientSASLConfig = ClientSASLConfig(),
        retries: Int = 5,
        retryBackoffMs: Int = 100,
        maxResponseSize: Int = 104_857_600,
        properties: [String: String] = [:]
    ) {
        self.bootstrapServers = bootstrapServers
        self.clientId = clientId
        self.requestTimeoutMs = requestTimeoutMs
        self.connectTimeoutMs = connectTimeoutMs
        self.securityProtocol = securityProtocol
        self.tls = tls
        self.sasl = sasl
        self.retries = retries
        self.retryBackoffMs = retryBackoffMs
        self.maxResponseSize = maxResponseSize
        self.properties = properties
    }

    /// Client properties this client knows: connection, TLS and SASL keys it uses, plus the producer and
    /// consumer keys Kafka's tools accept in `--command-config`. Any other key is an error naming it.
    public static let knownKeys: Set<String> = Set<String>([
        "bootstrap.servers", "client.id", "request.timeout.ms", "socket.connection.setup.timeout.ms",
        "socket.connection.setup.timeout.max.ms", "security.protocol", "retries", "retry.backoff.ms",
        "retry.backoff.max.ms", "connections.max.idle.ms", "metadata.max.age.ms", "default.api.timeout.ms",
        "client.dns.lookup", "receive.buffer.bytes", "send.buffer.bytes", "reconnect.backoff.ms",
        "reconnect.backoff.max.ms",
        // producer
        "acks", "compression.type", "linger.ms", "batch.size", "enable.idempotence", "max.request.size",
        "delivery.timeout.ms", "max.in.flight.requests.per.connection", "partitioner.class", "buffer.memory",
        "max.block.ms",
        // consumer
        "group.id", "group.instance.id", "auto.offset.reset", "enable.auto.commit", "auto.commit.interval.ms",
        "session.timeout.ms", "heartbeat.interval.ms", "max.poll.records", "max.poll.interval.ms",
        "fetch.min.bytes", "fetch.max.bytes", "fetch.max.wait.ms", "max.partition.fetch.bytes",
        "isolation.level", "client.rack", "partition.assignment.strategy", "exclude.internal.topics",
        "allow.auto.create.topics",
    ]).union(ClientTLSConfig.propertyKeys).union(ClientSASLConfig.propertyKeys)

    /// Builds a configuration from client properties (Kafka's names), on top of `base`.
    ///
    /// Unknown keys, bad numbers and bad `ssl.*` or `sasl.*` settings are errors naming the key. The
    /// `ssl.*` and `sasl.*` keys are read whatever the protocol (as `tls` and `sasl`); a SASL protocol
    /// without a mechanism or credentials fails when connecting.
    public init(properties: [String: String], base: ClientConfig = ClientConfig()) throws {
        self = base
        for key in properties.keys.sorted() where !Self.knownKeys.contains(key) {
            throw KafkaClientError.configuration("unknown client property '\(key)'")
        }
        self.properties = base.properties.merging(properties) { $1 }.filter { !Self.secretKeys.contains($0.key) }
        if let value = properties["security.protocol"] {
            guard let parsed = SecurityProtocol(rawValue: value.trimmingWhitespace().uppercased()) else {
                throw KafkaClientError.configuration(
                    "security.protocol: '\(value)' is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL")
            }
            securityProtocol = parsed
        }
        try tls.apply(properties)
        try sasl.apply(properties)
        if let servers = properties["bootstrap.servers"] {
            bootstrapServers = try BrokerAddress.parseList(servers, key: "bootstrap.servers")
        }
        if let id = properties["client.id"] { clientId = id }
        requestTimeoutMs = try Self.int(properties, "request.timeout.ms", min: 1) ?? requestTimeoutMs
        connectTimeoutMs = try Self.int(properties, "socket.connection.setup.timeout.ms", min: 1) ?? connectTimeoutMs
        retries = try Self.int(properties, "retries", min: 0) ?? retries
        retryBackoffMs = try Self.int(properties, "retry.backoff.ms", min: 0) ?? retryBackoffMs
    }

    /// Properties never kept in `properties`.
    static let secretKeys: Set<String> = ClientSASLConfig.secretKeys.union(["ssl.key.password"])

    /// Reads an integer property, or nil when absent; an error names the key and the bad value.
    public static func int(_ properties: [String: String], _ key: String, min: Int = Int.min) throws -> Int? {
        guard let raw = properties[key] else { return nil }
        guard let value = Int(raw.trimmingWhitespace()), value >= min else {
            throw KafkaClientError.configuration("\(key): '\(raw)' is not an integer ≥ \(min)")
        }
        return value
    }

    /// Reads a boolean property (`true`/`false`), or nil when absent.
    public static func bool(_ properties: [String: String], _ key: String) throws -> Bool? {
        guard let raw = properties[key] else { return nil }
        switch raw.trimmingWhitespace().lowercased() {
        case "true": return true
        case "false": return false
        default: throw KafkaClientError.configuration("\(key): '\(raw)' is not true or false")
        }
    }
}

/// A broker's `host:port`.
public struct BrokerAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses `host:port` (IPv6 as `[::1]:9092`). `key` names the setting in errors.
    public static func parse(_ text: String, key: String = "bootstrap server") throws -> BrokerAddress {
        let trimmed = text.trimmingWhitespace()
        let host: Substring
        let portText: Substring
        if trimmed.hasPrefix("["), let close = trimmed.firstIndex(of: "]") {
            host = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
            let rest = trimmed[trimmed.index(after: close)...]
            guard rest.hasPrefix(":") else { throw KafkaClientError.configuration("\(key): '\(text)' is not host:port") }
            portText = rest.dropFirst()
        } else if let colon = trimmed.lastIndex(of: ":") {
            host = trimmed[..<colon]
            portText = trimmed[trimmed.index(after: colon)...]
        } else {
            throw KafkaClientError.configuration("\(key): '\(text)' is not host:port")
        }
        guard !host.isEmpty, let port = Int(portText), (1...65535).contains(port) else {
            throw KafkaClientError.configuration("\(key): '\(text)' is not host:port with a port in 1-65535")
        }
        return BrokerAddress(host: String(host), port: port)
    }

    /// Parses a comma-separated list of `host:port`.
    public static func parseList(_ text: String, key: String = "bootstrap servers") throws -> [BrokerAddress] {
        let parts = text.split(separator: ",").map { String($0) }.filter { !$0.trimmingWhitespace().isEmpty }
        guard !parts.isEmpty else { throw KafkaClientError.configuration("\(key): no host:port given") }
        return try parts.map { try parse($0, key: key) }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view.removeFirst() }
        while let last = view.last, last.isWhitespace { view.removeLast() }
        return String(view)
    }
}
