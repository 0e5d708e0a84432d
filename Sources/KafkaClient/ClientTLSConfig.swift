import NIOCore
import RampartTLS

/// The client side of `security.protocol=SSL`: trust roots, an optional client certificate (mTLS),
/// host name verification, protocol versions and cipher suites.
///
/// Read from client properties under both librdkafka's and Java's names (see `apply(_:)`); turned into
/// one `TLSContext` per client by `ClientConfig.makeTLSContext()`.
public struct ClientTLSConfig: Sendable, Equatable {
    /// The password of an encrypted private key: RampartTLS's, never printed.
    public typealias Password = TLSConfiguration.KeyPassword

    /// A PEM file of the CA certificates the broker's certificate must chain to (`ssl.ca.location`,
    /// `ssl.truststore.location`); nil uses the system's trust store.
    public var caLocation: String?
    /// A PEM file with the client certificate and its chain, sent when the broker asks for one
    /// (`ssl.certificate.location`, or `ssl.keystore.location` holding key and chain together).
    public var certificateLocation: String?
    /// A PEM file with the client's private key (`ssl.key.location`; the keystore for `ssl.keystore.location`).
    public var keyLocation: String?
    /// The password of an encrypted private key (`ssl.key.password`).
    public var keyPassword: Password?
    /// Whether the broker's certificate must be valid for the host connected to — the bootstrap host
    /// or the host a broker advertises in Metadata (`ssl.endpoint.identification.algorithm=https`).
    public var verifyHostname: Bool
    /// The TLS versions offered (`ssl.enabled.protocols`).
    public var enabledProtocols: Set<TLSConfiguration.ProtocolVersion>
    /// Cipher suites (`ssl.cipher.suites`, OpenSSL names for TLS 1.2); empty for OpenSSL's defaults.
    public var cipherSuites: [String]

    /// Settings with Kafka's defaults: system trust store, no client certificate, host name
    /// verification on, TLS 1.2 and 1.3.
    public init(
        caLocation: String? = nil,
        certificateLocation: String? = nil,
        keyLocation: String? = nil,
        keyPassword: Password? = nil,
        verifyHostname: Bool = true,
        enabledProtocols: Set<TLSConfiguration.ProtocolVersion> = [.tlsv1_2, .tlsv1_3],
        cipherSuites: [String] = []
    ) {
        self.caLocation = caLocation
        self.certificateLocation = certificateLocation
        self.keyLocation = keyLocation
        self.keyPassword = keyPassword
        self.verifyHostname = verifyHostname
        self.enabledProtocols = enabledProtocols
        self.cipherSuites = cipherSuites
    }

    /// The `ssl.*` client properties `apply(_:)` reads.
    public static let propertyKeys: Set<String> = [
        "ssl.ca.location", "ssl.truststore.location", "ssl.truststore.type", "ssl.truststore.password",
        "ssl.certificate.location", "ssl.key.location", "ssl.key.password",
        "ssl.keystore.location", "ssl.keystore.type", "ssl.keystore.password",
        "ssl.endpoint.identification.algorithm", "ssl.enabled.protocols", "ssl.cipher.suites", "ssl.protocol",
        "ssl.truststore.certificates", "ssl.keystore.certificate.chain", "ssl.keystore.key",
    ]

