internal import COpenSSL
internal import CRampartOpenSSLShims

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// One final class per OpenSSL handle, freed in deinit (STYLE 8). Internal: C types never leak.

/// An `EVP_PKEY` holding a private key.
final class PrivateKey {
    let handle: OpaquePointer

    init(taking handle: OpaquePointer) { self.handle = handle }

    deinit { EVP_PKEY_free(handle) }

    /// A fresh key of `type` from OpenSSL's default (system-seeded) random generator.
    static func generate(_ type: KeyType) throws -> PrivateKey {
        ERR_clear_error()
        let algorithm = type == .ecP256 ? "EC" : "RSA"
        guard let context = EVP_PKEY_CTX_new_from_name(nil, algorithm, nil) else {
            throw CertificateError.fromQueue(.internalFailure, "cannot create a \(algorithm) key context")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1 else {
            throw CertificateError.fromQueue(.internalFailure, "cannot initialise \(type) key generation")
        }
        switch type {
        case .ecP256:
            guard EVP_PKEY_CTX_set_group_name(context, "P-256") == 1 else {
                throw CertificateError.fromQueue(.internalFailure, "cannot select the curve P-256")
            }
        case .rsa(let bits):
            guard EVP_PKEY_CTX_set_rsa_keygen_bits(context, Int32(bits)) == 1 else {
                throw CertificateError.fromQueue(.internalFailure, "cannot set the RSA key size \(bits)")
            }
        }
        var key: OpaquePointer?
        guard EVP_PKEY_generate(context, &key) == 1, let key else {
            throw CertificateError.fromQueue(.internalFailure, "cannot generate a \(type) key")
        }
        return PrivateKey(taking: key)
    }

    /// Reads the first PEM private key in `path` (PKCS#8, encrypted or not, or a traditional key).
    static func load(_ path: String, password: TLSConfiguration.KeyPassword?, passwordHint: String) throws -> PrivateKey {
        var pem = try SecureFile.read(path)
        defer { wipe(&pem) }
        let bio = try MemoryBIO(reading: pem)
        ERR_clear_error()
        // With no callback OpenSSL takes `u` as the passphrase; an empty one stops it from prompting.
        let key = (password?.value ?? "").withCString { passphrase in
            PEM_read_bio_PrivateKey(bio.handle, nil, nil, UnsafeMutableRawPointer(mutating: passphrase))
        }
        guard let key else {
            let reason = password == nil
                ? "no PEM private key, or it is encrypted and no password was given (\(passwordHint))"
                : "no PEM private key, or the password is wrong"
            throw CertificateError.fromQueue(.invalidFile, "private key \(path): \(reason)")
        }
        return PrivateKey(taking: key)
    }

    /// The key as PKCS#8 PEM; encrypted with AES-256-CBC (PBES2, PBKDF2) when a password is given.
    func pem(password: TLSConfiguration.KeyPassword?) throws -> [UInt8] {
        let bio = try MemoryBIO(secure: true)
        ERR_clear_error()
        let written: Int32
        if let password {
            written = password.value.withCString { passphrase in
                PEM_write_bio_PKCS8PrivateKey(
                    bio.handle, handle, EVP_aes_256_cbc(), passphrase, Int32(strlen(passphrase)), nil, nil)
            }
        } else {
            written = PEM_write_bio_PrivateKey(bio.handle, handle, nil, nil, 0, nil, nil)
        }
        guard written == 1 else { throw CertificateError.fromQueue(.internalFailure, "cannot encode the private key") }
        return bio.contents()
    }

    /// The key's algorithm and size.
    var keyType: KeyType? {
        switch EVP_PKEY_get_base_id(handle) {
        case EVP_PKEY_EC where EVP_PKEY_get_bits(handle) == 256: .ecP256
        case EVP_PKEY_RSA: .rsa(bits: Int(EVP_PKEY_get_bits(handle)))
        default: nil
        }
    }
}

/// An `X509` certificate.
final class X509Certificate {
    let handle: OpaquePointer

    init(taking handle: OpaquePointer) { self.handle = handle }

    deinit { X509_free(handle) }

