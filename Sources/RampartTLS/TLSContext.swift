internal import COpenSSL
internal import CRampartOpenSSLShims

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An OpenSSL `SSL_CTX`: certificates, key, trust roots and policy, built once per listener (or
/// client) and shared by all its connections. Immutable after `init`, hence safe to share.
public final class TLSContext: @unchecked Sendable {
    /// The `SSL_CTX*`, owned by this object.
    let handle: OpaquePointer
    /// The configuration this context was built from.
    public let configuration: TLSConfiguration

    /// Builds a context, loading and checking every file the configuration names. Errors name the
    /// file and the problem (missing, not PEM, wrong password, key not matching the certificate).
    public init(configuration: TLSConfiguration) throws {
        let method = configuration.role == .server ? TLS_server_method() : TLS_client_method()
        ERR_clear_error()
        guard let handle = SSL_CTX_new(method) else {
            throw TLSError.fromQueue(.internalFailure, "SSL_CTX_new failed")
        }
        self.handle = handle
        self.configuration = configuration
        try configure()
    }

    deinit {
        SSL_CTX_free(handle)
    }

    private func configure() throws {
        let config = configuration
        guard let minimum = config.enabledProtocols.min(), let maximum = config.enabledProtocols.max() else {
            throw TLSError(kind: .invalidConfiguration, message: "no TLS protocol version is enabled")
        }
        guard rampart_ssl_ctx_set_protocol_range(handle, minimum.openSSLVersion, maximum.openSSLVersion) == 1,
            rampart_ssl_ctx_set_secure_options(handle) == 1
        else {
            throw TLSError.fromQueue(.internalFailure, "cannot set the TLS protocol range and options")
        }
        try loadCertificateAndKey()
        try loadTrustRoots()
        try setCipherSuites(config.cipherSuites)
        SSL_CTX_set_verify(handle, verifyMode, nil)
    }

    private var verifyMode: Int32 {
        switch (configuration.role, configuration.clientAuthentication) {
        case (.client, _): SSL_VERIFY_PEER
        case (.server, .none): SSL_VERIFY_NONE
        case (.server, .requested): SSL_VERIFY_PEER
        case (.server, .required): SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
        }
    }

    private func loadCertificateAndKey() throws {
        let config = configuration
        guard let chainPath = config.certificateChainPath else {
            if config.role == .server {
                throw TLSError(kind: .invalidConfiguration, message: "a TLS server needs a certificate chain and key")
            }
            if config.privateKeyPath != nil {
                throw TLSError(kind: .invalidConfiguration, message: "a private key is set without a certificate")
            }
            return
        }
        guard let keyPath = config.privateKeyPath else {
            throw TLSError(kind: .invalidConfiguration, message: "certificate \(chainPath) is set without a private key")
        }
        try Self.checkReadable(chainPath, what: "certificate chain")
        try Self.checkReadable(keyPath, what: "private key")
        ERR_clear_error()
        guard SSL_CTX_use_certificate_chain_file(handle, chainPath) == 1 else {
            throw TLSError.fromQueue(.invalidFile, "certificate chain \(chainPath): no valid PEM certificate")
        }
        let key = try Self.readPrivateKey(keyPath, password: config.privateKeyPassword)
        defer { EVP_PKEY_free(key) }
        guard SSL_CTX_use_PrivateKey(handle, key) == 1, SSL_CTX_check_private_key(handle) == 1 else {
            throw TLSError.fromQueue(
                .keyMismatch,
                "private key \(keyPath) does not match the certificate in \(chainPath)"
            )
        }
    }

    private static func readPrivateKey(_ path: String, password: TLSConfiguration.KeyPassword?) throws -> OpaquePointer {
        ERR_clear_error()
        guard let bio = BIO_new_file(path, "r") else {
            throw TLSError.fromQueue(.fileNotReadable, "private key \(path): cannot be opened")
        }
        defer { BIO_free(bio) }
        // With no callback OpenSSL takes `u` as the passphrase; an empty one (when none is configured)
        // stops it from prompting on a terminal for an encrypted key.
        let key = (password?.value ?? "").withCString { passphrase in
            PEM_read_bio_PrivateKey(bio, nil, nil, UnsafeMutableRawPointer(mutating: passphrase))
        }
        guard let key else {
            let hint = password == nil ? "no PEM private key, or it is encrypted and no password is set"
                : "no PEM private key, or the password is wrong"
            throw TLSError.fromQueue(.invalidFile, "private key \(path): \(hint)")
        }
        return key
    }

    private func loadTrustRoots() throws {
        let config = configuration
        guard let rootsPath = config.trustRootsPath else {
            if config.role == .client {
                SSL_CTX_set_default_verify_paths(handle)
            } else if config.clientAuthentication != .none {
                throw TLSError(
                    kind: .invalidConfiguration,
                    message: "ssl.client.auth=\(config.clientAuthentication.rawValue) needs a trust store"
                )
            }
            return
        }
        try Self.checkReadable(rootsPath, what: "trust store")
        ERR_clear_error()
        guard SSL_CTX_load_verify_locations(handle, rootsPath, nil) == 1 else {
            throw TLSError.fromQueue(.invalidFile, "trust store \(rootsPath): no valid PEM certificate")
        }
        if config.role == .server && config.clientAuthentication != .none {
            // The CA names sent in CertificateRequest, so clients pick a matching certificate.
            guard let names = SSL_load_client_CA_file(rootsPath) else {
                throw TLSError.fromQueue(.invalidFile, "trust store \(rootsPath): cannot read CA names")
            }
            SSL_CTX_set_client_CA_list(handle, names)
        }
    }

    private func setCipherSuites(_ suites: [String]) throws {
        guard !suites.isEmpty else { return }
        let tls13 = suites.filter { Self.isTLS13Suite($0) }
        let tls12 = suites.filter { !Self.isTLS13Suite($0) }
        ERR_clear_error()
        // An empty list for one version disables that version's suites, as Kafka does when
        // ssl.cipher.suites names only suites of the other version.
        guard SSL_CTX_set_ciphersuites(handle, tls13.joined(separator: ":")) == 1 else {
            throw TLSError.fromQueue(.invalidConfiguration, "ssl.cipher.suites: unknown TLS 1.3 suite in \(tls13)")
        }
        if !tls12.isEmpty, SSL_CTX_set_cipher_list(handle, tls12.joined(separator: ":")) != 1 {
            throw TLSError.fromQueue(.invalidConfiguration, "ssl.cipher.suites: no known TLS 1.2 suite in \(tls12)")
        }
    }

    private static func isTLS13Suite(_ name: String) -> Bool {
        ["TLS_AES_", "TLS_CHACHA20_"].contains { name.hasPrefix($0) }
    }

    private static func checkReadable(_ path: String, what: String) throws {
        if access(path, R_OK) != 0 {
            let reason = errno == ENOENT ? "does not exist" : String(cString: strerror(errno))
            throw TLSError(kind: .fileNotReadable, message: "\(what) \(path): \(reason)")
        }
    }
}

extension TLSConfiguration.ProtocolVersion {
    var openSSLVersion: Int32 {
        switch self {
        case .tlsv1_2: TLS1_2_VERSION
        case .tlsv1_3: TLS1_3_VERSION
        }
    }
}
