internal import COpenSSL

/// An error from the TLS layer: what went wrong, a message naming the file or peer involved, and the
/// reason strings OpenSSL queued (e.g. `error:0A000086:SSL routines::certificate verify failed`).
public struct TLSError: OpenSSLReportingError {
    /// The category of a `TLSError`, comparable across instances.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case invalidConfiguration, fileNotReadable, invalidFile, keyMismatch, certificateNotValid, handshakeFailed
            case handshakeTimeout, protocolFailure, internalFailure
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A configuration value is invalid (e.g. no enabled protocol, unknown cipher suite).
        public static let invalidConfiguration = Kind(.invalidConfiguration)
        /// A certificate, key or trust-store file is missing or unreadable.
        public static let fileNotReadable = Kind(.fileNotReadable)
        /// A file exists but does not hold what it should (not PEM, wrong password, no key).
        public static let invalidFile = Kind(.invalidFile)
        /// The private key does not belong to the certificate.
        public static let keyMismatch = Kind(.keyMismatch)
        /// The certificate is expired or not valid yet, or a CRL is past its nextUpdate.
        public static let certificateNotValid = Kind(.certificateNotValid)
        /// The TLS handshake failed (bad certificate, no shared protocol, not TLS at all…).
        public static let handshakeFailed = Kind(.handshakeFailed)
        /// The peer did not complete the handshake in time.
        public static let handshakeTimeout = Kind(.handshakeTimeout)
        /// An established TLS session broke (corrupt record, bad MAC…).
        public static let protocolFailure = Kind(.protocolFailure)
        /// OpenSSL could not allocate or set up an object.
        public static let internalFailure = Kind(.internalFailure)

        /// A short name of the kind.
        public var description: String { "\(base)" }
    }

    /// The category of the failure.
    public let kind: Kind
    /// What went wrong, naming the file or operation.
    public let message: String
    /// OpenSSL's queued errors, oldest first, as printed by `ERR_error_string_n`.
    public let openSSLErrors: [String]

    /// Creates an error; `openSSLErrors` is usually what `fromQueue` drains.
    public init(kind: Kind, message: String, openSSLErrors: [String] = []) {
        self.kind = kind
        self.message = message
        self.openSSLErrors = openSSLErrors
    }
}

/// An error carrying OpenSSL's queued reasons next to its own message (`TLSError`,
/// `CertificateError`): one description format and one way of draining the queue for both.
public protocol OpenSSLReportingError: Error, CustomStringConvertible, Sendable {
    /// The error's category.
    associatedtype Kind: Hashable & Sendable
    /// What went wrong, naming the file, option or operation.
    var message: String { get }
    /// OpenSSL's queued errors, oldest first, as printed by `ERR_error_string_n`.
    var openSSLErrors: [String] { get }
    /// Creates an error.
    init(kind: Kind, message: String, openSSLErrors: [String])
}

extension OpenSSLReportingError {
    /// The message followed by OpenSSL's reasons.
    public var description: String {
        openSSLErrors.isEmpty ? message : "\(message) (\(openSSLErrors.joined(separator: "; ")))"
    }

    /// An error carrying whatever OpenSSL queued on this thread, leaving the queue empty.
    static func fromQueue(_ kind: Kind, _ message: String) -> Self {
        Self(kind: kind, message: message, openSSLErrors: drainOpenSSLErrors())
    }
}

/// Empties this thread's OpenSSL error queue, returning its entries oldest first.
func drainOpenSSLErrors() -> [String] {
    var errors: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        errors.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return errors
}