    /// Every certificate in a PEM file, in order; errors name the file.
    static func loadAll(_ path: String) throws -> [X509Certificate] {
        let certificates = try parseAll(try SecureFile.read(path))
        guard !certificates.isEmpty else {
            throw CertificateError.fromQueue(.invalidFile, "\(path): no PEM certificate")
        }
        return certificates
    }

    /// Every certificate in PEM bytes (other PEM blocks, such as a key, are skipped).
    static func parseAll(_ pem: [UInt8]) throws -> [X509Certificate] {
        let bio = try MemoryBIO(reading: pem)
        var result: [X509Certificate] = []
        ERR_clear_error()
        while let certificate = PEM_read_bio_X509(bio.handle, nil, nil, nil) {
            result.append(X509Certificate(taking: certificate))
        }
        ERR_clear_error()  // the end of input is reported as an error
        return result
    }

    /// The certificate as PEM.
    func pem() throws -> [UInt8] {
        let bio = try MemoryBIO(secure: false)
        guard PEM_write_bio_X509(bio.handle, handle) == 1 else {
            throw CertificateError.fromQueue(.internalFailure, "cannot encode a certificate")
        }
        return bio.contents()
    }

    /// The serial number in upper-case hex, as `openssl x509 -serial` prints it.
    var serial: String { hexString(X509_get_serialNumber(handle)) }
    /// The subject DN in RFC 2253 form.
    var subject: String { rfc2253(X509_get_subject_name(handle)) }
    /// The issuer DN in RFC 2253 form.
    var issuer: String { rfc2253(X509_get_issuer_name(handle)) }
    var notBefore: Date { date(X509_get0_notBefore(handle)) }
    var notAfter: Date { date(X509_get0_notAfter(handle)) }
    var isCA: Bool { X509_check_ca(handle) > 0 }

    /// Whether `key` is the private key of this certificate.
    func matches(_ key: PrivateKey) -> Bool {
        let result = X509_check_private_key(handle, key.handle) == 1
        ERR_clear_error()
        return result
    }

    /// Whether `issuer`'s key signed this certificate.
    func isSigned(by issuer: X509Certificate) -> Bool {
        guard let key = X509_get0_pubkey(issuer.handle) else { return false }
        let result = X509_verify(handle, key) == 1
        ERR_clear_error()
        return result
    }

    /// DNS names and IP addresses of the subjectAltName extension, in order.
    var subjectAlternativeNames: [SubjectAlternativeName] {
        guard let raw = X509_get_ext_d2i(handle, NID_subject_alt_name, nil, nil) else { return [] }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        var result: [SubjectAlternativeName] = []
        for index in 0..<OPENSSL_sk_num(names) {
            guard let entry = OPENSSL_sk_value(names, index)?.assumingMemoryBound(to: GENERAL_NAME.self) else { continue }
            switch entry.pointee.type {
            case GEN_DNS:
                result.append(.dns(asn1String(entry.pointee.d.dNSName)))
            case GEN_IPADD:
                let bytes = asn1Bytes(entry.pointee.d.iPAddress)
                if let text = SubjectAlternativeName.formatIPAddress(bytes) { result.append(.ipAddress(text)) }
            default:
                continue
            }
        }
        return result
    }

    /// The extendedKeyUsage purposes Rampart issues.
    var extendedKeyUsages: Set<ExtendedKeyUsage> {
        let flags = X509_get_extended_key_usage(handle)
        var result: Set<ExtendedKeyUsage> = []
        // UINT32_MAX means the extension is absent: any purpose.
        guard flags != UInt32.max else { return result }
        if flags & UInt32(XKU_SSL_SERVER) != 0 { result.insert(.serverAuth) }
        if flags & UInt32(XKU_SSL_CLIENT) != 0 { result.insert(.clientAuth) }
        return result
    }

    /// The public key's type.
    var keyType: KeyType? {
        guard let key = X509_get0_pubkey(handle) else { return nil }
        switch EVP_PKEY_get_base_id(key) {
        case EVP_PKEY_EC where EVP_PKEY_get_bits(key) == 256: return .ecP256
        case EVP_PKEY_RSA: return .rsa(bits: Int(EVP_PKEY_get_bits(key)))
        default: return nil
        }
    }
}

/// An `X509_CRL`.
final class X509RevocationList {
    let handle: OpaquePointer

