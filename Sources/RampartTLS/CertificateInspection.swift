internal import COpenSSL
internal import CRampartOpenSSLShims

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a certificate says, read with OpenSSL: for `rampart cert list`, start-up checks and tests.
public struct CertificateInfo: Sendable, Equatable {
    /// Serial number, upper-case hex.
    public var serial: String
    /// Subject DN, RFC 2253 (`CN=alice,OU=eng,O=Example`).
    public var subject: String
    /// Issuer DN, RFC 2253.
    public var issuer: String
    /// Start of validity.
    public var notBefore: Date
    /// End of validity.
    public var notAfter: Date
    /// DNS names and IP addresses of subjectAltName.
    public var subjectAlternativeNames: [SubjectAlternativeName]
    /// serverAuth/clientAuth from extendedKeyUsage (empty when the extension is absent).
    public var extendedKeyUsages: Set<ExtendedKeyUsage>
    /// Whether basicConstraints says CA:TRUE.
    public var isCertificateAuthority: Bool
    /// The public key's type, when it is one Rampart generates.
    public var keyType: KeyType?

    init(_ certificate: X509Certificate) {
        serial = certificate.serial
        subject = certificate.subject
        issuer = certificate.issuer
        notBefore = certificate.notBefore
        notAfter = certificate.notAfter
        subjectAlternativeNames = certificate.subjectAlternativeNames
        extendedKeyUsages = certificate.extendedKeyUsages
        isCertificateAuthority = certificate.isCA
        keyType = certificate.keyType
    }

    /// Every certificate in the PEM file at `path`, in order (a key in the same file is skipped).
    public static func load(_ path: String) throws -> [CertificateInfo] {
        try X509Certificate.loadAll(path).map(CertificateInfo.init)
    }
}

/// What a CRL says: issuer, number, dates and the revoked serials.
public struct RevocationList: Sendable, Equatable {
    /// One revoked certificate.
    public struct Entry: Sendable, Equatable {
        /// Serial number, upper-case hex.
        public var serial: String
        /// When it was revoked.
        public var revokedAt: Date
        /// The CRLReason (`unspecified` when the entry has none).
        public var reason: RevocationReason
    }

    /// Issuer DN, RFC 2253.
    public var issuer: String
    /// The crlNumber extension, or nil if absent.
    public var number: Int?
    /// thisUpdate.
    public var lastUpdate: Date
    /// nextUpdate, or nil if absent.
    public var nextUpdate: Date?
    /// The revoked certificates, by serial.
    public var revoked: [Entry]

    /// Whether `serial` (hex, any form `normalizedSerial` accepts) is listed.
    public func contains(serial: String) -> Bool {
        guard let normalized = normalizedSerial(serial) else { return false }
        return revoked.contains { $0.serial == normalized }
    }

    init(_ crl: X509RevocationList) {
        let handle = crl.handle
        issuer = rfc2253(X509_CRL_get_issuer(handle))
        lastUpdate = date(X509_CRL_get0_lastUpdate(handle))
        nextUpdate = X509_CRL_get0_nextUpdate(handle).map { date($0) }
        number = nil
        if let raw = X509_CRL_get_ext_d2i(handle, NID_crl_number, nil, nil) {
            let integer = raw.assumingMemoryBound(to: ASN1_INTEGER.self)
            var value: Int64 = 0
            if ASN1_INTEGER_get_int64(&value, integer) == 1 { number = Int(value) }
            ASN1_INTEGER_free(integer)
        }
        ERR_clear_error()
        var entries: [Entry] = []
        if let stack = X509_CRL_get_REVOKED(handle) {
            for index in 0..<OPENSSL_sk_num(stack) {
                guard let raw = OPENSSL_sk_value(stack, index) else { continue }
                let revoked = OpaquePointer(raw)
                var reason = RevocationReason.unspecified
                if let rawReason = X509_REVOKED_get_ext_d2i(revoked, NID_crl_reason, nil, nil) {
                    let enumerated = rawReason.assumingMemoryBound(to: ASN1_ENUMERATED.self)
                    reason = RevocationReason(code: ASN1_ENUMERATED_get(enumerated)) ?? .unspecified
                    ASN1_ENUMERATED_free(enumerated)
                }
                entries.append(Entry(
                    serial: hexString(X509_REVOKED_get0_serialNumber(revoked)),
                    revokedAt: date(X509_REVOKED_get0_revocationDate(revoked)), reason: reason
                ))
            }
        }
        revoked = entries
    }

