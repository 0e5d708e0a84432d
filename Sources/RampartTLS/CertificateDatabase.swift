#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The CA database, `index.json` in the CA directory: every certificate the CA issued and its
/// revocation, and the number of the next CRL. Rewritten whole (temporary file + rename) under the
/// directory lock, so a reader sees the old or the new version, never a mix.
///
/// Format (JSON, dates ISO 8601 UTC):
/// ```
/// { "format": 1, "authority": "CN=Rampart CA", "authoritySerial": "5A…", "nextCRLNumber": 3,
///   "certificates": [ { "serial": "1F…", "name": "alice", "subject": "CN=alice",
///     "subjectAlternativeNames": [], "usages": ["clientAuth"], "notBefore": "2026-…Z",
///     "notAfter": "2027-…Z", "revokedAt": "2026-…Z", "revocationReason": "keyCompromise" } ] }
/// ```
struct CertificateDatabase: Codable, Equatable {
    static let currentFormat = 1

    var format: Int = currentFormat
    /// The CA's subject and serial: a database left over from another CA is refused.
    var authority: String
    var authoritySerial: String
    var nextCRLNumber: Int = 1
    var certificates: [CertificateRecord] = []

    init(authority: String, authoritySerial: String) {
        self.authority = authority
        self.authoritySerial = authoritySerial
    }

    static func load(_ path: String) throws -> CertificateDatabase {
        let bytes = try SecureFile.read(path)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let database: CertificateDatabase
        do {
            database = try decoder.decode(CertificateDatabase.self, from: Data(bytes))
        } catch {
            throw CertificateError(kind: .invalidFile, message: "CA database \(path) is not valid: \(error)")
        }
        guard database.format == currentFormat else {
            throw CertificateError(kind: .invalidFile, message: "CA database \(path) has format \(database.format); this build reads \(currentFormat)")
        }
        return database
    }

    func save(_ path: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(self)
        try SecureFile.write(Array(data) + [UInt8(ascii: "\n")], to: path, mode: SecureFile.publicMode, replace: true)
    }

    /// The index of the record with `serial` (normalised), or nil.
    func index(ofSerial serial: String) -> Int? {
        certificates.firstIndex { $0.serial == serial }
    }
}

/// Serial numbers as users type them (`0x1f`, `1F:2A`, `01f2a`) reduced to the form OpenSSL prints
/// (upper-case hex, whole bytes, no leading zero byte). Nil if not hex.
func normalizedSerial(_ text: String) -> String? {
    var digits = Substring(text).drop { $0 == " " }
    while digits.last == " " { digits = digits.dropLast() }
    if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
    let hex = digits.filter { $0 != ":" }.uppercased()
    guard !hex.isEmpty, hex.allSatisfy({ $0.isHexDigit && $0.isASCII }) else { return nil }
    let significant = String(hex.drop { $0 == "0" })
    if significant.isEmpty { return "00" }
    return significant.count % 2 == 0 ? significant : "0" + significant
}