    /// Applies client properties over these settings. Both spellings are read:
    ///
    /// - trust roots: `ssl.ca.location` (librdkafka; `probe` = the system store) or
    ///   `ssl.truststore.location` with `ssl.truststore.type=PEM` (Java);
    /// - client certificate: `ssl.certificate.location` + `ssl.key.location` (librdkafka) or
    ///   `ssl.keystore.location` with `ssl.keystore.type=PEM`, key and chain in one file (Java);
    ///   `ssl.key.password` for an encrypted key;
    /// - `ssl.endpoint.identification.algorithm`: `https` (default) verifies the host name, empty or
    ///   `none` does not; `ssl.enabled.protocols`; `ssl.cipher.suites`; `ssl.protocol` is accepted.
    ///
    /// Conflicting or unsupported settings (a JKS store, a certificate without its key, inline PEM
    /// values) are errors naming the key.
    public mutating func apply(_ properties: [String: String]) throws {
        func value(_ key: String) -> String? { properties[key]?.trimmingWhitespace() }
        for key in ["ssl.truststore.certificates", "ssl.keystore.certificate.chain", "ssl.keystore.key"]
        where properties[key] != nil {
            throw KafkaClientError.configuration(
                "\(key): inline PEM values are not supported by the rampart client; put the PEM in a file and use "
                    + (key == "ssl.truststore.certificates" ? "ssl.truststore.location" : "ssl.keystore.location"))
        }
        try Self.requirePEM(properties, store: "truststore")
        try Self.requirePEM(properties, store: "keystore")
        if properties["ssl.truststore.password"] != nil {
            throw KafkaClientError.configuration(
                "ssl.truststore.password: a PEM trust store has no password; remove the setting")
        }
        if properties["ssl.keystore.password"] != nil {
            throw KafkaClientError.configuration(
                "ssl.keystore.password: not used for a PEM key store; an encrypted key's password is ssl.key.password")
        }

        let ca = value("ssl.ca.location")
        let truststore = value("ssl.truststore.location")
        if let ca, let truststore, ca != truststore {
            throw KafkaClientError.configuration(
                "ssl.ca.location (\(ca)) and ssl.truststore.location (\(truststore)) name different files; set one")
        }
        if let location = ca ?? truststore {
            caLocation = location.isEmpty || location == "probe" ? nil : location
        }

        let certificate = value("ssl.certificate.location")
        let key = value("ssl.key.location")
        if let keystore = value("ssl.keystore.location") {
            if certificate != nil || key != nil {
                throw KafkaClientError.configuration(
                    "ssl.keystore.location cannot be combined with ssl.certificate.location/ssl.key.location; set one or the other")
            }
            certificateLocation = keystore
            keyLocation = keystore
        } else if certificate != nil || key != nil {
            guard let certificate, let key else {
                let (set, missing) = certificate == nil ? ("ssl.key.location", "ssl.certificate.location")
                    : ("ssl.certificate.location", "ssl.key.location")
                throw KafkaClientError.configuration("\(set) is set without \(missing); a client certificate needs both")
            }
            certificateLocation = certificate
            keyLocation = key
        }
        if let password = properties["ssl.key.password"] { keyPassword = Password(password) }

        if let algorithm = value("ssl.endpoint.identification.algorithm") {
            switch algorithm.lowercased() {
            case "https": verifyHostname = true
            case "", "none": verifyHostname = false
            default:
                throw KafkaClientError.configuration(
                    "ssl.endpoint.identification.algorithm: '\(algorithm)' is not https, none or empty")
            }
        }
        if let protocols = properties["ssl.enabled.protocols"] {
            do {
                enabledProtocols = try TLSConfiguration.parseProtocols(protocols)
            } catch let error as TLSError {
                throw KafkaClientError.configuration(error.message)
            }
        }
        if let suites = properties["ssl.cipher.suites"] {
            cipherSuites = TLSConfiguration.parseCipherSuites(suites)
        }
    }

    private static func requirePEM(_ properties: [String: String], store: String) throws {
        let key = "ssl.\(store).type"
        guard let type = properties[key]?.trimmingWhitespace(), type.uppercased() != "PEM" else { return }
        throw KafkaClientError.configuration(
            "\(key): '\(type)' is not supported by the rampart client (only PEM)")
    }

    /// The `RampartTLS` client configuration; host names are given per connection.
    public func tlsConfiguration(handshakeTimeout: TimeAmount) -> TLSConfiguration {
        TLSConfiguration(
            role: .client,
            certificateChainPath: certificateLocation,
            privateKeyPath: keyLocation,
            privateKeyPassword: keyPassword,
            trustRootsPath: caLocation,
            enabledProtocols: enabledProtocols,
            cipherSuites: cipherSuites,
            hostnameToVerify: nil,
            handshakeTimeout: handshakeTimeout
        )
    }
}

extension ClientConfig {
    /// The TLS context this client's connections share: nil for PLAINTEXT and SASL_PLAINTEXT. Loads and
    /// checks the files `tls` names; errors say which file and what is wrong. The TLS handshake must
    /// finish within `connectTimeoutMs` (Kafka's connection set-up covers the handshake).
    public func makeTLSContext() throws -> TLSContext? {
        guard securityProtocol.usesTLS else { return nil }
        do {
            return try TLSContext(configuration: tls.tlsConfiguration(handshakeTimeout: .milliseconds(Int64(connectTimeoutMs))))
        } catch let error as TLSError {
            throw KafkaClientError.configuration("security.protocol=\(securityProtocol.rawValue): \(error)")
        }
    }
}
