internal import COpenSSL
internal import CRampartOpenSSLShims
import Foundation

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
    /// The own (leaf) certificate, when the configuration has one.
    public private(set) var certificate: CertificateSummary?

    /// Builds a context, loading and checking every file the configuration names. Errors name the
    /// file and the problem (missing, not PEM, wrong password, key not matching the certificate).
    /// `now` is the time validity periods are checked against (the current time by default).
    public init(configuration: TLSConfiguration, now: Date = Date()) throws {
        let method = configuration.role == .server ? TLS_server_method() : TLS_client_method()
        ERR_clear_error()
        guard let handle = SSL_CTX_new(method) else {
            throw TLSError.fromQueue(.internalFailure, "SSL_CTX_new failed")
        }
        self.handle = handle
        self.configuration = configuration
        try configure(now: now)
    }

    deinit {
        SSL_CTX_free(handle)
    }

    private func configure(now: Date) throws {
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
        try checkOwnCertificate(now: now)
        try loadTrustRoots()
        try loadRevocationLists(now: now)
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

    /// A server refuses an own certificate that is expired or not valid yet: clients would refuse it
    /// anyway, and the operator learns it at start-up (or reload) rather than from every client. (A
    /// client leaves that verdict to the server.)
    private func checkOwnCertificate(now: Date) throws {
        guard let leaf = SSL_CTX_get0_certificate(handle), let path = configuration.certificateChainPath else { return }
        let summary = try CertificateSummary(leaf, file: path)
        certificate = summary
        guard configuration.role == .server else { return }
        if summary.notAfter < now {
            throw TLSError(kind: .certificateNotValid, message: "certificate \(path) (\(summary.subject)) expired on \(summary.notAfter.iso8601)")
        }
        if summary.notBefore > now {
            throw TLSError(kind: .certificateNotValid, message: "certificate \(path) (\(summary.subject)) is not valid before \(summary.notBefore.iso8601)")
        }
    }

    /// Loads every CRL of `crlPath` into the verification store and turns on revocation checks of the
    /// peer's (leaf) certificate.
    private func loadRevocationLists(now: Date) throws {
        guard let path = configuration.crlPath else { return }
        try Self.checkReadable(path, what: "CRL file")
        guard configuration.trustRootsPath != nil else {
            throw TLSError(kind: .invalidConfiguration, message: "CRL file \(path) is set without a trust store to check it against")
        }
        ERR_clear_error()
        guard let bio = BIO_new_file(path, "r") else {
            throw TLSError.fromQueue(.fileNotReadable, "CRL file \(path): cannot be opened")
        }
        defer { BIO_free(bio) }
        guard let store = SSL_CTX_get_cert_store(handle) else {
            throw TLSError.fromQueue(.internalFailure, "no certificate store")
        }
        var count = 0
        while let crl = PEM_read_bio_X509_CRL(bio, nil, nil, nil) {
            defer { X509_CRL_free(crl) }
            var nextUpdate: Int64 = 0
            if rampart_x509_crl_next_update(crl, &nextUpdate) == 1,
               Date(timeIntervalSince1970: TimeInterval(nextUpdate)) < now {
                // OpenSSL would refuse every client certificate of this CA ("CRL has expired").
                throw TLSError(kind: .certificateNotValid, message: "CRL file \(path): a CRL is past its nextUpdate (\(Date(timeIntervalSince1970: TimeInterval(nextUpdate)).iso8601)); publish a new one")
            }
            guard X509_STORE_add_crl(store, crl) == 1 else {
                throw TLSError.fromQueue(.invalidFile, "CRL file \(path): cannot add CRL")
            }
            count += 1
        }
        // The loop ends on "no start line" at the end of the file; anything else is a broken CRL.
        let errors = drainOpenSSLErrors()
        guard count > 0 else {
            throw TLSError(kind: .invalidFile, message: "CRL file \(path): no valid PEM CRL", openSSLErrors: errors)
        }
        if errors.contains(where: { !$0.contains("no start line") }) {
            throw TLSError(kind: .invalidFile, message: "CRL file \(path): a CRL cannot be read", openSSLErrors: errors)
        }
        X509_STORE_set_flags(store, UInt(X509_V_FLAG_CRL_CHECK))
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

    /// The TLS 1.3 suites when `ssl.cipher.suites` is not set: OpenSSL's three, AES-128-GCM first. With
    /// server preference on, clients that offer it (all do) get AES-128-GCM rather than OpenSSL's first
    /// choice AES-256-GCM: 128-bit AES-GCM is what TLS 1.3 makes mandatory (RFC 8446 §9.1) and costs
    /// about a fifth less CPU per record (`openssl speed -evp`, 1.8 KB records, as librdkafka writes).
    static let defaultTLS13Suites = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]

    private func setCipherSuites(_ suites: [String]) throws {
        guard !suites.isEmpty else {
            ERR_clear_error()
            guard SSL_CTX_set_ciphersuites(handle, Self.defaultTLS13Suites.joined(separator: ":")) == 1 else {
                throw TLSError.fromQueue(.internalFailure, "cannot set the default TLS 1.3 suites")
            }
            return
        }
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

/// What an operator needs to know about a certificate: whose it is and how long it is valid.
public struct CertificateSummary: Sendable, Equatable {
    /// The subject DN in RFC 2253 form.
    public var subject: String
    /// Start of the validity period.
    public var notBefore: Date
    /// End of the validity period.
    public var notAfter: Date

    init(_ cert: OpaquePointer, file: String) throws {
        var start: Int64 = 0, end: Int64 = 0
        guard rampart_x509_validity(cert, &start, &end) == 1 else {
            throw TLSError.fromQueue(.invalidFile, "certificate \(file): cannot read its validity period")
        }
        notBefore = Date(timeIntervalSince1970: TimeInterval(start))
        notAfter = Date(timeIntervalSince1970: TimeInterval(end))
        if let raw = rampart_x509_name_rfc2253(X509_get_subject_name(cert)) {
            subject = String(cString: raw)
            free(raw)
        } else {
            subject = "?"
        }
    }

    /// Whole days from `now` until the certificate expires (negative once expired).
    public func daysUntilExpiry(now: Date = Date()) -> Int {
        Int((notAfter.timeIntervalSince(now) / 86_400).rounded(.down))
    }
}

extension Date {
    /// `2026-11-25T22:15:39Z`.
    var iso8601: String { ISO8601DateFormatter().string(from: self) }
}
