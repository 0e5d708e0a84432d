#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The algorithm and size of a generated key.
public enum KeyType: Sendable, Hashable, CustomStringConvertible {
    /// ECDSA on NIST P-256 (prime256v1): the default, small and fast.
    case ecP256
    /// RSA with a modulus of `bits` (2048, 3072 or 4096).
    case rsa(bits: Int)

    /// The RSA sizes `rsa(bits:)` accepts.
    public static let rsaSizes = [2048, 3072, 4096]

    /// `ec` (P-256) or `rsa`, with `rsaBits` for RSA (default 3072). Errors name the bad value.
    public init(name: String, rsaBits: Int? = nil) throws {
        switch name.lowercased() {
        case "ec", "ecdsa", "p-256", "p256":
            guard rsaBits == nil else { throw CertificateError.invalidArgument("--key-size applies to RSA keys only") }
            self = .ecP256
        case "rsa":
            let bits = rsaBits ?? 3072
            guard Self.rsaSizes.contains(bits) else {
                throw CertificateError.invalidArgument("--key-size \(bits): RSA keys are 2048, 3072 or 4096 bits")
            }
            self = .rsa(bits: bits)
        default:
            throw CertificateError.invalidArgument("--key-type \(name): expected ec or rsa")
        }
    }

    /// `EC P-256` or `RSA 3072`.
    public var description: String {
        switch self {
        case .ecP256: "EC P-256"
        case .rsa(let bits): "RSA \(bits)"
        }
    }
}

/// The extendedKeyUsage purposes of an issued certificate.
public enum ExtendedKeyUsage: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// TLS server (a broker listener).
    case serverAuth
    /// TLS client (mTLS; a broker talking to another broker also needs this).
    case clientAuth

    /// Orders `serverAuth` before `clientAuth`.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Why a certificate was revoked (RFC 5280 CRLReason; `unspecified` is written as no reason).
public enum RevocationReason: String, Sendable, Hashable, Codable, CaseIterable {
    /// No reason given.
    case unspecified
    /// The private key leaked.
    case keyCompromise
    /// The CA's key leaked.
    case caCompromise = "cACompromise"
    /// The subject's name or affiliation changed.
    case affiliationChanged
    /// A new certificate replaces it.
    case superseded
    /// The certificate is no longer needed.
    case cessationOfOperation
    /// The subject lost the privileges the certificate granted.
    case privilegeWithdrawn

    /// The CRLReason code.
    public var code: Int {
        switch self {
        case .unspecified: 0
        case .keyCompromise: 1
        case .caCompromise: 2
        case .affiliationChanged: 3
        case .superseded: 4
        case .cessationOfOperation: 5
        case .privilegeWithdrawn: 9
        }
    }

    /// The reason with CRLReason `code`, or nil for codes Rampart does not issue.
    public init?(code: Int) {
        guard let reason = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = reason
    }
}

/// The subject DN of a certificate to create: `CN=alice,OU=eng,O=Example` is
/// `SubjectName(commonName: "alice", organizationalUnits: ["eng"], organization: "Example")`.
public struct SubjectName: Sendable, Hashable {
    /// CN, 1–64 characters.
    public var commonName: String
    /// OU values, most specific first (as RFC 2253 prints them), each 1–64 characters.
    public var organizationalUnits: [String]
    /// O, 1–64 characters.
    public var organization: String?

    /// A subject name.
    public init(commonName: String, organizationalUnits: [String] = [], organization: String? = nil) {
        self.commonName = commonName
        self.organizationalUnits = organizationalUnits
        self.organization = organization
    }

    /// The attributes in ASN.1 order (O first, CN last), which RFC 2253 prints reversed.
    var attributes: [(field: String, value: String)] {
        var result: [(String, String)] = []
        if let organization { result.append(("O", organization)) }
        for unit in organizationalUnits.reversed() { result.append(("OU", unit)) }
        result.append(("CN", commonName))
        return result
    }

    func validate() throws {
        let options = ["CN": "--cn", "OU": "--ou", "O": "--o"]
        for (field, value) in attributes {
            let option = options[field] ?? field
            guard !value.isEmpty else { throw CertificateError.invalidArgument("\(option) is empty") }
            guard value.count <= 64 else {
                throw CertificateError.invalidArgument("\(option) '\(value)' is longer than 64 characters")
            }
            guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw CertificateError.invalidArgument("\(option) contains a control character")
            }
        }
    }
}

