#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One entry of a certificate's subjectAltName: a DNS name or an IP address, the names a client's
/// host name verification matches (`localhost`, `127.0.0.1`). Written `DNS:name` / `IP:address`.
public enum SubjectAlternativeName: Sendable, Hashable, CustomStringConvertible, Codable {
    /// A DNS name, lower-cased; a leading `*.` label is a wildcard.
    case dns(String)
    /// An IPv4 or IPv6 address in canonical text form (`127.0.0.1`, `::1`).
    case ipAddress(String)

    /// Parses `localhost`, `DNS:broker.example.com`, `*.example.com`, `127.0.0.1`, `IP:::1` or `[::1]`.
    /// An IP literal without prefix is an address. Anything else — empty labels, characters outside
    /// letters, digits and `-`, a numeric top-level label, commas — is refused with a message naming it.
    public init(parsing text: String) throws {
        if text.hasPrefix("DNS:") || text.hasPrefix("dns:") {
            self = .dns(try Self.validatedDNSName(String(text.dropFirst(4)), original: text))
        } else if text.hasPrefix("IP:") || text.hasPrefix("ip:") {
            guard let address = Self.canonicalIPAddress(String(text.dropFirst(3))) else {
                throw CertificateError.invalidArgument("bad SAN '\(text)': not an IPv4 or IPv6 address")
            }
            self = .ipAddress(address)
        } else if let address = Self.canonicalIPAddress(text) {
            self = .ipAddress(address)
        } else {
            self = .dns(try Self.validatedDNSName(text, original: text))
        }
    }

    /// `DNS:name` or `IP:address`.
    public var description: String {
        switch self {
        case .dns(let name): "DNS:\(name)"
        case .ipAddress(let address): "IP:\(address)"
        }
    }

    /// Decodes the `description` form.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard text.hasPrefix("DNS:") || text.hasPrefix("IP:") else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad SAN \(text)"))
        }
        self = try SubjectAlternativeName(parsing: text)
    }

    /// Encodes the `description` form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// The canonical text of an IPv4 or IPv6 literal (brackets allowed around IPv6), or nil.
    static func canonicalIPAddress(_ text: String) -> String? {
        var literal = text
        if literal.hasPrefix("[") && literal.hasSuffix("]") { literal = String(literal.dropFirst().dropLast()) }
        var v4 = in_addr()
        if inet_pton(AF_INET, literal, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { formatIPAddress(Array($0)) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, literal, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { formatIPAddress(Array($0)) }
        }
        return nil
    }

    /// The text form of a 4- or 16-byte address, or nil for other lengths.
    static func formatIPAddress(_ bytes: [UInt8]) -> String? {
        let family: Int32
        switch bytes.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let ok = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
        }
        return ok ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
    }

    private static func validatedDNSName(_ name: String, original: String) throws -> String {
        func bad(_ reason: String) -> CertificateError {
            CertificateError.invalidArgument("bad SAN '\(original)': \(reason)")
        }
        let lower = name.lowercased()
        guard !lower.isEmpty else { throw bad("empty DNS name") }
        guard lower.utf8.count <= 253 else { throw bad("a DNS name is at most 253 characters") }
        let labels = lower.split(separator: ".", omittingEmptySubsequences: false)
        for (index, label) in labels.enumerated() {
            if label == "*" {
                guard index == 0, labels.count >= 3 else {
                    throw bad("a wildcard must be the whole first label of a name with at least two more labels")
                }
                continue
            }
            guard !label.isEmpty else { throw bad("empty label") }
            guard label.utf8.count <= 63 else { throw bad("label '\(label)' is longer than 63 characters") }
            guard label.utf8.allSatisfy({ isLetterOrDigit($0) || $0 == UInt8(ascii: "-") }) else {
                throw bad("only letters, digits, '-' and '.' are allowed in a DNS name")
            }
            guard label.first != "-", label.last != "-" else { throw bad("label '\(label)' starts or ends with '-'") }
        }
        if let last = labels.last, last.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            throw bad("not an IP address, and a DNS name cannot end in a numeric label")
        }
        return lower
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }
}