    /// Reads the PEM CRL at `path`. With `authorityCertificatePath`, also checks that the CRL was
    /// signed by that CA (and names it if not).
    public static func load(_ path: String, verifiedBy authorityCertificatePath: String? = nil) throws -> RevocationList {
        let crl = try X509RevocationList.load(path)
        if let authorityCertificatePath {
            guard let authority = try X509Certificate.loadAll(authorityCertificatePath).first,
                let key = X509_get0_pubkey(authority.handle)
            else {
                throw CertificateError(kind: .invalidFile, message: "\(authorityCertificatePath): no public key")
            }
            guard X509_CRL_verify(crl.handle, key) == 1 else {
                throw CertificateError.fromQueue(.invalidFile, "\(path) is not signed by the CA in \(authorityCertificatePath)")
            }
        }
        return RevocationList(crl)
    }
}

/// Verifies a certificate chain the way a TLS peer would, with OpenSSL's `X509_verify_cert`.
public enum CertificateVerifier {
    /// The TLS role a certificate is checked for (its extendedKeyUsage must allow it).
    public enum Purpose: Sendable {
        /// A TLS server certificate.
        case server
        /// A TLS client certificate.
        case client
    }

    /// Verifies the first certificate of `certificatePath` (later certificates in the file are
    /// untrusted intermediates) against the CA certificates in `trustRootsPath`; optionally against
    /// the CRL in `revocationListPath` (which must be current), a host name or IP address, a purpose,
    /// and at a given time (default now). Throws `.verificationFailed` naming OpenSSL's reason.
    public static func verify(
        certificatePath: String, trustRootsPath: String, revocationListPath: String? = nil,
        hostname: String? = nil, purpose: Purpose? = nil, at time: Date? = nil
    ) throws {
        let chain = try X509Certificate.loadAll(certificatePath)
        let roots = try X509Certificate.loadAll(trustRootsPath)
        let crl = try revocationListPath.map(X509RevocationList.load)
        ERR_clear_error()
        guard let store = X509_STORE_new() else { throw CertificateError.fromQueue(.internalFailure, "X509_STORE_new failed") }
        defer { X509_STORE_free(store) }
        for root in roots where X509_STORE_add_cert(store, root.handle) != 1 {
            throw CertificateError.fromQueue(.internalFailure, "cannot add a certificate of \(trustRootsPath) to the trust store")
        }
        if let crl {
            guard X509_STORE_add_crl(store, crl.handle) == 1 else {
                throw CertificateError.fromQueue(.internalFailure, "cannot add the CRL \(revocationListPath ?? "")")
            }
            _ = X509_STORE_set_flags(store, UInt(X509_V_FLAG_CRL_CHECK))
        }
        guard let untrusted = OPENSSL_sk_new_null() else { throw CertificateError.fromQueue(.internalFailure, "sk_new failed") }
        defer { OPENSSL_sk_free(untrusted) }
        for intermediate in chain.dropFirst() { _ = OPENSSL_sk_push(untrusted, UnsafeRawPointer(intermediate.handle)) }
        guard let context = X509_STORE_CTX_new() else { throw CertificateError.fromQueue(.internalFailure, "X509_STORE_CTX_new failed") }
        defer { X509_STORE_CTX_free(context) }
        guard X509_STORE_CTX_init(context, store, chain[0].handle, untrusted) == 1 else {
            throw CertificateError.fromQueue(.internalFailure, "X509_STORE_CTX_init failed")
        }
        let parameters = X509_STORE_CTX_get0_param(context)
        if let purpose {
            _ = X509_STORE_CTX_set_purpose(context, purpose == .server ? X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT)
        }
        if let hostname {
            let set = SubjectAlternativeName.canonicalIPAddress(hostname) != nil
                ? X509_VERIFY_PARAM_set1_ip_asc(parameters, hostname) : X509_VERIFY_PARAM_set1_host(parameters, hostname, 0)
            guard set == 1 else { throw CertificateError.fromQueue(.invalidArgument, "cannot verify the host name '\(hostname)'") }
        }
        if let time { X509_VERIFY_PARAM_set_time(parameters, time_t(time.timeIntervalSince1970)) }
        guard X509_verify_cert(context) == 1 else {
            let reason = String(cString: X509_verify_cert_error_string(Int(X509_STORE_CTX_get_error(context))))
            throw CertificateError.fromQueue(.verificationFailed, "\(certificatePath) (\(chain[0].subject)): \(reason)")
        }
        ERR_clear_error()
    }
}
