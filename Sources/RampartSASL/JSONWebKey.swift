internal import COpenSSL
import FoundationEssentials

/// A JWS signature algorithm Rampart accepts for OAUTHBEARER tokens (RFC 7518 §3). `none` and the
/// HMAC algorithms are never accepted: a token must be signed with a private key whose public half
/// the operator put in the JWKS file.
public enum JWSAlgorithm: String, Sendable, Hashable, CaseIterable {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    case rs256 = "RS256"
    /// ECDSA on P-256 with SHA-256.
    case es256 = "ES256"
}

/// A public key from a JSON Web Key Set (RFC 7517): RSA (`n`, `e`, at least 2048 bits) or EC P-256
/// (`x`, `y`), with its optional key id and the algorithm it serves.
public struct JSONWebKey: Sendable {
    /// `kid`, matched against the token header's `kid`.
    public let keyID: String?
    /// The algorithm this key verifies (from `alg`, else from its type).
    public let algorithm: JWSAlgorithm
    let key: PublicKey
}

/// A set of verification keys (a JWKS document: `{"keys": [...]}`). Keys other than RSA and EC P-256
/// signature keys (`use` other than `sig`, `kty` oct, other curves) are skipped; a key that claims to
/// be RSA or EC P-256 but is malformed is an error, so a typo does not silently disable a key.
public struct JSONWebKeySet: Sendable {
    /// The usable keys, in file order.
    public let keys: [JSONWebKey]
    /// How many entries were skipped as unusable for token verification.
    public let skipped: Int

    /// Parses a JWKS document; the error names the entry and what is wrong with it.
    public init(json: [UInt8]) throws(OAuthBearerConfigurationError) {
        let document: JSONValue
        do {
            document = try JSONDecoder().decode(JSONValue.self, from: Data(json))
        } catch {
            throw OAuthBearerConfigurationError("not JSON: \(error)")
        }
        guard case .array(let entries)? = document["keys"] else {
            throw OAuthBearerConfigurationError("no \"keys\" array")
        }
        var keys: [JSONWebKey] = []
        var skipped = 0
        for (index, entry) in entries.enumerated() {
            let name = entry["kid"]?.string.map { "key \"\($0)\"" } ?? "key #\(index + 1)"
            guard case .object = entry, let type = entry["kty"]?.string else {
                throw OAuthBearerConfigurationError("\(name): no \"kty\"")
            }
            if let use = entry["use"]?.string, use != "sig" {
                skipped += 1
                continue
            }
            let declared = entry["alg"]?.string
            switch type {
            case "RSA":
                guard declared == nil || declared == JWSAlgorithm.rs256.rawValue else { skipped += 1; continue }
                guard let modulus = entry["n"]?.string.flatMap(Base64URL.decode), let exponent = entry["e"]?.string.flatMap(Base64URL.decode),
                      !modulus.isEmpty, !exponent.isEmpty else {
                    throw OAuthBearerConfigurationError("\(name): RSA key without valid base64url \"n\" and \"e\"")
                }
                let key = try PublicKey(der: DER.rsaPublicKeyInfo(modulus: modulus, exponent: exponent), name: name)
                guard key.bits >= 2048 else {
                    throw OAuthBearerConfigurationError("\(name): RSA key of \(key.bits) bits; at least 2048 are required")
                }
                keys.append(JSONWebKey(keyID: entry["kid"]?.string, algorithm: .rs256, key: key))
            case "EC":
                guard entry["crv"]?.string == "P-256", declared == nil || declared == JWSAlgorithm.es256.rawValue else {
                    skipped += 1
                    continue
                }
                guard let x = entry["x"]?.string.flatMap(Base64URL.decode), let y = entry["y"]?.string.flatMap(Base64URL.decode),
                      x.count == 32, y.count == 32 else {
                    throw OAuthBearerConfigurationError("\(name): EC P-256 key without 32-byte base64url \"x\" and \"y\"")
                }
                let key = try PublicKey(der: DER.p256PublicKeyInfo(point: [0x04] + x + y), name: name)
                keys.append(JSONWebKey(keyID: entry["kid"]?.string, algorithm: .es256, key: key))
            default:
                skipped += 1
            }
        }
        self.keys = keys
        self.skipped = skipped
    }

    /// The keys that may have signed a token with header `algorithm` and `keyID`: with a key id, the
    /// key of that id (if its algorithm matches); without one, every key of the algorithm.
    func candidates(algorithm: JWSAlgorithm, keyID: String?) -> [JSONWebKey] {
        keys.filter { $0.algorithm == algorithm && (keyID == nil || $0.keyID == keyID) }
    }
}

/// An OpenSSL public key (`EVP_PKEY`), freed with this object.
final class PublicKey: @unchecked Sendable {
    // Immutable after init; OpenSSL allows concurrent verification with one EVP_PKEY.
    private let pkey: OpaquePointer