/// What `CertificateAuthority.create` makes.
public struct AuthorityOptions: Sendable {
    /// The CA's subject (default `CN=Rampart CA`).
    public var subject: SubjectName
    /// Validity in days (default 3650).
    public var days: Int
    /// The CA key's type (default EC P-256).
    public var keyType: KeyType
    /// Encrypts `ca.key` when set; the CA is then opened with the same password.
    public var keyPassword: TLSConfiguration.KeyPassword?
    /// Replace an existing CA (its key, certificate, database and CRL) instead of refusing.
    public var force: Bool

    /// Options; unset values are the defaults above.
    public init(
        subject: SubjectName = SubjectName(commonName: "Rampart CA"),
        days: Int = 3650,
        keyType: KeyType = .ecP256,
        keyPassword: TLSConfiguration.KeyPassword? = nil,
        force: Bool = false
    ) {
        self.subject = subject
        self.days = days
        self.keyType = keyType
        self.keyPassword = keyPassword
        self.force = force
    }
}

/// A certificate for `CertificateAuthority.issue` to sign.
public struct CertificateRequest: Sendable {
    /// The subject DN.
    public var subject: SubjectName
    /// The base name of the files (`<name>.crt`, `.key`, `.pem`); defaults to the CN, which must then
    /// be a safe file name.
    public var name: String?
    /// DNS names and IP addresses. A server certificate without any gets its CN.
    public var subjectAlternativeNames: [SubjectAlternativeName]
    /// serverAuth, clientAuth or both; at least one.
    public var usages: Set<ExtendedKeyUsage>
    /// Validity in days from `validFrom` (default 365); the certificate may not outlive the CA.
    public var days: Int
    /// Start of validity; nil means five minutes ago (tolerating clock skew). Set it in the past to
    /// make an already expired certificate for tests.
    public var validFrom: Date?
    /// The new key's type (default EC P-256).
    public var keyType: KeyType
    /// Encrypts `<name>.key` and the key in `<name>.pem` when set (`ssl.key.password`).
    public var keyPassword: TLSConfiguration.KeyPassword?
    /// Replace existing files of that name instead of refusing.
    public var force: Bool

    /// A request; unset values are the defaults above.
    public init(
        subject: SubjectName,
        name: String? = nil,
        subjectAlternativeNames: [SubjectAlternativeName] = [],
        usages: Set<ExtendedKeyUsage>,
        days: Int = 365,
        validFrom: Date? = nil,
        keyType: KeyType = .ecP256,
        keyPassword: TLSConfiguration.KeyPassword? = nil,
        force: Bool = false
    ) {
        self.subject = subject
        self.name = name
        self.subjectAlternativeNames = subjectAlternativeNames
        self.usages = usages
        self.days = days
        self.validFrom = validFrom
        self.keyType = keyType
        self.keyPassword = keyPassword
        self.force = force
    }
}

/// One certificate in the CA database (`index.json`).
public struct CertificateRecord: Sendable, Equatable, Codable {
    /// Lifecycle state at a given time.
    public enum Status: String, Sendable, Equatable {
        /// Within its validity period and not revoked.
        case valid
        /// Revoked (whatever its dates).
        case revoked
        /// Past `notAfter`.
        case expired
        /// Before `notBefore`.
        case notYetValid = "not-yet-valid"
    }

    /// Serial number, upper-case hex (as `openssl x509 -serial` prints it, without `serial=`).
    public var serial: String
    /// The files' base name.
    public var name: String
    /// Subject DN, RFC 2253.
    public var subject: String
    /// The subjectAltName entries.
    public var subjectAlternativeNames: [SubjectAlternativeName]
    /// The extendedKeyUsage purposes.
    public var usages: [ExtendedKeyUsage]
    /// Start of validity.
    public var notBefore: Date
    /// End of validity.
    public var notAfter: Date
    /// When it was revoked, or nil.
    public var revokedAt: Date?
    /// Why it was revoked, when it was.
    public var revocationReason: RevocationReason?

    /// The state at `date`.
    public func status(at date: Date = Date()) -> Status {
        if revokedAt != nil { return .revoked }
        if date > notAfter { return .expired }
        if date < notBefore { return .notYetValid }
        return .valid
    }
}

/// The result of `CertificateAuthority.issue`: the database record and the files written.
public struct IssuedCertificate: Sendable {
    /// The new database entry.
    public var record: CertificateRecord
    /// `<name>.crt`: the certificate followed by the CA certificate (mode 0644).
    public var certificatePath: String
    /// `<name>.key`: the private key, PKCS#8 PEM (mode 0600).
    public var keyPath: String
    /// `<name>.pem`: key, certificate, CA certificate; what `ssl.keystore.location` takes (mode 0600).
    public var bundlePath: String
}
