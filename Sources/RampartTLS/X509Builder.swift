internal import COpenSSL
internal import CRampartOpenSSLShims

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Builds and signs X.509 v3 certificates and v2 CRLs with OpenSSL (SHA-256 signatures).
enum X509Builder {
    /// What to put in a certificate besides subject, key and issuer.
    struct Profile {
        var serial: [UInt8]
        var notBefore: Date
        var notAfter: Date
        /// Extensions as OpenSSL's configuration syntax, by NID, in order.
        var extensions: [(nid: Int32, value: String)]
    }

    /// A random positive serial of 128 bits (RFC 5280 allows up to 20 octets; CAs use ≥ 64 random bits).
    static func randomSerial() throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 16)
        while bytes.allSatisfy({ $0 == 0 }) {
            guard rampart_random_bytes(&bytes, Int32(bytes.count)) == 1 else {
                throw CertificateError.fromQueue(.internalFailure, "no random bytes for a serial number")
            }
        }
        return bytes
    }

    /// The hex form of a serial, as `X509Certificate.serial` would print it.
    static func serialString(_ serial: [UInt8]) -> String {
        let digits = serial.drop { $0 == 0 }.map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
        return digits.isEmpty ? "00" : digits
    }

    /// The extensions of a CA certificate.
    static func authorityExtensions() -> [(nid: Int32, value: String)] {
        [
            (NID_basic_constraints, "critical,CA:TRUE"),
            (NID_key_usage, "critical,keyCertSign,cRLSign"),
            (NID_subject_key_identifier, "hash"),
            (NID_authority_key_identifier, "keyid:always"),
        ]
    }

    /// The extensions of an end-entity certificate. RSA keys also get keyEncipherment (TLS 1.2 RSA
    /// key exchange); EC keys only sign.
    static func leafExtensions(
        usages: Set<ExtendedKeyUsage>, names: [SubjectAlternativeName], keyType: KeyType
    ) -> [(nid: Int32, value: String)] {
        var result: [(nid: Int32, value: String)] = [
            (NID_basic_constraints, "critical,CA:FALSE"),
            (NID_key_usage, keyType == .ecP256 ? "critical,digitalSignature" : "critical,digitalSignature,keyEncipherment"),
            (NID_ext_key_usage, usages.sorted().map(\.rawValue).joined(separator: ",")),
            (NID_subject_key_identifier, "hash"),
            (NID_authority_key_identifier, "keyid:always"),
        ]
        // Safe to join: SubjectAlternativeName only holds validated names (no ',' or ':' in DNS
        // names) and canonical addresses.
        if !names.isEmpty {
            result.append((NID_subject_alt_name, names.map(\.description).joined(separator: ",")))
        }
        return result
    }

    /// A certificate for `subject` holding `publicKey`'s public half, signed by `signingKey`;
    /// `issuer` nil means self-signed.
    static func certificate(
        subject: SubjectName, publicKey: PrivateKey, profile: Profile,
        issuer: X509Certificate?, signingKey: PrivateKey
    ) throws -> X509Certificate {
        ERR_clear_error()
        guard let handle = X509_new() else { throw CertificateError.fromQueue(.internalFailure, "X509_new failed") }
        let certificate = X509Certificate(taking: handle)
        guard X509_set_version(handle, Int(X509_VERSION_3)) == 1 else {
            throw CertificateError.fromQueue(.internalFailure, "cannot set the certificate version")
        }
        try setSerial(handle, profile.serial)
        let name = try x509Name(subject)
        defer { X509_NAME_free(name) }
        let notBefore = try asn1Time(profile.notBefore)
        defer { ASN1_TIME_free(notBefore) }
        let notAfter = try asn1Time(profile.notAfter)
        defer { ASN1_TIME_free(notAfter) }
        guard X509_set_subject_name(handle, name) == 1,
            X509_set_issuer_name(handle, issuer.map { X509_get_subject_name($0.handle) } ?? name) == 1,
            X509_set1_notBefore(handle, notBefore) == 1, X509_set1_notAfter(handle, notAfter) == 1,
            X509_set_pubkey(handle, publicKey.handle) == 1
        else {
            throw CertificateError.fromQueue(.internalFailure, "cannot fill in the certificate for \(subject.commonName)")
        }
        for (nid, value) in profile.extensions {
            var context = X509V3_CTX()
            X509V3_set_ctx(&context, issuer?.handle ?? handle, handle, nil, nil, 0)
            guard let ext = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
                throw CertificateError.fromQueue(.internalFailure, "cannot build the extension \(String(cString: OBJ_nid2sn(nid))) = \(value)")
            }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(handle, ext, -1) == 1 else {
                throw CertificateError.fromQueue(.internalFailure, "cannot add the extension \(String(cString: OBJ_nid2sn(nid)))")
            }
        }
        guard X509_sign(handle, signingKey.handle, EVP_sha256()) > 0 else {
            throw CertificateError.fromQueue(.internalFailure, "cannot sign the certificate for \(subject.commonName)")
        }
        return certificate
    }

    /// One revoked certificate in a CRL.
    struct RevokedEntry {
        var serial: String
        var revokedAt: Date
        var reason: RevocationReason
    }

    /// A v2 CRL of `revoked`, numbered `number`, signed by the CA.
    static func revocationList(
        authority: X509Certificate, key: PrivateKey, number: Int, thisUpdate: Date, nextUpdate: Date,
        revoked: [RevokedEntry]
    ) throws -> X509RevocationList {
        ERR_clear_error()
        guard let handle = X509_CRL_new() else { throw CertificateError.fromQueue(.internalFailure, "X509_CRL_new failed") }
        let crl = X509RevocationList(taking: handle)
        let last = try asn1Time(thisUpdate)
        defer { ASN1_TIME_free(last) }
        let next = try asn1Time(nextUpdate)
        defer { ASN1_TIME_free(next) }
        guard X509_CRL_set_version(handle, Int(X509_CRL_VERSION_2)) == 1,
            X509_CRL_set_issuer_name(handle, X509_get_subject_name(authority.handle)) == 1,
            X509_CRL_set1_lastUpdate(handle, last) == 1, X509_CRL_set1_nextUpdate(handle, next) == 1
        else {
            throw CertificateError.fromQueue(.internalFailure, "cannot fill in the CRL")
        }
        for entry in revoked {
            try addRevoked(entry, to: handle)
        }
        _ = X509_CRL_sort(handle)

        var context = X509V3_CTX()
        X509V3_set_ctx(&context, authority.handle, nil, nil, handle, 0)
        guard let akid = X509V3_EXT_conf_nid(nil, &context, NID_authority_key_identifier, "keyid:always") else {
            throw CertificateError.fromQueue(.internalFailure, "cannot build the CRL's authorityKeyIdentifier")
        }
        defer { X509_EXTENSION_free(akid) }
        guard let crlNumber = ASN1_INTEGER_new() else { throw CertificateError.fromQueue(.internalFailure, "ASN1_INTEGER_new failed") }
        defer { ASN1_INTEGER_free(crlNumber) }
        guard X509_CRL_add_ext(handle, akid, -1) == 1, ASN1_INTEGER_set_int64(crlNumber, Int64(number)) == 1,
            X509_CRL_add1_ext_i2d(handle, NID_crl_number, crlNumber, 0, 0) == 1
        else {
            throw CertificateError.fromQueue(.internalFailure, "cannot add the CRL extensions")
        }
        guard X509_CRL_sign(handle, key.handle, EVP_sha256()) > 0 else {
            throw CertificateError.fromQueue(.internalFailure, "cannot sign the CRL")
        }
        return crl
    }

    private static func addRevoked(_ entry: RevokedEntry, to crl: OpaquePointer) throws {
        guard let revoked = X509_REVOKED_new() else { throw CertificateError.fromQueue(.internalFailure, "X509_REVOKED_new failed") }
        var added = false
        defer { if !added { X509_REVOKED_free(revoked) } }
        let serial = try asn1Integer(hex: entry.serial)
        defer { ASN1_INTEGER_free(serial) }
        let date = try asn1Time(entry.revokedAt)
        defer { ASN1_TIME_free(date) }
        guard X509_REVOKED_set_serialNumber(revoked, serial) == 1, X509_REVOKED_set_revocationDate(revoked, date) == 1 else {
            throw CertificateError.fromQueue(.internalFailure, "cannot add serial \(entry.serial) to the CRL")
        }
        // RFC 5280 5.3.1: the reason code unspecified SHOULD be absent.
        if entry.reason != .unspecified {
            guard let reason = ASN1_ENUMERATED_new() else { throw CertificateError.fromQueue(.internalFailure, "ASN1_ENUMERATED_new failed") }
            defer { ASN1_ENUMERATED_free(reason) }
            guard ASN1_ENUMERATED_set(reason, entry.reason.code) == 1,
                X509_REVOKED_add1_ext_i2d(revoked, NID_crl_reason, reason, 0, 0) == 1
            else {
                throw CertificateError.fromQueue(.internalFailure, "cannot set the revocation reason of \(entry.serial)")
            }
        }
        guard X509_CRL_add0_revoked(crl, revoked) == 1 else {
            throw CertificateError.fromQueue(.internalFailure, "cannot add serial \(entry.serial) to the CRL")
        }
        added = true
    }

    private static func setSerial(_ certificate: OpaquePointer, _ serial: [UInt8]) throws {
        guard let bignum = BN_bin2bn(serial, Int32(serial.count), nil) else {
            throw CertificateError.fromQueue(.internalFailure, "BN_bin2bn failed")
        }
        defer { BN_free(bignum) }
        guard let integer = BN_to_ASN1_INTEGER(bignum, nil) else {
            throw CertificateError.fromQueue(.internalFailure, "BN_to_ASN1_INTEGER failed")
        }
        defer { ASN1_INTEGER_free(integer) }
        guard X509_set_serialNumber(certificate, integer) == 1 else {
            throw CertificateError.fromQueue(.internalFailure, "cannot set the serial number")
        }
    }

    private static func asn1Integer(hex: String) throws -> UnsafeMutablePointer<ASN1_INTEGER> {
        var bignum: OpaquePointer?
        guard BN_hex2bn(&bignum, hex) > 0, let bignum else {
            throw CertificateError.fromQueue(.invalidArgument, "serial \(hex) is not hex")
        }
        defer { BN_free(bignum) }
        guard let integer = BN_to_ASN1_INTEGER(bignum, nil) else {
            throw CertificateError.fromQueue(.internalFailure, "BN_to_ASN1_INTEGER failed")
        }
        return integer
    }

    private static func x509Name(_ subject: SubjectName) throws -> OpaquePointer {
        guard let name = X509_NAME_new() else { throw CertificateError.fromQueue(.internalFailure, "X509_NAME_new failed") }
        for (field, value) in subject.attributes {
            let added = value.withCString { text in
                text.withMemoryRebound(to: UInt8.self, capacity: value.utf8.count) { bytes in
                    X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, bytes, -1, -1, 0)
                }
            }
            guard added == 1 else {
                X509_NAME_free(name)
                throw CertificateError.fromQueue(.invalidArgument, "cannot put \(field)=\(value) in a certificate subject")
            }
        }
        return name
    }
}