    /// Decodes a DER SubjectPublicKeyInfo.
    init(der: [UInt8], name: String) throws(OAuthBearerConfigurationError) {
        var decoded: OpaquePointer?
        der.withUnsafeBufferPointer { buffer in
            var pointer = buffer.baseAddress
            decoded = d2i_PUBKEY(nil, &pointer, buffer.count)
        }
        guard let decoded else {
            ERR_clear_error()
            throw OAuthBearerConfigurationError("\(name): OpenSSL refuses the public key (not a valid point or modulus)")
        }
        self.pkey = decoded
    }

    deinit { EVP_PKEY_free(pkey) }

    var bits: Int { Int(EVP_PKEY_get_bits(pkey)) }

    /// Whether `signature` (DER for ECDSA, raw for RSA) signs `message` with SHA-256 under this key.
    func verifySHA256(message: [UInt8], signature: [UInt8]) -> Bool {
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, EVP_sha256(), nil, pkey) == 1 else {
            ERR_clear_error()
            return false
        }
        let result = signature.withUnsafeBufferPointer { sig in
            message.withUnsafeBufferPointer { msg in
                EVP_DigestVerify(context, sig.baseAddress, sig.count, msg.baseAddress, msg.count)
            }
        }
        ERR_clear_error()
        return result == 1
    }
}

/// Just enough DER (X.690) to describe public keys and ECDSA signatures to OpenSSL.
enum DER {
    static func length(_ count: Int) -> [UInt8] {
        if count < 0x80 { return [UInt8(count)] }
        var bytes: [UInt8] = []
        var remaining = count
        while remaining > 0 {
            bytes.insert(UInt8(remaining & 0xFF), at: 0)
            remaining >>= 8
        }
        return [0x80 | UInt8(bytes.count)] + bytes
    }

    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] { [tag] + length(content.count) + content }
    static func sequence(_ parts: [UInt8]...) -> [UInt8] { tlv(0x30, parts.flatMap { $0 }) }
    static func bitString(_ bytes: [UInt8]) -> [UInt8] { tlv(0x03, [0] + bytes) }

    /// A non-negative INTEGER from big-endian magnitude bytes.
    static func unsignedInteger(_ magnitude: [UInt8]) -> [UInt8] {
        var bytes = Array(magnitude.drop { $0 == 0 })
        if bytes.isEmpty { bytes = [0] }
        if bytes[0] & 0x80 != 0 { bytes.insert(0, at: 0) }
        return tlv(0x02, bytes)
    }

    static let rsaEncryption: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]
    static let ecPublicKey: [UInt8] = [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
    static let prime256v1: [UInt8] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
    static let null: [UInt8] = [0x05, 0x00]

    static func rsaPublicKeyInfo(modulus: [UInt8], exponent: [UInt8]) -> [UInt8] {
        sequence(sequence(rsaEncryption, null), bitString(sequence(unsignedInteger(modulus), unsignedInteger(exponent))))
    }

    static func p256PublicKeyInfo(point: [UInt8]) -> [UInt8] {
        sequence(sequence(ecPublicKey, prime256v1), bitString(point))
    }

    /// JWS's ECDSA signature (r ‖ s, 32 bytes each for P-256) as the DER `ECDSA-Sig-Value` OpenSSL verifies.
    static func ecdsaSignature(raw: [UInt8]) -> [UInt8]? {
        guard raw.count == 64 else { return nil }
        return sequence(unsignedInteger(Array(raw[0..<32])), unsignedInteger(Array(raw[32..<64])))
    }
}

/// base64url without padding (RFC 7515 §2), strictly: padding or the `+` `/` alphabet is refused.
enum Base64URL {
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var standard = ""
        standard.reserveCapacity(text.utf8.count + 3)
        for character in text.unicodeScalars {
            switch character {
            case "-": standard.append("+")
            case "_": standard.append("/")
            case "+", "/", "=": return nil
            default: standard.unicodeScalars.append(character)
            }
        }
        if standard.utf8.count % 4 == 1 { return nil }
        while standard.utf8.count % 4 != 0 { standard.append("=") }
        return Base64.decode(standard)
    }

    static func encode(_ bytes: [UInt8]) -> String {
        var text = ""
        for character in Base64.encode(bytes) {
            switch character {
            case "+": text.append("-")
            case "/": text.append("_")
            case "=": break
            default: text.append(character)
            }
        }
        return text
    }
}

/// A JSON value, for JWT headers and claims and JWKS documents whose members vary in type.
enum JSONValue: Decodable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }
}

/// A configuration problem with OAUTHBEARER (the JWKS file), naming what is wrong.
public struct OAuthBearerConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