    init(taking handle: OpaquePointer) { self.handle = handle }

    deinit { X509_CRL_free(handle) }

    static func load(_ path: String) throws -> X509RevocationList {
        let bio = try MemoryBIO(reading: try SecureFile.read(path))
        ERR_clear_error()
        guard let crl = PEM_read_bio_X509_CRL(bio.handle, nil, nil, nil) else {
            throw CertificateError.fromQueue(.invalidFile, "\(path): no PEM certificate revocation list")
        }
        return X509RevocationList(taking: crl)
    }

    func pem() throws -> [UInt8] {
        let bio = try MemoryBIO(secure: false)
        guard PEM_write_bio_X509_CRL(bio.handle, handle) == 1 else {
            throw CertificateError.fromQueue(.internalFailure, "cannot encode the CRL")
        }
        return bio.contents()
    }
}

/// A memory `BIO`; `secure` ones clear their buffer when freed (for key material).
final class MemoryBIO {
    let handle: OpaquePointer

    init(secure: Bool) throws {
        guard let bio = BIO_new(secure ? BIO_s_secmem() : BIO_s_mem()) else {
            throw CertificateError.fromQueue(.internalFailure, "BIO_new failed")
        }
        handle = bio
    }

    /// A read-only BIO over a copy of `bytes` (cleared when freed).
    convenience init(reading bytes: [UInt8]) throws {
        try self.init(secure: true)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { BIO_write(handle, $0.baseAddress! + offset, Int32(clamping: $0.count - offset)) }
            guard written > 0 else { throw CertificateError.fromQueue(.internalFailure, "BIO_write failed") }
            offset += Int(written)
        }
    }

    deinit { BIO_free(handle) }

    /// Everything written to the BIO and not yet read.
    func contents() -> [UInt8] {
        let pending = BIO_ctrl_pending(handle)
        var bytes = [UInt8](repeating: 0, count: pending)
        let read = bytes.withUnsafeMutableBytes { BIO_read(handle, $0.baseAddress, Int32(clamping: pending)) }
        return Array(bytes.prefix(Int(max(read, 0))))
    }
}

// MARK: - Conversions

/// Overwrites a buffer that held key material (best effort: Swift may have copied it before).
func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { raw in
        if let base = raw.baseAddress { OPENSSL_cleanse(base, raw.count) }
    }
}

func rfc2253(_ name: OpaquePointer?) -> String {
    guard let name, let text = rampart_x509_name_rfc2253(name) else { return "" }
    defer { free(text) }
    return String(cString: text)
}

/// An ASN.1 INTEGER as upper-case hex without leading zero bytes (BN_bn2hex).
func hexString(_ integer: UnsafePointer<ASN1_INTEGER>?) -> String {
    guard let integer, let bignum = ASN1_INTEGER_to_BN(integer, nil) else { return "" }
    defer { BN_free(bignum) }
    guard let hex = BN_bn2hex(bignum) else { return "" }
    defer { rampart_openssl_free(hex) }
    return String(cString: hex)
}

func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date {
    var parts = tm()
    guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else { return Date(timeIntervalSince1970: 0) }
    return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
}

/// A newly allocated ASN1_TIME for `date` (UTCTime until 2049, GeneralizedTime after, as RFC 5280 asks).
func asn1Time(_ date: Date) throws -> UnsafeMutablePointer<ASN1_TIME> {
    guard let time = ASN1_TIME_set(nil, time_t(date.timeIntervalSince1970.rounded(.down))) else {
        throw CertificateError.fromQueue(.internalFailure, "cannot encode the time \(date)")
    }
    return time
}

private func asn1String(_ string: UnsafePointer<ASN1_STRING>?) -> String {
    String(decoding: asn1Bytes(string), as: UTF8.self)
}

private func asn1Bytes(_ string: UnsafePointer<ASN1_STRING>?) -> [UInt8] {
    guard let string, let data = ASN1_STRING_get0_data(string) else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))))
}
