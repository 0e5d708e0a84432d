/// An error from the certificate tooling (`CertificateAuthority`, `CertificateInfo`,
/// `RevocationList`, `CertificateVerifier`): what went wrong, a message naming the file, option or
/// serial involved, and whatever OpenSSL queued. Never carries a password.
public struct CertificateError: OpenSSLReportingError {
    /// The category of a `CertificateError`, comparable across instances.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case invalidArgument, noAuthority, fileExists, unknownSerial, alreadyRevoked
            case fileError, invalidFile, verificationFailed, internalFailure
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A request value is invalid (bad SAN, days <= 0, unsafe name…).
        public static let invalidArgument = Kind(.invalidArgument)
        /// The directory holds no CA (no `ca.crt`/`ca.key`), or its database is missing.
        public static let noAuthority = Kind(.noAuthority)
        /// A file would be overwritten and `force` was not given.
        public static let fileExists = Kind(.fileExists)
        /// No certificate with that serial was issued by this CA.
        public static let unknownSerial = Kind(.unknownSerial)
        /// The certificate is already revoked.
        public static let alreadyRevoked = Kind(.alreadyRevoked)
        /// A file or directory could not be read, written or locked.
        public static let fileError = Kind(.fileError)
        /// A file exists but does not hold what it should (not PEM, wrong password, foreign CA…).
        public static let invalidFile = Kind(.invalidFile)
        /// A certificate did not verify (`CertificateVerifier`).
        public static let verificationFailed = Kind(.verificationFailed)
        /// OpenSSL could not allocate, generate or sign.
        public static let internalFailure = Kind(.internalFailure)

        /// A short name of the kind.
        public var description: String { "\(base)" }
    }

    /// The category of the failure.
    public let kind: Kind
    /// What went wrong, naming the file, option or serial.
    public let message: String
    /// OpenSSL's queued errors, oldest first.
    public let openSSLErrors: [String]

    /// Creates an error.
    public init(kind: Kind, message: String, openSSLErrors: [String] = []) {
        self.kind = kind
        self.message = message
        self.openSSLErrors = openSSLErrors
    }

    static func invalidArgument(_ message: String) -> CertificateError {
        CertificateError(kind: .invalidArgument, message: message)
    }
}
